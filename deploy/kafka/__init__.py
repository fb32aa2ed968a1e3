"""Kafka security shared by ``deploy/local`` and the compose jobs: principals, ACLs, TLS."""
