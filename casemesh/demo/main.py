"""``casemesh demo``: start the mesh, drive the scripted working day, show what happened.

Where the mesh runs (``--infra``):

- ``embedded`` — FastStream's in-memory broker and the in-memory twin of each store: nothing but
  Python. The default when no Kafka is configured.
- ``env`` — existing servers named by ``CASEMESH_KAFKA_BOOTSTRAP_SERVERS`` and
  ``CASEMESH_MONGODB_URL``, Kafka secured as the credentials file ``CASEMESH_KAFKA_SECURITY_FILE``
  says (``deploy/local``'s ``credentials.json``; PLAINTEXT without it). The default when those are
  set.
- ``local`` — starts ``deploy/local``'s Kafka (SASL_SSL, ACLs) and FerretDB on free ports, and
  stops them after.

On a secured Kafka each service acts as its own principal and the demo's driver as the admin.

The same handlers run in every mode. Real modes use fresh topic names and databases per run.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from rich.console import Console

from casemesh.demo.report import Report, render
from casemesh.demo.runner import Chapter, run_chapters
from casemesh.demo.script import CHAPTERS
from casemesh.mesh import MeshConfig
from kit.logs import LOGGER, JsonFormatter, configure
from kit.transport import KafkaCluster

#: Quicker than a production service, so the day runs in seconds on real infrastructure too.
DEMO_SETTINGS: dict[str, Any] = {
    "outbox_interval_s": 0.2,
    "timer_interval_s": 0.2,
    "retry_initial_s": 0.05,
    "retry_max_s": 0.5,
    "max_attempts": 3,
    "broker_log_level": logging.WARNING,
}


def resolve_mode(mode: str, environ: dict[str, str] | os._Environ[str] = os.environ) -> str:
    if mode != "auto":
        return mode
    return "env" if environ.get("CASEMESH_KAFKA_BOOTSTRAP_SERVERS") else "embedded"


def mesh_config(
    kafka: str | None, mongodb_url: str | None, cluster: KafkaCluster | None = None
) -> MeshConfig:
    """The demo's mesh: embedded without ``kafka``; ``cluster`` secures a real one."""
    run = uuid.uuid4().hex[:8]
    if kafka is None:
        return MeshConfig(common=dict(DEMO_SETTINGS))
    return MeshConfig(
        kafka_cluster=cluster,
        kafka_bootstrap_servers=kafka,
        mongodb_url=mongodb_url,
        topic_suffix=f".demo{run}",
        database_prefix=f"casemesh_demo{run}",
        common=dict(DEMO_SETTINGS),
    )


async def run_demo(
    config: MeshConfig,
    *,
    mode: str,
    chapters: Sequence[Chapter] = CHAPTERS,
    timings: dict[str, float] | None = None,
    console: Console | None = None,
    timeout_s: float = 30.0,
) -> Report:
    """Runs the working day on ``config``'s mesh and returns what was seen."""
    timings = dict(timings or {})
    status = console.status("starting the six services…") if console is not None else None
    if status is not None:
        status.start()

    def told(story: Any) -> None:
        if status is not None:
            status.update(f"running the working day… {story.name} done")

    try:
        run = await run_chapters(config, chapters, timeout_s=timeout_s, on_story=told)
    finally:
        if status is not None:
            status.stop()
    timings["services_start"] = run.start_s
    timings["working_day"] = run.run_s
    infrastructure = (
        {"broker": "FastStream in-memory broker", "store": "in-memory twin (mongomock)"}
        if config.embedded
        else {
            "kafka": str(config.kafka_bootstrap_servers),
            "mongodb": str(config.mongodb_url),
            "topic_suffix": config.topic_suffix,
        }
    )
    return Report(mode, run.stories, timings, len(run.seen), infrastructure)


@contextmanager
def quiet_logs(path: Path) -> Iterator[None]:
    """The services' JSON logs and FastStream's go to ``path``: the terminal shows the demo."""
    path.parent.mkdir(parents=True, exist_ok=True)
    configure()
    handler = logging.FileHandler(path, encoding="utf-8")
    handler.setFormatter(JsonFormatter())
    saved = list(LOGGER.handlers)
    LOGGER.handlers = [handler]
    faststream = logging.getLogger("faststream")
    saved_level = faststream.level
    faststream.setLevel(logging.WARNING)
    try:
        yield
    finally:
        LOGGER.handlers = saved
        faststream.setLevel(saved_level)
        handler.close()


@contextmanager
def local_infrastructure(console: Console, timings: dict[str, float]) -> Iterator[tuple[KafkaCluster, str]]:
    """deploy/local's Kafka and FerretDB on free ports: the secured cluster and the store's URL."""
    from deploy.local.localinfra import LocalInfra, LocalInfraConfig

    with tempfile.TemporaryDirectory(prefix="casemesh-demo-") as run_dir:
        infra = LocalInfra(LocalInfraConfig.with_free_ports(Path(run_dir)))
        started = time.monotonic()
        try:
            with console.status("preparing local infrastructure…") as status:
                infra.up(on_phase=lambda phase: status.update(f"{phase}…"))
            timings["infrastructure_start"] = time.monotonic() - started
            console.print(
                f"[dim]local Kafka {infra.cfg.bootstrap_servers}, FerretDB {infra.cfg.mongodb_url}[/dim]"
            )
            yield infra.cluster(), infra.cfg.mongodb_url
        finally:
            with console.status("stopping local infrastructure…"):
                infra.down()


def main(mode: str = "auto", as_json: bool = False, log_path: Path | None = None) -> int:
    mode = resolve_mode(mode)
    # With --json, stdout carries only the JSON document; everything else goes to stderr.
    console = Console(stderr=as_json)
    log_path = log_path or Path(".run") / "demo" / "services.log"
    timings: dict[str, float] = {}
    started = time.monotonic()
    with quiet_logs(log_path):
        if mode == "embedded":
            report = asyncio.run(run_demo(mesh_config(None, None), mode=mode, console=console))
        elif mode == "env":
            kafka = os.environ.get("CASEMESH_KAFKA_BOOTSTRAP_SERVERS")
            mongodb_url = os.environ.get("CASEMESH_MONGODB_URL")
            if not kafka or not mongodb_url:
                console.print(
                    "[red]--infra env needs CASEMESH_KAFKA_BOOTSTRAP_SERVERS and CASEMESH_MONGODB_URL[/red]"
                )
                return 2
            cluster = KafkaCluster.from_env(kafka)
            config = mesh_config(kafka, mongodb_url, cluster)
            report = asyncio.run(run_demo(config, mode=mode, console=console))
        else:
            with local_infrastructure(console, timings) as (cluster, mongodb_url):
                config = mesh_config(cluster.bootstrap_servers, mongodb_url, cluster)
                report = asyncio.run(run_demo(config, mode=mode, timings=timings, console=console))
    report.timings["total"] = time.monotonic() - started
    if as_json:
        print(json.dumps(report.to_json(), indent=2))
    else:
        render(report, console)
        console.print(f"[dim]service logs: {log_path}[/dim]")
    return 0 if report.ok else 1


if __name__ == "__main__":
    sys.exit(main())
