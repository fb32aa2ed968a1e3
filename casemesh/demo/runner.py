"""Runs workflows against a mesh host and collects what each one saw."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from casemesh.demo.driver import DemoClock, Mesh, Seen, StoryResult
from casemesh.mesh import MeshConfig, MeshHost

Workflow = Callable[[Mesh], Awaitable[StoryResult]]

#: Monday 23 November 2026, 09:00 in Hobart (AEDT, UTC+11): a working day.
WORKING_DAY = datetime(2026, 11, 22, 22, 0, tzinfo=UTC)
#: Where the working day is: the report shows times as the officers there read them.
WORKING_DAY_ZONE = "Australia/Hobart"


@dataclass(frozen=True)
class Chapter:
    """A workflow and the settings it needs of the services (merged into the host's config)."""

    run: Workflow
    settings: dict[str, dict[str, Any]] = field(default_factory=dict)


@dataclass
class Run:
    stories: list[StoryResult]
    seen: list[Seen]
    start_s: float
    run_s: float


def merged(config: MeshConfig, chapters: Sequence[Chapter]) -> MeshConfig:
    per_service: dict[str, dict[str, Any]] = {k: dict(v) for k, v in config.per_service.items()}
    for chapter in chapters:
        for service, values in chapter.settings.items():
            per_service.setdefault(service, {}).update(values)
    config.per_service = per_service
    return config


async def run_chapters(
    config: MeshConfig,
    chapters: Sequence[Chapter],
    *,
    clock: DemoClock | None = None,
    timeout_s: float = 30.0,
    on_story: Callable[[StoryResult], None] | None = None,
) -> Run:
    clock = clock or DemoClock(WORKING_DAY)
    host = MeshHost(merged(config, chapters), clock)
    t0 = time.monotonic()
    await host.start()
    start_s = time.monotonic() - t0
    mesh = Mesh(host, clock, timeout_s)
    stories: list[StoryResult] = []
    t1 = time.monotonic()
    try:
        for chapter in chapters:
            story = await chapter.run(mesh)
            stories.append(story)
            if on_story is not None:
                on_story(story)
    finally:
        await host.stop()
    return Run(stories, list(mesh.seen), start_s, time.monotonic() - t1)
