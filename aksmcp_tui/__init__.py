"""aksmcp: an MCP server from source to running on AKS, on one screen."""

__version__ = "0.1.0"
