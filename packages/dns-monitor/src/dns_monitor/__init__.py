"""mcp-dns-monitor: an MCP server that answers "does my DNS answer what it should, from where?"."""

from __future__ import annotations

__version__ = "0.1.0"
