"""The task table in docs/services/casework.md says what services/casework/domain/table.py does:
every row, its SLA where it has no due time of its own, every closer and every reroute."""

from __future__ import annotations

import dataclasses
import re
from datetime import timedelta
from pathlib import Path

from services.casework.domain.table import CLOSERS, DEFAULT_SLAS, REROUTES, TASKS, Row

DOC = Path(__file__).resolve().parents[3] / "docs" / "services" / "casework.md"
_NAME = re.compile(r"`([A-Za-z_]+)`")
_NO_DUE_OF_ITS_OWN = next(f.default for f in dataclasses.fields(Row) if f.name == "due")


def table() -> dict[str, list[str]]:
    """The doc's task table: event type → its cells (event, kind, assignee, due, closed by)."""
    text = DOC.read_text(encoding="utf-8").split("## The task table", 1)[1]
    rows: dict[str, list[str]] = {}
    for line in text.splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if len(cells) == 5 and (name := _NAME.match(cells[0])):
            rows[name.group(1)] = cells
    return rows


def sla_in_words(sla: timedelta) -> str:
    if sla % timedelta(days=1):
        return f"SLA {sla // timedelta(hours=1)} hours"
    days = sla.days
    return f"SLA {days} day" if days == 1 else f"SLA {days} days"


def test_the_docs_task_table_has_one_row_per_row_of_the_code_with_its_kind() -> None:
    rows = table()

    assert set(rows) == {cls.MESSAGE_TYPE for cls in TASKS}
    for cls, row in TASKS.items():
        assert _NAME.findall(rows[cls.MESSAGE_TYPE][1]) == [row.kind.value], cls.MESSAGE_TYPE


def test_the_docs_task_table_gives_the_default_sla_of_each_row_without_a_due_time_of_its_own() -> None:
    rows = table()

    for cls, row in TASKS.items():
        due = rows[cls.MESSAGE_TYPE][3]
        if row.due is _NO_DUE_OF_ITS_OWN:
            assert sla_in_words(DEFAULT_SLAS[row.kind]) in due, cls.MESSAGE_TYPE
        else:
            assert "SLA" not in due, f"{cls.MESSAGE_TYPE} names its own due time"


def test_the_docs_task_table_names_every_closer_and_reroute_on_the_row_of_the_kind_it_closes() -> None:
    closed_by = {_NAME.findall(cells[1])[0]: cells[4] for cells in table().values()}

    for cls, closers in CLOSERS.items():
        for closer in closers:
            assert f"`{cls.MESSAGE_TYPE}`" in closed_by[closer.kind.value], (cls.MESSAGE_TYPE, closer.kind)
    for cls, reroute in REROUTES.items():
        assert f"`{cls.MESSAGE_TYPE}`" in closed_by[reroute.kind.value], cls.MESSAGE_TYPE
