"""contacts service: meetings and minutes, notes with history, attachments, the communications
log and MSP incidents (issue 7). See docs/services/contacts.md."""
