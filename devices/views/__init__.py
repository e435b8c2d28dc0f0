"""The devices app's HTML pages: the brand console (dashboard.py)."""
