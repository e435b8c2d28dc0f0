"""Devices in the brand console menu (filled in with the dashboard pages)."""
