"""The referrals service: Personalised Services (seed 000), ownership and locking (seed 001), issue 4."""
