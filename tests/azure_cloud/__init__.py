"""Azure tests (issue 14). Not named tests/azure: pytest puts tests/ on sys.path, and a package named
`azure` there would shadow the Azure SDK's `azure` namespace package for the whole test session."""
