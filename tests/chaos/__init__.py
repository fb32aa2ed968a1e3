"""The fault suite (issue 13 item 5): real ``casemesh run referrals`` processes against the local
Kafka and FerretDB, a fault per row, and a ledger that compares what the broker acknowledged, the
state in the store and the events on the topics. ``python -m tests.chaos`` runs it; see docs/chaos.md.
"""
