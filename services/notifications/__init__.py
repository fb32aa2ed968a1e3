"""The notifications service: MSP contact, the send-time SMS guard, channels, templates (issue 5)."""
