"""monitor_common."""
