"""Referrals: the rules (seed 000: Personalised Services; seed 001: ownership and locking and the
Customer Management Approach intake; issues 4 and 9). Pure: no I/O, no clock reads.

One customer file per customer holds all three; each rule is ``rule(file, message, now, facts)``
returning ``(new_file, outputs)``, and refuses by raising ``kit.spec.Refused``:

- :mod:`.state`: the customer's file (frozen), the facts (:class:`Context`) and the audit history;
- PS (seed 000): :mod:`.assignment`, :mod:`.cmp`, :mod:`.stacking`, :mod:`.transfer_out`, the
  Service Manager's :mod:`.decisions`, and what the CSO's steps share (:mod:`.referral`);
- ownership and locking (seed 001): the rule on a customer's :mod:`.ownership`, and the commands'
  rules (:mod:`.locking`);
- the CMA intake (seed 001 tables 1-3): its state (:mod:`.intake`), and :mod:`.intray`,
  :mod:`.issues`, :mod:`.mca`, :mod:`.finalising`.

The table of rules is ``services.referrals.spec``.
"""

from services.referrals.domain.assignment import choose_officer
from services.referrals.domain.state import Context, CustomerFile, Stage

__all__ = ["Context", "CustomerFile", "Stage", "choose_officer"]
