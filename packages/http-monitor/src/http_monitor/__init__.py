"""mcp-http-monitor: an MCP server that answers "is my site up, how fast, and if not, why?".

`server` declares the tools; each calls one engine, a plain async function usable without MCP:
`probe.http_check`, `bulk.http_check_many`, `timing.http_timing`, `backends.http_check_each_ip`,
`redirects.http_redirects`, `headers.http_security_headers`, `tcp.tcp_check`. They share
`exchange` (one URL fetched hop by hop), `session` (fresh or pooled connections), `assertions`,
`tls` and `models`.
"""

from __future__ import annotations

__version__ = "0.1.0"
