"""The day's work, as casework kept it (issue 17): the work lists the day's stories left, one task
reassigned by a Team Leader, one SLA breached and escalated, and one customer's timeline.

All day casework read every other service's events and turned each fact that asks someone to act
into a task (``TaskOpened`` on its events topic). At the end of the day the Mainstream 9 Team
Leader gives the compliment Kai was to pass on to a colleague, as Kai is on leave (a
``ReassignTask`` on casework's commands topic); the colleague does not get to it, so when its SLA
runs out casework warns, then escalates it to the team's Team Leader. The Team Leader's screen
then reads the work lists and the customer's timeline from casework's API.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

import httpx

from casemesh.demo.driver import Mesh, Seen, Story, StoryResult, distinct, officer
from casemesh.demo.runner import Chapter
from casemesh.demo.workflows.complaints_and_compliments import COMPLIMENT_CSID, KAI
from contracts.base import Role
from contracts.catalogue.casework import AssigneeInput, ReassignTask
from contracts.topics import events_topic
from kit.identity import development_token

CASEWORK_EVENTS = events_topic("casework")
TEAM = "Mainstream 9"
TEAM_LEADER = officer("TL-90", Role.TEAM_LEADER, "Jo", team=TEAM, extension="5300", site="Launceston")
COLLEAGUE = "CSO-34"


async def casework(mesh: Mesh) -> StoryResult:
    story = Story(mesh, "Casework: work lists, a reassignment and a breached SLA", COMPLIMENT_CSID)
    await caught_up(mesh)
    compliment = await _task_opened(story, "COMPLIMENT_TO_STAFF")
    if compliment is None:
        return story.result("no task for the compliment")
    reassigned = await story.send(
        ReassignTask(
            actor=TEAM_LEADER,
            task_id=uuid.UUID(str(compliment.payload["task_id"])),
            to=AssigneeInput(officer_id=COLLEAGUE, team=TEAM),
            reason=f"{KAI.first_name} is on leave this week",
        ),
        f"The {TEAM} Team Leader gives the compliment for {KAI.first_name} to a colleague",
        expect=["TaskReassigned"],
        pause=timedelta(hours=2),
    )
    # The mesh runs on the demo's clock, and casework's SLA timers are durable timers read against
    # it: moving the clock past the task's due time makes them fire as they would days later in
    # production, with no setting of any service changed for the demo.
    due = datetime.fromisoformat(str(compliment.payload["due_at"]))
    if due >= mesh.clock():
        mesh.clock.advance(due - mesh.clock() + timedelta(minutes=1))
    breach = await _waited(story, "TaskSlaBreached")
    await caught_up(mesh)

    opened = distinct([s for s in mesh.seen if s.topic == CASEWORK_EVENTS], "TaskOpened")
    moved = reassigned.distinct("TaskReassigned")
    async with _team_leader_screen(mesh) as screen:
        work_lists = await _work_lists(screen, _lists_of([*opened, *moved, *([breach] if breach else [])]))
        case = await _json(screen, f"/cases/{story.csid}")
    timeline = [_line(entry) for entry in reversed(case.get("timeline", []))]
    escalated = breach.payload.get("escalated_to", {}) if breach is not None else {}
    outcome = f"{len(opened)} tasks from the day's stories, 1 reassigned; " + (
        f"SLA breached, escalated to the {escalated.get('team')} {_words(escalated.get('role'))}"
        if breach is not None
        else f"SLA not breached ({reassigned.decision.value})"
    )
    return story.result(
        outcome,
        tasks_opened={
            csid: sorted(str(s.payload["kind"]) for s in opened if s.key == csid)
            for csid in sorted({s.key for s in opened})
        },
        reassigned=[
            {
                "kind": compliment.payload["kind"],
                "from": s.payload["previous"],
                "to": s.payload["assignee"],
                "by": s.payload["by"]["role"],
            }
            for s in moved
        ],
        breached=(
            {
                "kind": compliment.payload["kind"],
                "assignee": breach.payload["assignee"],
                "escalated_to": escalated,
                "due_at": breach.payload["due_at"],
            }
            if breach is not None
            else None
        ),
        work_lists=work_lists,
        timeline={"csid": story.csid, "lines": timeline},
    )


async def caught_up(mesh: Mesh) -> bool:
    """Casework has read every record so far on the topics it reads (the other services' events
    and its own commands, its timers' included), so its work lists and case files are up to date."""

    def read_all() -> bool:
        return all(
            "casework" in mesh.outcomes(s.topic, s.value)
            for s in list(mesh.seen)
            if "casework" in mesh.host.consumers_of(s.topic)
        )

    return await mesh.until(read_all)


async def _task_opened(story: Story, kind: str) -> Seen | None:
    def found() -> Seen | None:
        tasks = story.events("TaskOpened", topic=CASEWORK_EVENTS)
        return next((s for s in tasks if s.payload.get("kind") == kind), None)

    await story.mesh.until(lambda: found() is not None)
    return found()


async def _waited(story: Story, message_type: str) -> Seen | None:
    try:
        return await story.wait_for(message_type, topic=CASEWORK_EVENTS)
    except TimeoutError:
        return None


def _team_leader_screen(mesh: Mesh) -> httpx.AsyncClient:
    """Casework's API as the Team Leader's screen calls it: with their token (here signed with the
    development key). A Team Leader may read any officer's, team's or role's list."""
    token = development_token(TEAM_LEADER.officer_id, [TEAM_LEADER.role])
    return httpx.AsyncClient(
        base_url=mesh.host.api_url("casework"), headers={"Authorization": f"Bearer {token}"}, timeout=10.0
    )


def _lists_of(events: Iterable[Seen]) -> list[tuple[str, str]]:
    """The work lists the day's tasks went to: each named officer's, each team's, and each role's
    queue (tasks naming no officer, and the tasks escalated to the role)."""
    lists: set[tuple[str, str]] = set()
    for seen in events:
        for name in ("assignee", "escalated_to"):
            assignee = seen.payload.get(name) or {}
            if assignee.get("officer_id"):
                lists.add(("officer", str(assignee["officer_id"])))
            if assignee.get("team"):
                lists.add(("team", str(assignee["team"])))
            if assignee.get("role") and (name == "escalated_to" or not assignee.get("officer_id")):
                lists.add(("role", str(assignee["role"])))
    order = {"officer": 0, "team": 1, "role": 2}
    return sorted(lists, key=lambda item: (order[item[0]], item[1]))


async def _work_lists(screen: httpx.AsyncClient, lists: list[tuple[str, str]]) -> dict[str, list[Any]]:
    """Each list's open tasks as casework's API gives them, by due time; empty lists left out."""
    found: dict[str, list[Any]] = {}
    for kind, name in lists:
        answer = await _json(screen, f"/work-lists/{kind}s/{name}")
        tasks = [_item(task) for task in answer.get("tasks", [])]
        if tasks:
            found[f"{kind} {name}"] = tasks
    return found


async def _json(screen: httpx.AsyncClient, path: str) -> dict[str, Any]:
    answer = await screen.get(path)
    body = answer.json() if answer.headers.get("content-type", "").startswith("application/json") else {}
    if not answer.is_success:
        return {"error": answer.status_code, **(body if isinstance(body, dict) else {})}
    return body if isinstance(body, dict) else {}


def _item(task: dict[str, Any]) -> dict[str, Any]:
    """A work-list entry without its ids (they differ from run to run)."""
    keep = ("csid", "kind", "title", "status", "assignee", "due_at", "overdue", "breached", "escalated_to")
    return {k: task.get(k) for k in keep}


def _line(entry: dict[str, Any]) -> dict[str, Any]:
    """A timeline line without its message id (it differs from run to run)."""
    return {k: entry.get(k) for k in ("at", "service", "words", "outcome", "who")}


def _words(code: object) -> str:
    return str(code).replace("_", " ").title()


CHAPTER = Chapter(casework)
