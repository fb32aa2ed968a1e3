"""Settings of the referrals service (environment prefix ``CASEMESH_REFERRALS_``)."""

from __future__ import annotations

from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, field_validator

from contracts.base import Code, Name
from contracts.catalogue.referrals import PERSONALISED_SERVICES_AREA, IssueClass
from kit.settings import ServiceSettings, service_config
from services.referrals.domain.intake import IssueKind

#: Seed 000 table 1 step 4: the Stream/Team CSO Workload Officer list the Service Manager picks from.
DEFAULT_PS_TEAMS: dict[str, tuple[str, ...]] = {
    "PS Team 1": ("EMP30101", "EMP30102", "EMP30103"),
    "PS Team 2": ("EMP30201", "EMP30202"),
}

#: Seed 001 table 1 step 5: the areas that retain ownership, in priority order; step 7: "where a
#: customer is managed by Personalised Services (PS), PS will always co-ordinate" — PS is first.
DEFAULT_OWNERSHIP_PRIORITY: tuple[str, ...] = (PERSONALISED_SERVICES_AREA,)

COMMON = IssueKind(issue_class=IssueClass.COMMON)

#: Seed 001 table 1 step 2: "Use the list of Common and specialised activities to determine the
#: issues to be managed or if referral to a specialist area is required." That list is not in the
#: seed; this default holds the issues the seed names, and is replaced by configuration.
DEFAULT_PRESENTING_ISSUES: dict[str, IssueKind] = {
    "CHANGE_OF_ASSESSMENT": IssueKind(
        issue_class=IssueClass.SPECIALISED, specialist_area="CHANGE_OF_ASSESSMENT"
    ),
    "PART_6A_OBJECTION": IssueKind(issue_class=IssueClass.SPECIALISED, specialist_area="OBJECTIONS"),
    "INCOME": COMMON,
    "PAYMENTS": COMMON,
    "DEBT": COMMON,
    "CHANGE_OF_DETAILS": COMMON,
    "GENERAL_ENQUIRY": COMMON,
}

#: Seed 001 table 1 step 2: options of the Customer Support/Referral Guide (not in the seed).
DEFAULT_EXTERNAL_REFERRAL_TYPES: tuple[str, ...] = (
    "FINANCIAL_COUNSELLING",
    "FAMILY_AND_DOMESTIC_VIOLENCE_SUPPORT",
    "LEGAL_ASSISTANCE",
    "MENTAL_HEALTH_SUPPORT",
    "SOCIAL_WORK",
    "RELATIONSHIP_SERVICES",
)


class ReferralsSettings(ServiceSettings):
    model_config = service_config("referrals")

    service_name: str = "referrals"
    ps_teams: dict[Name, tuple[Code, ...]] = Field(
        default_factory=lambda: dict(DEFAULT_PS_TEAMS),
        description=(
            "PS teams and their PS Service Officers, e.g. "
            'CASEMESH_REFERRALS_PS_TEAMS=\'{"PS Team 1": ["EMP30101", "EMP30102"]}\'.'
        ),
    )
    ownership_priority: tuple[Code, ...] = Field(
        DEFAULT_OWNERSHIP_PRIORITY,
        min_length=1,
        description="Areas that retain ownership, highest first; PERSONALISED_SERVICES must head it.",
    )
    area_teams: dict[Code, tuple[Name, ...]] = Field(
        default_factory=dict,
        description=(
            "Teams of each specialist area, to tell which area an officer speaks for when ownership "
            "moves by agreement and when an issue locked to the area is finalised (issue 20); the PS "
            "teams always belong to PERSONALISED_SERVICES."
        ),
    )
    approval_due_days: int = Field(
        5, gt=0, le=90, description="Days the Service Manager has for a PS approval before it is escalated."
    )
    presenting_issues: dict[Code, IssueKind] = Field(
        default_factory=lambda: dict(DEFAULT_PRESENTING_ISSUES),
        min_length=1,
        description=(
            "The presenting-issue catalogue: code → COMMON, or SPECIALISED with its specialist area, e.g. "
            'CASEMESH_REFERRALS_PRESENTING_ISSUES=\'{"INCOME": {"issue_class": "COMMON"}, '
            '"PART_6A_OBJECTION": {"issue_class": "SPECIALISED", "specialist_area": "OBJECTIONS"}}\'.'
        ),
    )
    external_referral_types: tuple[Code, ...] = Field(
        DEFAULT_EXTERNAL_REFERRAL_TYPES,
        description="Options of the Customer Support/Referral Guide an external referral may have.",
    )
    agency_timezone: str = Field(
        "Australia/Sydney",
        description="IANA zone of the agency's calendar (a payment arrangement may not start before today).",
    )

    @field_validator("ownership_priority")
    @classmethod
    def _ps_first(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if value[0] != PERSONALISED_SERVICES_AREA:
            raise ValueError(f"{PERSONALISED_SERVICES_AREA} must head the ownership priority list")
        if len(set(value)) != len(value):
            raise ValueError("an area is listed twice")
        return value

    @field_validator("agency_timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r}") from exc
        return value

    @field_validator("ps_teams")
    @classmethod
    def _officers_once(cls, value: dict[str, tuple[str, ...]]) -> dict[str, tuple[str, ...]]:
        officers = [o for team in value.values() for o in team]
        if len(set(officers)) != len(officers):
            raise ValueError("an officer is listed in two PS teams (or twice in one)")
        return value

    def teams_of_area(self) -> dict[str, frozenset[str]]:
        teams = {area: frozenset(names) for area, names in self.area_teams.items()}
        ps = teams.get(PERSONALISED_SERVICES_AREA, frozenset())
        teams[PERSONALISED_SERVICES_AREA] = ps | frozenset(self.ps_teams)
        return teams
