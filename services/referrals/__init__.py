"""The referrals service: Personalised Services (seed 000), ownership and locking (seed 001), issue 4;
the Customer Management Approach intake (seed 001 tables 1-3), issue 9."""
