"""mcp-http-monitor: an MCP server that answers "is my site up, how fast, and if not, why?"."""

from __future__ import annotations

__version__ = "0.1.0"
