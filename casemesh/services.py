"""The six services by name: their settings and how to make each one's runtime.

``casemesh run NAME`` and the demo's mesh host both start services from here, so a service runs
the same way in a container, on a host and inside the demo.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from importlib import import_module
from typing import Any, cast

from kit.processing import Clock
from kit.runtime import ServiceRuntime, utc_now
from kit.settings import ServiceSettings


@dataclass(frozen=True)
class ServiceEntry:
    name: str
    settings_class: str

    def settings_type(self) -> type[ServiceSettings]:
        module = import_module(f"services.{self.name}.settings")
        return cast(type[ServiceSettings], getattr(module, self.settings_class))

    def settings(self, **overrides: Any) -> ServiceSettings:
        """Settings from the environment (``CASEMESH_<NAME>_…``), then ``overrides``."""
        return self.settings_type()(**overrides)

    def runtime(self, settings: ServiceSettings | None = None, clock: Clock = utc_now) -> ServiceRuntime:
        module = import_module(f"services.{self.name}.app")
        create = cast(Callable[[ServiceSettings | None, Clock], ServiceRuntime], module.create_runtime)
        return create(settings, clock)


SERVICES: dict[str, ServiceEntry] = {
    entry.name: entry
    for entry in (
        ServiceEntry("referrals", "ReferralsSettings"),
        ServiceEntry("approvals", "ApprovalsSettings"),
        ServiceEntry("notifications", "NotificationsSettings"),
        ServiceEntry("complaints", "ComplaintsSettings"),
        ServiceEntry("contacts", "ContactsSettings"),
        ServiceEntry("casework", "CaseworkSettings"),
    )
}
