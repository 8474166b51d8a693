"""aksmcp-server: the MCP server runtime that runs in the pod."""

__version__ = "0.1.0"
