"""What the demo shows: a timeline per customer, a summary table, and the same as JSON."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from rich.console import Console, Group
from rich.panel import Panel
from rich.table import Table
from rich.text import Text
from rich.tree import Tree

from casemesh.demo.driver import Decision, Seen, Step, StoryResult
from casemesh.demo.runner import WORKING_DAY_ZONE

STYLE = {
    Decision.ACCEPTED: ("✔", "green"),
    Decision.REFUSED: ("✖", "yellow"),
    Decision.DEAD_LETTERED: ("☠", "red"),
    Decision.IGNORED: ("·", "dim"),
    Decision.NO_ANSWER: ("?", "bold red"),
}


@dataclass
class Report:
    mode: str
    stories: list[StoryResult]
    timings: dict[str, float]
    records: int
    infrastructure: dict[str, str] = field(default_factory=dict)

    @property
    def totals(self) -> dict[str, int]:
        steps = [s for story in self.stories for s in story.steps]
        counts = {d.value: sum(1 for s in steps if s.decision is d) for d in Decision}
        return {
            "stories": len(self.stories),
            "messages_sent": len(steps),
            "records_seen": self.records,
            **counts,
        }

    @property
    def ok(self) -> bool:
        """Every message the script sent was answered (accepted, refused or dead-lettered)."""
        return all(s.decision is not Decision.NO_ANSWER for story in self.stories for s in story.steps)

    def to_json(self) -> dict[str, Any]:
        return {
            "mode": self.mode,
            "infrastructure": self.infrastructure,
            "timings_s": {k: round(v, 3) for k, v in self.timings.items()},
            "totals": self.totals,
            "ok": self.ok,
            "stories": [story.to_json() for story in self.stories],
        }


def _effect_label(seen: Seen) -> Text:
    text = Text()
    if seen.is_dead_letter:
        text.append("dead letter ", style="red")
        text.append(seen.topic, style="red")
        text.append(f"  reason {seen.headers.get('x-reason-code', '?')}", style="red")
        return text
    text.append(seen.producer or "?", style="cyan")
    text.append(" ▸ ")
    text.append(seen.message_type, style="yellow" if seen.is_refusal else "bold")
    if seen.is_refusal:
        text.append(f"  {seen.payload.get('reason_code', '')}", style="yellow")
    return text


def _step_label(number: int, step: Step) -> Text:
    mark, style = STYLE[step.decision]
    text = Text()
    text.append(f"{number:>2}. ", style="dim")
    text.append(step.title)
    text.append("\n    ")
    text.append(step.message_type, style="magenta")
    text.append(" → ")
    text.append(f"{mark} {step.decision.value}", style=style)
    if step.reason_code:
        text.append(f" ({step.reason_code})", style=style)
    if step.outcomes:
        decided = ", ".join(f"{service}: {outcome}" for service, outcome in sorted(step.outcomes.items()))
        text.append(f"  [{decided}]", style="dim")
    return text


def timeline(story: StoryResult) -> Panel:
    """Command in → decision → events out, for one customer."""
    tree = Tree(Text.assemble(("customer ", "dim"), (story.csid, "bold")))
    for number, step in enumerate(story.steps, 1):
        branch = tree.add(_step_label(number, step))
        for seen in step.effects:
            if seen.topic.endswith(".commands.v1") and not seen.is_refusal:
                branch.add(Text.assemble(("→ command ", "dim"), _effect_label(seen)))
            else:
                branch.add(_effect_label(seen))
    outcome = Text.assemble(("outcome: ", "dim"), (story.outcome, "bold green"))
    return Panel(Group(tree, outcome), title=story.name, title_align="left", border_style="blue")


def _local(at: object) -> str:
    """An ISO time as the officers read it: their day and time in Hobart."""
    when = datetime.fromisoformat(str(at)).astimezone(ZoneInfo(WORKING_DAY_ZONE))
    return when.strftime("%a %d %b %Y %H:%M")


def _assignee(assignee: dict[str, Any] | None) -> str:
    parts = [(assignee or {}).get(k) for k in ("officer_id", "team", "role")]
    return " / ".join(str(p).replace("_", " ").lower() if p == parts[2] else str(p) for p in parts if p)


def work_lists(story: StoryResult) -> Table:
    """The open tasks in each officer's, team's and role's work list at the end of the day."""
    table = Table(title="Work lists at the end of the day", title_justify="left", expand=True)
    table.add_column("Work list", no_wrap=True)
    table.add_column("Customer", no_wrap=True)
    table.add_column("Task (waits for)", ratio=3)
    table.add_column("Due", no_wrap=True)
    table.add_column("SLA", ratio=2)
    for name, tasks in story.facts.get("work_lists", {}).items():
        kind, _, who = str(name).partition(" ")
        shown = f"{kind} {who.replace('_', ' ').lower()}" if kind == "role" else str(name)
        for number, task in enumerate(tasks):
            if task.get("breached"):
                sla = Text(f"breached → {_assignee(task.get('escalated_to'))}", style="bold red")
            elif task.get("overdue"):
                sla = Text("overdue", style="yellow")
            else:
                sla = Text("on time", style="green")
            what = Text(str(task.get("title")))
            what.append(f" ({_assignee(task.get('assignee'))})", style="dim")
            table.add_row(
                shown if number == 0 else "", task.get("csid"), what, _local(task.get("due_at")), sla
            )
    return table


def case_timeline(story: StoryResult) -> Table:
    """One customer's timeline as casework keeps it: every service's facts, in plain words."""
    told = story.facts.get("timeline", {})
    table = Table(title=f"Timeline of customer {told.get('csid')}", title_justify="left", expand=True)
    table.add_column("When", no_wrap=True)
    table.add_column("Service", style="cyan", no_wrap=True)
    table.add_column("What", ratio=3)
    table.add_column("Who", ratio=2)
    for line in told.get("lines", []):
        what = Text(str(line.get("words")), style="bold")
        if line.get("outcome"):
            what.append(f": {line['outcome']}", style="")
        table.add_row(_local(line.get("at")), line.get("service"), what, line.get("who") or "")
    return table


def summary(report: Report) -> Table:
    table = Table(title=f"Casemesh demo — {report.mode}", title_justify="left", expand=True)
    table.add_column("Workflow", ratio=3)
    table.add_column("CSID", no_wrap=True)
    table.add_column("Sent", justify="right", no_wrap=True)
    table.add_column("✔", justify="right", style="green", no_wrap=True)
    table.add_column("✖", justify="right", style="yellow", no_wrap=True)
    table.add_column("☠", justify="right", style="red", no_wrap=True)
    table.add_column("Outcome", ratio=4)
    for story in report.stories:
        counts = {d: sum(1 for s in story.steps if s.decision is d) for d in Decision}
        table.add_row(
            story.name,
            story.csid,
            str(len(story.steps)),
            str(counts[Decision.ACCEPTED]),
            str(counts[Decision.REFUSED]),
            str(counts[Decision.DEAD_LETTERED]),
            story.outcome,
        )
    return table


def render(report: Report, console: Console) -> None:
    for story in report.stories:
        console.print(timeline(story))
        if "work_lists" in story.facts:
            console.print(work_lists(story))
        if "timeline" in story.facts:
            console.print(case_timeline(story))
    console.print(summary(report))
    console.print("[dim]✔ accepted  ✖ refused (a …Rejected event with a reason code)  ☠ dead-lettered[/dim]")
    timings = ", ".join(f"{name} {seconds:.2f}s" for name, seconds in report.timings.items())
    totals = report.totals
    console.print(
        f"[dim]{totals['messages_sent']} messages sent, {totals['records_seen']} records seen on the topics; "
        f"{timings}[/dim]"
    )
    if not report.ok:
        console.print("[bold red]Some messages were not answered in time: see the timeline above.[/bold red]")
