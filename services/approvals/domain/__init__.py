"""Approvals: the rules (issue 4; seed 000 tables 3, 5 and 6). Pure: no I/O, no clock reads.

Seed 000 tables 3, 5 and 6 are the Service Manager's approvals of a PS referral's CMP, monitoring
and transfer; issue 4 adds segregation of duties, due times that escalate to a Team Leader, and
the rule that a decision on something already decided, withdrawn or closed changes nothing.

- :mod:`.state`: the customer's requests, closed subjects and audit trail;
- :mod:`.requests`, :mod:`.decisions` and :mod:`.due_times`: one rule per command,
  ``rule(state, command, now, facts)``; a refusal raises ``kit.spec.Refused`` (a
  ``Refused(..., state=...)`` when it still changes the state).

The table of rules is ``services.approvals.spec``.
"""

from services.approvals.domain.state import CustomerApprovals, PendingRequest, RequestStatus

__all__ = ["CustomerApprovals", "PendingRequest", "RequestStatus"]
