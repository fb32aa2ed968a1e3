"""Settings of the complaints service (environment prefix ``CASEMESH_COMPLAINTS_``)."""

from __future__ import annotations

from pydantic import Field, field_validator

from contracts.base import Code
from kit.settings import ServiceSettings, service_config

#: Issue 6: "selected from a configurable list (for example apology, explanation, decision
#: reviewed, action expedited, financial remedy)".
DEFAULT_REMEDIES: tuple[str, ...] = (
    "APOLOGY",
    "EXPLANATION",
    "DECISION_REVIEWED",
    "ACTION_EXPEDITED",
    "FINANCIAL_REMEDY",
)


class ComplaintsSettings(ServiceSettings):
    model_config = service_config("complaints")

    service_name: str = "complaints"
    remedies: tuple[Code, ...] = Field(
        DEFAULT_REMEDIES,
        min_length=1,
        description=(
            "Remedy codes a complaint may record (seed 003 table 2 step 3), e.g. "
            'CASEMESH_COMPLAINTS_REMEDIES=\'["APOLOGY","EXPLANATION"]\'.'
        ),
    )

    @field_validator("remedies")
    @classmethod
    def _no_repeats(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if len(set(value)) != len(value):
            raise ValueError("a remedy code is listed twice")
        return value
