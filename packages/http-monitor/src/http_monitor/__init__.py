"""http_monitor."""
