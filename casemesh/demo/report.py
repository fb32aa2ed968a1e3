"""What the demo shows: a timeline per customer, a summary table, and the same as JSON."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from rich.console import Console, Group
from rich.panel import Panel
from rich.table import Table
from rich.text import Text
from rich.tree import Tree

from casemesh.demo.driver import Decision, Seen, Step, StoryResult

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
