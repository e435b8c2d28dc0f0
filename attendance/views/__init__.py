"""Pages of face attendance: the staff's phone pages (mobile.py) and the console (console.py)."""
