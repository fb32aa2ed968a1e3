"""The complaints service: complaints and compliments (issue 6; seed 003)."""
