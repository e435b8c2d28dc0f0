"""Guide–shopper messaging: conversations, messages, auto-reply, canned replies, mass messages,
push and outbound notices (docs/messaging.md)."""
