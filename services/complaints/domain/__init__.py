"""Complaints and compliments: the rules (issue 6; seed 003). Pure: no I/O, no clock.

- :mod:`.derivation`: the whole-complaint category from the issues' outcomes;
- :mod:`.state`: the customer's complaints and compliments;
- :mod:`.complaints` and :mod:`.compliments`: one rule per command, ``rule(state, command, now,
  facts)``; a refusal raises ``kit.spec.Refused``.

The table of rules is ``services.complaints.spec``.
"""

from services.complaints.domain.derivation import derive_category, level_2_complaint_id
from services.complaints.domain.state import CustomerComplaints

__all__ = ["CustomerComplaints", "derive_category", "level_2_complaint_id"]
