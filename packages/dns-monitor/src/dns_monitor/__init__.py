"""dns_monitor."""
