"""How big each row is: the full suite (``make chaos``) and the bounded one the test command runs.

``CASEMESH_CHAOS_SIZE`` picks the profile (``quick`` or ``full``); ``CASEMESH_CHAOS_CUSTOMERS`` and
``CASEMESH_CHAOS_COMMANDS_PER_CUSTOMER`` override its two workload sizes.
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass, replace

#: The consumer's session timeout. FastStream passes aiokafka's default (10 s) and the kit has no
#: setting for it, so a replica SIGSTOPped longer than this is expelled from the group.
SESSION_TIMEOUT_S = 10.0


@dataclass(frozen=True)
class Sizes:
    name: str
    customers: int
    """Customers per row; each gets its own sequence of commands."""
    commands_per_customer: int
    """Commands per customer on each input topic the row writes (notes; plus registrations when
    the row writes the customers topic too)."""
    sigkill_repeats: int
    sigkill_interval_s: float
    broker_repeats: int
    """Broker stops per row; one row with SIGTERM and one with SIGKILL."""
    broker_gap_s: float
    """Load between two broker stops."""
    broker_down_s: float
    """How long the broker stays down before it is started again."""
    store_outage_s: float
    two_topics_load_s: float
    scale_steps: int
    scale_interval_s: float
    sigstop_repeats: int
    sigstop_beyond_session_s: float
    """How far past the session timeout a SIGSTOPped replica stays stopped."""
    sigterm_repeats: int
    sigterm_interval_s: float
    lead_in_s: float
    """Load before a row's first fault."""
    settle_s: float
    """Quiescence: nothing changed in the store or on the topics for this long, with no lag."""
    quiet_timeout_s: float
    """The longest a row waits for quiescence after its load and faults."""

    def describe(self) -> dict[str, object]:
        return asdict(self)


FULL = Sizes(
    name="full",
    customers=60,
    commands_per_customer=8,
    sigkill_repeats=10,
    sigkill_interval_s=4.0,
    broker_repeats=3,
    broker_gap_s=5.0,
    broker_down_s=3.0,
    store_outage_s=30.0,
    two_topics_load_s=30.0,
    scale_steps=6,
    scale_interval_s=10.0,
    sigstop_repeats=2,
    sigstop_beyond_session_s=5.0,
    sigterm_repeats=5,
    sigterm_interval_s=5.0,
    lead_in_s=4.0,
    settle_s=6.0,
    quiet_timeout_s=600.0,
)

QUICK = Sizes(
    name="quick",
    customers=24,
    commands_per_customer=4,
    sigkill_repeats=2,
    sigkill_interval_s=4.0,
    broker_repeats=1,
    broker_gap_s=3.0,
    broker_down_s=2.0,
    store_outage_s=10.0,
    two_topics_load_s=10.0,
    scale_steps=2,
    scale_interval_s=10.0,
    sigstop_repeats=1,
    sigstop_beyond_session_s=3.0,
    sigterm_repeats=2,
    sigterm_interval_s=4.0,
    lead_in_s=3.0,
    settle_s=5.0,
    quiet_timeout_s=120.0,
)

PROFILES = {"quick": QUICK, "full": FULL}


def from_env(default: str = "full", env: dict[str, str] | None = None) -> Sizes:
    """The profile ``CASEMESH_CHAOS_SIZE`` names (else ``default``), with the workload overrides."""
    values = dict(os.environ if env is None else env)
    name = values.get("CASEMESH_CHAOS_SIZE", default).strip().lower() or default
    if name not in PROFILES:
        raise ValueError(f"CASEMESH_CHAOS_SIZE must be one of {', '.join(PROFILES)}, not {name!r}")
    sizes = PROFILES[name]
    customers = values.get("CASEMESH_CHAOS_CUSTOMERS")
    per_customer = values.get("CASEMESH_CHAOS_COMMANDS_PER_CUSTOMER")
    return resized(
        sizes,
        customers=int(customers) if customers else None,
        commands_per_customer=int(per_customer) if per_customer else None,
    )


def resized(sizes: Sizes, *, customers: int | None = None, commands_per_customer: int | None = None) -> Sizes:
    if customers is not None and not 1 <= customers <= 99_999:
        raise ValueError("customers must be between 1 and 99999")
    if commands_per_customer is not None and not 1 <= commands_per_customer <= 400:
        raise ValueError(
            "commands per customer must be between 1 and 400 (an aggregate remembers 1,000 applied ids)"
        )
    return replace(
        sizes,
        customers=customers or sizes.customers,
        commands_per_customer=commands_per_customer or sizes.commands_per_customer,
    )
