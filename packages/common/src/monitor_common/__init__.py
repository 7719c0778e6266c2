"""What the three MCP monitoring servers share: settings, targets, the network policy, fan-out,
the result envelope and the command line. No MCP tools of its own.

Modules are imported where used (`from monitor_common.netpolicy import NetworkPolicy`), so that a
server's start-up only pays for what it touches.
"""

from __future__ import annotations

__version__ = "0.1.0"
