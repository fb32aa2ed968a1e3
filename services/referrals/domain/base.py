"""What every module of the referrals domain shares: frozen state, and what a rule returns."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

from contracts.base import Message
from kit.timers import Deferred

Output = Message | Deferred


class Frozen(BaseModel):
    """State is never changed in place: a rule returns a ``model_copy`` with its changes."""

    model_config = ConfigDict(frozen=True, extra="ignore")
