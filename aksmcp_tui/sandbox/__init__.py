"""Local cluster that serves the Kubernetes REST API; pods are local processes.

Imports nothing from aksmcp_tui.core (and core imports nothing from here).
"""
