"""Processes the bench starts: ``casemesh run complaints`` replicas and the naive consumer.

Each runs as its own OS process (what a container runs), with its output in a log file, and is
stopped with SIGTERM (SIGKILL if it overstays). ``PR_SET_PDEATHSIG`` kills it if the bench dies.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import json
import os
import signal
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import httpx
from aiokafka.admin import AIOKafkaAdminClient
from pymongo import AsyncMongoClient

from casemesh.bench.raw import Measured
from casemesh.bench.workload import Workload, create_topics, delete_topics, produce, run_id
from deploy.local.localinfra import free_port
from kit.transport import KafkaCluster

ROOT = Path(__file__).resolve().parents[2]
SERVICE = "complaints"
PREFIX = f"CASEMESH_{SERVICE.upper()}_"
PR_SET_PDEATHSIG = 1
GRACEFUL_TIMEOUT_S = 5.0


def _die_with_parent() -> None:
    with contextlib.suppress(Exception):
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)


@dataclass
class Process:
    name: str
    process: asyncio.subprocess.Process
    log_path: Path
    log_file: IO[bytes]
    port: int = 0

    @property
    def pid(self) -> int:
        return self.process.pid

    @property
    def running(self) -> bool:
        return self.process.returncode is None

    def tail(self, lines: int = 15) -> str:
        self.log_file.flush()
        text = self.log_path.read_text(encoding="utf-8", errors="replace")
        return "\n".join(text.splitlines()[-lines:])

    async def stop(self, timeout_s: float = GRACEFUL_TIMEOUT_S + 15) -> int | None:
        if self.running:
            with contextlib.suppress(ProcessLookupError):
                self.process.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(self.process.wait(), timeout=timeout_s)
            except TimeoutError:
                with contextlib.suppress(ProcessLookupError):
                    self.process.kill()
                await self.process.wait()
        self.log_file.close()
        return self.process.returncode


def open_log(logs: Path, name: str) -> tuple[Path, IO[bytes]]:
    logs.mkdir(parents=True, exist_ok=True)
    log_path = logs / f"{name}.log"
    return log_path, log_path.open("wb")


def read_json(path: Path) -> dict[str, Any] | None:
    if not path.exists():
        return None
    found: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return found


async def spawn(name: str, args: list[str], env: dict[str, str], logs: Path, port: int = 0) -> Process:
    log_path, log_file = open_log(logs, name)
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        *args,
        cwd=ROOT,
        env=env,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=log_file,
        stderr=asyncio.subprocess.STDOUT,
        preexec_fn=_die_with_parent,
    )
    return Process(name, process, log_path, log_file, port)


@dataclass(frozen=True)
class ServiceConfig:
    """Where one run of ``casemesh run complaints`` points, given as its environment variables."""

    kafka: KafkaCluster
    mongodb_url: str
    database: str
    suffix: str
    partitions: int

    @property
    def group(self) -> str:
        return f"casemesh-{SERVICE}{self.suffix}"

    def environment(self, port: int) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(PREFIX)}
        # The service's own principal on a secured broker (bootstrap servers, TLS, credentials).
        env.update(self.kafka.environment(PREFIX, SERVICE))
        settings = {
            "MONGODB_URL": self.mongodb_url,
            "MONGODB_DATABASE": self.database,
            "TOPIC_SUFFIX": self.suffix,
            "CONSUMER_GROUP": self.group,
            "HTTP_PORT": str(port),
            "GRACEFUL_TIMEOUT_S": str(GRACEFUL_TIMEOUT_S),
            # FastStream's per-record access log would cost the service as much as its work; the
            # naive consumer runs at the same level.
            "BROKER_LOG_LEVEL": "30",
        }
        env.update({PREFIX + key: value for key, value in settings.items()})
        env["CASEMESH_TOPIC_PARTITIONS"] = str(self.partitions)
        env["PYTHONUNBUFFERED"] = "1"
        return env


async def start_service(config: ServiceConfig, name: str, logs: Path) -> Process:
    port = free_port()
    return await spawn(name, ["-m", "casemesh.cli", "run", SERVICE], config.environment(port), logs, port)


async def wait_ready(replica: Process, timeout_s: float = 90.0) -> None:
    """Until ``/health/ready`` answers 200; raises with the log's tail if the process ends or stalls."""
    deadline = time.monotonic() + timeout_s
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{replica.port}", timeout=2.0) as client:
        while time.monotonic() < deadline:
            if not replica.running:
                raise RuntimeError(f"{replica.name} exited ({replica.process.returncode}):\n{replica.tail()}")
            with contextlib.suppress(httpx.HTTPError):
                if (await client.get("/health/ready")).status_code == 200:
                    return
            await asyncio.sleep(0.2)
    raise RuntimeError(f"{replica.name} was not ready within {timeout_s:.0f} s:\n{replica.tail()}")


async def wait_settled(
    kafka: KafkaCluster, group: str, replicas: list[Process], timeout_s: float = 90.0
) -> None:
    """Until the group is Stable with one member per replica (each holding its partitions). Raises
    with the log's tail if a replica ends first."""
    admin = AIOKafkaAdminClient(**kafka.options(), request_timeout_ms=5000)
    await admin.start()
    try:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            for replica in replicas:
                if not replica.running:
                    raise RuntimeError(
                        f"{replica.name} exited ({replica.process.returncode}):\n{replica.tail()}"
                    )
            (response,) = await admin.describe_consumer_groups([group])
            state, members = response.groups[0][2], response.groups[0][5]
            if state == "Stable" and len(members) == len(replicas):
                return
            await asyncio.sleep(0.05)
    finally:
        await admin.close()
    raise RuntimeError(f"the group {group} did not settle within {timeout_s:.0f} s:\n{replicas[0].tail()}")


async def scrape(replica: Process) -> str:
    async with httpx.AsyncClient(timeout=5.0) as client:
        response = await client.get(f"http://127.0.0.1:{replica.port}/metrics")
        response.raise_for_status()
        return response.text


# -- N: the naive consumer


async def run_naive(
    kafka: KafkaCluster, mongodb_url: str, workload: Workload, partitions: int, logs: Path, cap_s: float
) -> Measured:
    """N: the timed commands, pre-loaded on a fresh topic, through the naive consumer over a store
    that already holds the customers."""
    run = run_id()
    suffix = f".naive{run}"
    topic = f"casemesh.bench.naive.commands{suffix}"
    database = f"casemesh_bench_naive_{run}"
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(mongodb_url)
    result_path = logs / f"naive-{run}.json"
    try:
        existing = [{"_id": csid, "commands": 0} for csid in workload.customers]
        for start in range(0, len(existing), 500):
            await client[database]["customers"].insert_many(existing[start : start + 500])
        await create_topics(kafka, [topic], partitions)
        await produce(kafka, topic, workload.timed)
        expect = len(workload.timed)
        args = ["-m", "casemesh.bench.naive", "--bootstrap-servers", kafka.bootstrap_servers]
        if kafka.path is not None:  # it acts as the admin, as the bench's own clients do
            args += ["--security-file", str(kafka.path)]
        args += ["--mongodb-url", mongodb_url, "--database", database, "--topic", topic]
        args += ["--group", f"casemesh-bench-naive-{run}", "--expect", str(expect)]
        args += ["--result", str(result_path), "--timeout-s", "120", "--cap-s", str(cap_s)]
        naive = await spawn(f"naive-{run}", args, dict(os.environ, PYTHONUNBUFFERED="1"), logs)
        await wait_exit(naive, 120 + cap_s + 30)  # it exits once it has them all, or at its cap
        code = await naive.stop()
        result = read_json(result_path)
        if result is None:
            raise RuntimeError(f"the naive consumer exited ({code}) with no result:\n{naive.tail()}")
        return naive_measured(result, expect)
    finally:
        await client.drop_database(database)
        await client.close()
        await delete_topics(kafka, suffix)


async def wait_exit(process: Process, timeout_s: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(process.process.wait(), timeout=timeout_s)


def naive_measured(result: dict[str, Any], expect: int) -> Measured:
    first, last, count = result["first"], result["last"], int(result["count"])
    store = sum(last["store"].values()) - sum(first["store"].values())
    kafka = sum(last["kafka"].values()) - sum(first["kafka"].values())
    requests = {
        k: v - first["kafka"].get(k, 0) for k, v in last["kafka"].items() if v - first["kafka"].get(k, 0)
    }
    return Measured(
        "N",
        count,
        float(last["at"]) - float(first["at"]),
        {"naive": (float(last["cpu_s"]) - float(first["cpu_s"])) * 1000 / max(count, 1)},
        store_commands_per_message=store / max(count, 1),
        kafka_requests_per_message=kafka / max(count, 1),
        details={
            "kafka_requests": requests,
            "capped": bool(result.get("capped")),
            "unfinished": expect - count,
        },
    )
