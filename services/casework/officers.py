"""What casework's API and pages share: the work lists, a customer's case and a task as officers
read them, and an officer's command published to casework's own commands topic.

Reads come from the ``work_items`` projection and the case-file aggregate. A command is never
applied here: it is enveloped (keyed by the task's CSID, or :data:`AGENCY_CSID` for leave cover)
and published with the officer's own token as its identity header, so the kit verifies the
officer, not the service; casework applies it like any command, and a refusal is its
``CaseworkCommandRejected`` event.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID, uuid4

from pydantic import AwareDatetime, BaseModel, ConfigDict, ValidationError

from contracts.base import Actor, Code, Command, LongText, Role, ShortText
from contracts.catalogue.casework import (
    AGENCY_CSID,
    AddTaskNote,
    AssigneeInput,
    ClaimTask,
    CompleteTask,
    PauseTask,
    ReassignTask,
    ReleaseTask,
    ResumeTask,
    TaskKind,
)
from contracts.envelope import IDENTITY_HEADER, Envelope
from contracts.topics import commands_topic
from kit.api import CSID_PATTERN, ApiError, uuid_value
from kit.runtime import ServiceRuntime
from services.casework.settings import CaseworkSettings
from services.casework.store import CaseworkStore, Document, aware

NAME_MAX = 100
PRODUCER = "casework"

# -- request bodies (the JSON API's and the pages' forms alike)


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class NoBody(Body):
    """Claim, resume: nothing beyond the task in the path."""


class ReleaseBody(Body):
    reason: ShortText | None = None


class CompleteBody(Body):
    outcome: Code


class ReassignBody(Body):
    to: AssigneeInput
    reason: ShortText


class NoteBody(Body):
    text: LongText


class PauseBody(Body):
    reason: ShortText


class LeaveCoverBody(Body):
    officer_id: Code
    cover_officer_id: Code
    starts_at: AwareDatetime
    ends_at: AwareDatetime
    reason: ShortText


class ReassignOpenWorkBody(Body):
    to: AssigneeInput
    reason: ShortText


Build = Callable[[UUID, Actor, Any], Command]

#: What an officer may do to a task: the body it takes and the command it makes.
TASK_ACTIONS: dict[str, tuple[type[Body], Build]] = {
    "claim": (NoBody, lambda t, a, b: ClaimTask(actor=a, task_id=t)),
    "release": (ReleaseBody, lambda t, a, b: ReleaseTask(actor=a, task_id=t, reason=b.reason)),
    "complete": (CompleteBody, lambda t, a, b: CompleteTask(actor=a, task_id=t, outcome=b.outcome)),
    "reassign": (ReassignBody, lambda t, a, b: ReassignTask(actor=a, task_id=t, to=b.to, reason=b.reason)),
    "notes": (NoteBody, lambda t, a, b: AddTaskNote(actor=a, task_id=t, note_id=uuid4(), text=b.text)),
    "pause": (PauseBody, lambda t, a, b: PauseTask(actor=a, task_id=t, reason=b.reason)),
    "resume": (NoBody, lambda t, a, b: ResumeTask(actor=a, task_id=t)),
}
#: Actions only a Team Leader (in the token, and acting as one) takes.
LEADER_ACTIONS = frozenset({"reassign"})


def as_leader(actor: Actor, roles: frozenset[Role]) -> None:
    """Reassignment and leave cover are a Team Leader's: the token grants it and the actor acts as it."""
    if Role.TEAM_LEADER not in roles or actor.role is not Role.TEAM_LEADER:
        raise ApiError("TEAM_LEADER_REQUIRED", "Only a Team Leader, acting as one, may do this.", 403)


def invalid(exc: ValidationError) -> ApiError:
    """A body that does not validate: the fields that failed, never the values sent."""
    fields = sorted({".".join(str(part) for part in e["loc"]) or "(body)" for e in exc.errors()})
    return ApiError("INVALID_BODY", "The request body does not validate.", 400, fields=fields)


# -- filters


@dataclass(frozen=True)
class Filters:
    kind: TaskKind | None = None
    csid: str | None = None
    overdue: bool = False

    @classmethod
    def of(cls, params: Any) -> Filters:
        kind = params.get("kind") or None
        if kind is not None and kind not in TaskKind.__members__:
            raise ApiError("INVALID_PARAMETER", "kind must be a task kind.")
        csid = params.get("csid") or None
        if csid is not None and not CSID_PATTERN.fullmatch(csid):
            raise ApiError("INVALID_PARAMETER", "csid must be 6-12 digits.")
        overdue = params.get("overdue") or "false"
        if overdue not in ("true", "false"):
            raise ApiError("INVALID_PARAMETER", "overdue must be true or false.")
        return cls(TaskKind(kind) if kind else None, csid, overdue == "true")

    def query(self, now: datetime) -> Document:
        query: Document = {}
        if self.kind is not None:
            query["kind"] = self.kind.value
        if self.csid is not None:
            query["csid"] = self.csid
        if self.overdue:
            query["due_at"] = {"$lt": now}
            query["paused"] = False
        return query


def name_of(raw: str, what: str) -> str:
    """An officer id or a team from the path: 1-100 printable characters."""
    if not 1 <= len(raw) <= NAME_MAX or not raw.isprintable():
        raise ApiError("INVALID_PARAMETER", f"{what} must be 1-{NAME_MAX} printable characters.")
    return raw


def role_of(raw: str) -> Role:
    if raw not in Role.__members__ or raw == Role.SYSTEM.value:
        raise ApiError("UNKNOWN_ROLE", "No such role.", 404)
    return Role(raw)


def is_overdue(doc: Document, now: datetime) -> bool:
    return not doc.get("paused") and aware(doc["due_at"]) < now


def item(doc: Document, now: datetime) -> dict[str, Any]:
    """One task of a work list."""
    due = aware(doc["due_at"])
    escalated = (
        {"team": doc.get("escalated_team"), "role": doc.get("escalated_role")}
        if doc.get("escalated_team") or doc.get("escalated_role")
        else None
    )
    return {
        "task_id": doc["_id"],
        "csid": doc["csid"],
        "kind": doc["kind"],
        "title": doc["title"],
        "status": doc["status"],
        "assignee": {"officer_id": doc.get("officer_id"), "team": doc.get("team"), "role": doc.get("role")},
        "claimed_by": doc.get("claimed_by"),
        "due_at": due.isoformat(),
        "overdue": is_overdue(doc, now),
        "warned": bool(doc.get("warned")),
        "breached": bool(doc.get("breached")),
        "escalated_to": escalated,
        "paused": bool(doc.get("paused")),
        "pause_reason": doc.get("pause_reason"),
    }


def _who(who: Any) -> dict[str, Any] | None:
    return None if who is None else {**who.model_dump(mode="json"), "words": who.words}


class Casework:
    """Casework's reads and sends, for one running service."""

    def __init__(self, store: CaseworkStore, runtime: ServiceRuntime, settings: CaseworkSettings) -> None:
        self.store = store
        self.runtime = runtime
        self.settings = settings
        self.limit = settings.work_list_limit

    def now(self) -> datetime:
        return aware(self.runtime.clock())

    # -- work lists

    async def officer_list(self, officer_id: str, filters: Filters) -> list[dict[str, Any]]:
        now = self.now()
        docs = await self.store.work_list({"officer_id": officer_id, **filters.query(now)}, self.limit)
        return [item(d, now) for d in docs]

    async def team_list(self, team: str, filters: Filters) -> tuple[list[dict[str, Any]], dict[str, int]]:
        """The team's tasks and the ones escalated to it; and open tasks per officer of the team."""
        now = self.now()
        either = {"$or": [{"team": team}, {"escalated_team": team}]}
        docs = await self.store.work_list({**either, **filters.query(now)}, self.limit)
        load: Counter[str] = Counter()
        for doc in await self.store.work_list({"team": team}, self.limit):
            officer = doc.get("officer_id") or doc.get("claimed_by")
            if officer:
                load[officer] += 1
        return [item(d, now) for d in docs], dict(sorted(load.items()))

    async def role_list(self, role: Role, filters: Filters) -> list[dict[str, Any]]:
        """The role's queue (no officer named) and the tasks escalated to the role."""
        now = self.now()
        either = {"$or": [{"role": role.value, "officer_id": None}, {"escalated_role": role.value}]}
        docs = await self.store.work_list({**either, **filters.query(now)}, self.limit)
        return [item(d, now) for d in docs]

    # -- a customer, a task

    async def case(self, csid: str) -> dict[str, Any]:
        case = (await self.store.case_files.load(csid)).state
        if case is None or not (case.timeline or case.tasks):
            raise ApiError("UNKNOWN_CASE", "Casework has nothing for this customer.", 404)
        now = self.now()
        open_tasks = await self.store.work_list({"csid": csid}, self.limit)
        return {
            "csid": csid,
            "summary": {
                "owner_area": case.owner_area,
                "lock": case.lock.model_dump(mode="json") if case.lock else None,
                "in_ps": case.in_ps,
                "open_issues": case.open_issues,
                "complaints": case.complaints,
                "msp": case.msp,
            },
            "timeline": [e.model_dump(mode="json") for e in reversed(case.timeline)],
            "open_tasks": [item(d, now) for d in open_tasks],
        }

    async def task_doc(self, raw_task_id: str) -> Document:
        task_id = str(uuid_value(raw_task_id, "task_id"))
        doc = await self.store.task(task_id)
        if doc is None:
            raise ApiError("UNKNOWN_TASK", "No such task.", 404)
        return doc

    async def task(self, raw_task_id: str) -> dict[str, Any]:
        doc = await self.task_doc(raw_task_id)
        case = (await self.store.case_files.load(doc["csid"])).state
        task = case.tasks.get(doc["_id"]) if case is not None else None
        if task is None:
            raise ApiError("UNKNOWN_TASK", "No such task.", 404)
        return {
            **item(doc, self.now()),
            "status": task.status.value,
            "outcome": task.outcome,
            "opened_at": task.opened_at.isoformat(),
            "closed_at": task.closed_at.isoformat() if task.closed_at else None,
            "source_message_type": task.source_message_type,
            "history": [
                {"at": h.at.isoformat(), "action": h.action, "by": _who(h.by), "detail": h.detail}
                for h in task.history
            ],
            "notes": [
                {"note_id": str(n.note_id), "at": n.at.isoformat(), "by": _who(n.by), "text": n.text}
                for n in task.notes
            ],
        }

    async def open_tasks_of(self, officer_id: str) -> list[Document]:
        return await self.store.work_list({"officer_id": officer_id}, self.limit)

    # -- sending

    async def send(self, command: Command, csid: str, token: str) -> UUID:
        """Publishes ``command`` to casework's commands topic with the officer's token; its id."""
        if csid != AGENCY_CSID and not CSID_PATTERN.fullmatch(csid):
            raise ApiError("INVALID_CSID", "A CSID is 6-12 digits.")
        envelope = Envelope.wrap(command, csid=csid, producer=PRODUCER, occurred_at=self.now())
        await self.runtime.broker.publish(
            envelope.to_bytes(),
            topic=self.settings.topic(commands_topic("casework")),
            key=csid.encode(),
            headers={IDENTITY_HEADER: token},
        )
        return envelope.message_id
