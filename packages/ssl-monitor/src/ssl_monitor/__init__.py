"""ssl_monitor."""
