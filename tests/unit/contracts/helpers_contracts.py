"""Shared helpers for the contracts tests (plain functions, no fixtures needed)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any, TypeVar

from contracts.base import Actor, Message, Role
from contracts.export import example_payload

M = TypeVar("M", bound=Message)

NOW = datetime(2025, 3, 12, 9, 30, tzinfo=UTC)
CSID = "123456789"


def an_actor(role: Role = Role.CSO) -> Actor:
    return Actor(
        officer_id="EMP10442",
        role=role,
        first_name="Priya",
        site="Hobart",
        team="PS Team 3",
        extension="4471",
    )


def example(cls: type[M], **overrides: Any) -> M:
    """A valid instance of ``cls`` built from its field examples (JSON mode, as on the wire)."""
    payload = {**example_payload(cls), **overrides}
    return cls.model_validate_json(json.dumps(payload))
