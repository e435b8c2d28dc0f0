"""Webhooks: partner apps' endpoints receive signed events from the outbox (see catalogue.py,
recording.py, engine.py and sender.py)."""
