"""mcp-ssl-monitor: an MCP server that answers "is my certificate valid, and when does it expire?"."""

from __future__ import annotations

__version__ = "0.1.0"
