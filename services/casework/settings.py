"""Settings of the casework service (environment prefix ``CASEMESH_CASEWORK_``)."""

from __future__ import annotations

from datetime import timedelta

from pydantic import Field, field_validator

from contracts.catalogue.casework import TaskKind
from kit.settings import ServiceSettings, service_config
from services.casework.domain.state import Policy
from services.casework.domain.table import DEFAULT_SLAS


class CaseworkSettings(ServiceSettings):
    model_config = service_config("casework")

    service_name: str = "casework"
    slas: dict[TaskKind, timedelta] = Field(
        default_factory=dict,
        description=(
            "SLA per task kind where the fact names no due time, over the defaults, e.g. "
            'CASEMESH_CASEWORK_SLAS=\'{"STAFF_FEEDBACK": "P7D", "INTRAY_ITEM": "PT36H"}\'.'
        ),
    )
    warning_fraction: float = Field(
        0.75, gt=0, lt=1, description="The SLA warning comes when this fraction of the time has passed."
    )
    work_list_limit: int = Field(500, gt=0, le=5000, description="Most tasks one work-list response lists.")
    task_count_interval_s: float = Field(
        30.0, gt=0, description="How often the task counts by state (a metric) are refreshed."
    )

    @field_validator("slas")
    @classmethod
    def _positive(cls, value: dict[TaskKind, timedelta]) -> dict[TaskKind, timedelta]:
        if any(sla <= timedelta(0) for sla in value.values()):
            raise ValueError("an SLA is a positive duration")
        return value

    def policy(self) -> Policy:
        return Policy(slas={**DEFAULT_SLAS, **self.slas}, warning_fraction=self.warning_fraction)
