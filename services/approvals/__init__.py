"""The approvals service: requests, decisions with segregation of duties, due-time escalation (issue 4)."""
