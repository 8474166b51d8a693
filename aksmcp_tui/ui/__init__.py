"""Textual user interface: renders events that aksmcp_tui.core produces."""
