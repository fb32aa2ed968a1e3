"""Notifications: the rules (issue 5; seed 002 steps 1-4; seed 004 "Comunicazioni"). Pure: no
I/O, no clock reads (``now`` is given); ids are derived (uuid5), so deciding again gives the same
ids.

The workflows call each other (the MSP letter releases the SMS that waited for it; a receipt
falls back to a letter; a retry meets the guard again), so they share one layer below them,
:mod:`.sending`, and the modules import only downwards:

- :mod:`.state`: the customer's state (frozen), the policy and the number index view (``Facts``);
- :mod:`.guard`: the SMS contact guard, one pure function (seed 002 step 2);
- :mod:`.customer`: the customer's facts (registration, contact details, risk flags, approvals)
  and the lookups the other rules make in them;
- :mod:`.rendering`: choosing and rendering templates;
- :mod:`.sending`: the moment of sending: a dispatch, or an SMS through the guard;
- :mod:`.msp`, :mod:`.requests`, :mod:`.deliveries`: the rules for the MSP contact workflow,
  for requests to send, and for receipts and retries; ``rule(state, message, now, facts)``,
  a refusal raises ``kit.spec.Refused``.

The table of rules is ``services.notifications.spec``.
"""

from services.notifications.domain.state import (
    DEFAULT_POLICY,
    NO_SHARED_NUMBERS,
    CustomerState,
    DeliveryState,
    Facts,
    NumberIndexView,
    Output,
    Policy,
)

__all__ = [
    "DEFAULT_POLICY",
    "NO_SHARED_NUMBERS",
    "CustomerState",
    "DeliveryState",
    "Facts",
    "NumberIndexView",
    "Output",
    "Policy",
]
