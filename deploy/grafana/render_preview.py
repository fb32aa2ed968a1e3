"""A rendered preview of the dashboard's panels, with real numbers: ``docs/dashboard.png``.

    python -m deploy.grafana.render_preview docs/dashboard.png [--html preview.html]

Not Grafana: the six services run embedded (the in-memory broker and stores of ``casemesh demo``)
through the demo's scripted working day, a pause after each story, while every service's
``/metrics`` text is read every ``SCRAPE_INTERVAL_S``. Each panel of ``casemesh.json`` is then
evaluated on those snapshots by deploy/promql.py (``$__rate_interval`` is ``RATE_WINDOW``,
``$__range`` the whole recording, ``$job`` every service; a counter's series counts as 0 before it
first appears), drawn as SVG on a static page laid out by the panels' grid positions, and the page
is photographed by the system Chromium through Playwright (``make browser-install``).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import html
import json
import math
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from prometheus_client.parser import text_string_to_metric_families

from casemesh.demo.driver import DemoClock, Mesh
from casemesh.demo.main import mesh_config, quiet_logs
from casemesh.demo.runner import WORKING_DAY, merged
from casemesh.demo.script import CHAPTERS
from casemesh.mesh import MeshHost
from deploy.promql import Sample, Snapshot, evaluate, parse

DASHBOARD = Path(__file__).resolve().parent / "casemesh.json"
SCRAPE_INTERVAL_S = 0.25
RATE_WINDOW = "2s"
PAUSE_S = 1.0
"""A pause after each story, so that the picture shows them one by one (the day itself runs in
about three seconds); after the last, the outbox and the task counts settle."""

GRID_COLUMN_PX = 64
GRID_ROW_PX = 34
PALETTE = ("#73bf69", "#f2cc0c", "#5794f2", "#ff9830", "#f2495c", "#b877d9", "#8ab8ff", "#fade2a")


def snapshot(at: float, texts: dict[str, str]) -> Snapshot:
    """One moment of every service's metrics, labelled as a Prometheus scrape would label them
    (``job`` the service, ``instance`` its compose address), with the ``up`` series it adds."""
    samples: list[Sample] = []
    for service, text in texts.items():
        target = {"job": service, "instance": f"{service}:8080"}
        samples.append(Sample("up", target, 1.0))
        for family in text_string_to_metric_families(text):
            samples.extend(Sample(s.name, {**s.labels, **target}, s.value) for s in family.samples)
    return Snapshot(at, samples)


async def record() -> list[Snapshot]:
    """The embedded mesh through the demo's working day, its metrics read every scrape interval."""
    config = merged(mesh_config(None, None), CHAPTERS)
    config.per_service.setdefault("casework", {})["task_count_interval_s"] = SCRAPE_INTERVAL_S
    clock = DemoClock(WORKING_DAY)
    host = MeshHost(config, clock)
    history: list[Snapshot] = []
    started = time.monotonic()

    async def scrape() -> None:
        while True:
            # Readiness is asked as the containers' health check and Kubernetes' probe ask it.
            await asyncio.gather(*(runtime.ready() for runtime in host.runtimes.values()))
            texts = {name: rt.metrics.render().decode() for name, rt in host.runtimes.items()}
            history.append(snapshot(time.monotonic() - started, texts))
            await asyncio.sleep(SCRAPE_INTERVAL_S)

    await host.start()
    scraper = asyncio.create_task(scrape())
    try:
        mesh = Mesh(host, clock, 30.0)
        await asyncio.sleep(PAUSE_S)
        for chapter in CHAPTERS:
            await chapter.run(mesh)
            await asyncio.sleep(PAUSE_S)
    finally:
        scraper.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await scraper
        await host.stop()
    return history


@dataclass
class Series:
    legend: str
    points: list[float | None]


def legend_of(template: str, labels: dict[str, str]) -> str:
    text = template
    for key, value in labels.items():
        text = text.replace("{{" + key + "}}", value)
    return text.replace("{{", "").replace("}}", "").strip() or "value"


def expression(expr: str, history: Sequence[Snapshot]) -> str:
    """The target's PromQL with Grafana's variables as the preview sets them."""
    whole = f"{math.ceil(history[-1].at - history[0].at) + 1}s"
    return expr.replace("$__rate_interval", RATE_WINDOW).replace("$__range", whole).replace('"$job"', '".*"')


def panel_series(panel: dict[str, Any], history: Sequence[Snapshot]) -> list[Series]:
    found: dict[str, Series] = {}
    for target in panel.get("targets", []):
        node = parse(expression(target["expr"], history))
        for index in range(len(history)):
            for labels, value in evaluate(node, history, index, absent_as_zero=True).items():
                legend = legend_of(target.get("legendFormat", ""), dict(labels))
                series = found.setdefault(legend, Series(legend, [None] * len(history)))
                series.points[index] = value
    return sorted(found.values(), key=lambda s: s.legend)


def formatted(value: float, unit: str) -> str:
    if unit == "s":
        return f"{value * 1000:.3g} ms" if value < 1 else f"{value:.3g} s"
    if unit == "bytes":
        return f"{value / 2**20:.0f} MiB"
    if unit == "percentunit":
        return f"{value * 100:.0f}%"
    if unit == "reqps":
        return f"{value:.3g}/s"
    return f"{value:.3g}"


def _last(series: Series) -> float | None:
    return next((p for p in reversed(series.points) if p is not None), None)


def _mapped(panel: dict[str, Any], value: float) -> tuple[str, str] | None:
    """The text and colour a value mapping gives ``value``; None when none does."""
    for mapping in panel["fieldConfig"]["defaults"].get("mappings", []):
        option = mapping.get("options", {}).get(f"{value:g}")
        if option is not None:
            return str(option["text"]), str(option.get("color", "#ccccdc"))
    return None


def _threshold_colour(panel: dict[str, Any], value: float) -> str:
    colour = "#73bf69"
    steps = panel["fieldConfig"]["defaults"].get("thresholds", {}).get("steps", [])
    for step in steps:
        if step["value"] is None or value >= step["value"]:
            colour = {"green": "#73bf69", "red": "#f2495c", "orange": "#ff9830"}.get(step["color"], colour)
    return colour


def stat_html(panel: dict[str, Any], series: list[Series]) -> str:
    unit = panel["fieldConfig"]["defaults"].get("unit", "short")
    cells = []
    for item in series:
        value = _last(item)
        if value is None:
            continue
        text, colour = _mapped(panel, value) or (formatted(value, unit), _threshold_colour(panel, value))
        name = f'<span class="name">{html.escape(item.legend)}</span>' if len(series) > 1 else ""
        cells.append(f'<div class="stat" style="background:{colour}">{name}<b>{html.escape(text)}</b></div>')
    return f'<div class="stats">{"".join(cells)}</div>'


def timeseries_svg(
    panel: dict[str, Any], series: list[Series], times: list[float], size: tuple[int, int]
) -> str:
    unit = panel["fieldConfig"]["defaults"].get("unit", "short")
    width, height = size
    left, bottom, top = 64, 18, 6
    values = [p for s in series for p in s.points if p is not None]
    high = max([*values, 0.0]) or 1.0
    span = (times[-1] - times[0]) or 1.0

    def x(at: float) -> float:
        return left + (at - times[0]) / span * (width - left - 8)

    def y(value: float) -> float:
        return top + (1 - value / high) * (height - top - bottom)

    parts = [
        f'<line x1="{left}" y1="{y(0):.1f}" x2="{width - 8}" y2="{y(0):.1f}" class="axis"/>',
        f'<line x1="{left}" y1="{y(high / 2):.1f}" x2="{width - 8}" y2="{y(high / 2):.1f}" class="grid"/>',
        f'<line x1="{left}" y1="{y(high):.1f}" x2="{width - 8}" y2="{y(high):.1f}" class="grid"/>',
        f'<text x="{left - 4}" y="{y(high) + 4:.1f}" class="tick" text-anchor="end">'
        f"{formatted(high, unit)}</text>",
        f'<text x="{left - 4}" y="{y(high / 2) + 4:.1f}" class="tick" text-anchor="end">'
        f"{formatted(high / 2, unit)}</text>",
        f'<text x="{left - 4}" y="{y(0) + 4:.1f}" class="tick" text-anchor="end">0</text>',
        f'<text x="{left}" y="{height - 2}" class="tick">0 s</text>',
        f'<text x="{width - 8}" y="{height - 2}" class="tick" text-anchor="end">{span:.0f} s</text>',
    ]
    for index, item in enumerate(series):
        colour = PALETTE[index % len(PALETTE)]
        runs: list[list[str]] = [[]]
        for at, value in zip(times, item.points, strict=True):
            if value is None:
                runs.append([])
            else:
                runs[-1].append(f"{x(at):.1f},{y(value):.1f}")
        parts.extend(
            f'<polyline points="{" ".join(run)}" stroke="{colour}" class="line"/>' for run in runs if run
        )
    return f'<svg width="{width}" height="{height}">{"".join(parts)}</svg>'


def legend_html(series: list[Series], limit: int) -> str:
    shown = [
        f'<span><i style="background:{PALETTE[i % len(PALETTE)]}"></i>{html.escape(s.legend)}</span>'
        for i, s in enumerate(series[:limit])
    ]
    if len(series) > limit:
        shown.append(f"<span>+{len(series) - limit} more</span>")
    return f'<div class="legend">{"".join(shown)}</div>'


def panel_html(panel: dict[str, Any], history: Sequence[Snapshot]) -> str:
    grid = panel["gridPos"]
    place = f"grid-column:{grid['x'] + 1}/span {grid['w']};grid-row:{grid['y'] + 1}/span {grid['h']}"
    title = html.escape(panel["title"])
    if panel["type"] == "row":
        return f'<div class="row" style="{place}">{title}</div>'
    series = panel_series(panel, history)
    if not any(_last(s) is not None for s in series):
        body = '<div class="nodata">No data in this recording</div>'
    elif panel["type"] == "stat":
        body = stat_html(panel, series)
    else:
        legend_rows = 2 if grid["h"] >= 8 else 1
        size = (grid["w"] * GRID_COLUMN_PX - 16, grid["h"] * GRID_ROW_PX - 44 - 18 * legend_rows)
        times = [s.at for s in history]
        limit = legend_rows * max(grid["w"] // 4, 2)
        body = timeseries_svg(panel, series, times, size) + legend_html(series, limit)
    return f'<div class="panel" style="{place}"><h2>{title}</h2>{body}</div>'


STYLE = """
body { margin: 0; padding: 12px; background: #111217; color: #ccccdc; width: 1536px;
       font: 12px/1.3 "DejaVu Sans", sans-serif; }
header { margin: 0 0 10px; }
header h1 { font-size: 18px; margin: 0 0 2px; color: #fff; }
header p { margin: 0; color: #8e8e9e; }
main { display: grid; grid-template-columns: repeat(24, 1fr); grid-auto-rows: 30px; gap: 4px; }
.panel { background: #181b1f; border: 1px solid #2c3235; border-radius: 2px; padding: 4px 8px;
         overflow: hidden; }
.panel h2 { font-size: 13px; margin: 2px 0 4px; color: #fff; font-weight: 500; }
.row { font-size: 15px; color: #fff; align-self: end; padding-bottom: 2px; }
.stats { display: flex; flex-wrap: wrap; gap: 3px; }
.stat { padding: 2px 6px; border-radius: 2px; color: #111; min-width: 62px; }
.stat .name { display: block; font-size: 10px; }
.stat b { font-size: 17px; }
.nodata { color: #8e8e9e; padding-top: 30px; text-align: center; }
svg .axis { stroke: #464c54; } svg .grid { stroke: #2c3235; }
svg .tick { fill: #8e8e9e; font-size: 10px; }
svg .line { fill: none; stroke-width: 1.5; }
.legend { display: flex; flex-wrap: wrap; gap: 2px 10px; font-size: 10px; max-height: 30px;
          overflow: hidden; }
.legend i { display: inline-block; width: 10px; height: 3px; margin: 0 4px 3px 0; }
"""


def page(dashboard: dict[str, Any], history: Sequence[Snapshot]) -> str:
    seconds = history[-1].at - history[0].at
    panels = "".join(panel_html(panel, history) for panel in dashboard["panels"])
    note = (
        f"A rendered preview of the panels of deploy/grafana/casemesh.json, not Grafana: the six "
        f"services embedded (in-memory broker and stores) through casemesh demo's working day, a "
        f"{PAUSE_S:g} s pause after each of its {len(CHAPTERS)} stories ({seconds:.0f} s in all), "
        f"their metrics read every {SCRAPE_INTERVAL_S} s, rates over {RATE_WINDOW}. "
        f"Consumer lag is reported on Kafka only; the six share one process here, so their CPU and "
        f"memory are that process's."
    )
    return (
        f'<!doctype html><html><head><meta charset="utf-8"><style>{STYLE}</style></head><body>'
        f"<header><h1>{html.escape(dashboard['title'])} — Service: All</h1><p>{html.escape(note)}</p>"
        f"</header><main>{panels}</main></body></html>"
    )


def chromium() -> str:
    configured = os.environ.get("CASEMESH_CHROMIUM")
    for command in (configured,) if configured else ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(command)
        if found:
            return found
    raise SystemExit("no Chromium found (`make browser-install` installs Debian's chromium)")


async def screenshot(document: str, png: Path) -> None:
    from playwright.async_api import async_playwright

    with tempfile.TemporaryDirectory(prefix="casemesh-preview-") as folder:
        source = Path(folder) / "preview.html"
        await asyncio.to_thread(source.write_text, document, encoding="utf-8")
        async with async_playwright() as playwright:
            browser = await playwright.chromium.launch(
                executable_path=chromium(), headless=True, args=["--no-sandbox", "--disable-gpu"]
            )
            try:
                view = await browser.new_page(viewport={"width": 1560, "height": 900})
                await view.goto(source.as_uri())
                await view.screenshot(path=str(png), full_page=True)
            finally:
                await browser.close()


async def render(png: Path, html_path: Path | None = None) -> None:
    dashboard = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    with quiet_logs(Path(".run") / "preview" / "services.log"):
        history = await record()
    document = page(dashboard, history)
    if html_path is not None:
        await asyncio.to_thread(html_path.write_text, document, encoding="utf-8")
    await asyncio.to_thread(png.parent.mkdir, parents=True, exist_ok=True)
    await screenshot(document, png)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("png", type=Path, help="where the picture goes, e.g. docs/dashboard.png")
    parser.add_argument("--html", type=Path, help="keep the page that was photographed here")
    args = parser.parse_args(argv)
    asyncio.run(render(args.png, args.html))
    print(f"wrote {args.png}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
