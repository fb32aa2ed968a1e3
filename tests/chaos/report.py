"""The table (one row per fault) and the JSON file beside it."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from tests.chaos.faults import RowResult
from tests.chaos.sizes import Sizes

COLUMNS = (
    "fault",
    "sent",
    "acked",
    "lost",
    "duplicated",
    "reordered",
    "dead-lettered",
    "unpublished",
    "refused",
    "notes",
)
NUMERIC = frozenset(COLUMNS[1:-1])


def cells(row: RowResult) -> list[str]:
    c = row.counts
    notes = "; ".join(([f"ERROR {row.error}"] if row.error else []) + row.remarks)
    return [
        row.title,
        str(c.sent),
        str(c.acked),
        str(c.lost),
        str(c.duplicated),
        str(c.reordered),
        str(c.dead_lettered),
        str(c.unpublished),
        str(c.refused),
        notes,
    ]


def table(rows: Sequence[RowResult]) -> str:
    body = [cells(r) for r in rows]
    widths = [max([len(h)] + [len(r[i]) for r in body]) for i, h in enumerate(COLUMNS)]
    widths[-1] = len(COLUMNS[-1])  # notes run on without padding

    def line(values: Sequence[str]) -> str:
        out = []
        for i, (value, width) in enumerate(zip(values, widths, strict=True)):
            out.append(value.rjust(width) if COLUMNS[i] in NUMERIC else value.ljust(width))
        return "| " + " | ".join(out) + " |"

    rule = (
        "|"
        + "|".join(
            ("-" * (w + 1) + ":") if COLUMNS[i] in NUMERIC else "-" * (w + 2) for i, w in enumerate(widths)
        )
        + "|"
    )
    return "\n".join([line(COLUMNS), rule, *(line(r) for r in body)])


def document(rows: Sequence[RowResult], sizes: Sizes, source: Path, started: datetime) -> dict[str, Any]:
    return {
        "suite": "casemesh chaos (issue 13 item 5)",
        "started_at": started.isoformat(),
        "finished_at": datetime.now(UTC).isoformat(),
        "source": str(source),
        "sizes": sizes.describe(),
        "clean": all(r.clean for r in rows),
        "rows": [r.to_json() for r in rows],
    }


def write_json(path: Path, data: dict[str, Any]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2, default=str) + "\n", encoding="utf-8")
    return path
