"""``casemesh run referrals`` replicas as OS processes, each in its own process group.

The set behaves like an orchestrator: a replica that exits without being told to (a crash, a
failed start while the broker or the store is away) is counted and started again. Every process
it starts is killed by ``close`` — SIGCONT first for a stopped one, then SIGKILL to its group.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import os
import signal
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import httpx

from deploy.local.localinfra import free_port
from kit.transport import KafkaCluster
from tests.chaos.workload import PS_TEAMS_JSON, SERVICE
from tests.support import group_state

PREFIX = f"CASEMESH_{SERVICE.upper()}_"
#: ``CASEMESH_CHAOS_REFERRALS_X=v`` in the suite's environment becomes ``CASEMESH_REFERRALS_X=v`` in
#: every replica's (e.g. a setting a newer kit has), overriding the suite's own choice.
PASSTHROUGH = f"CASEMESH_CHAOS_{SERVICE.upper()}_"
GRACEFUL_TIMEOUT_S = 10.0
STOP_MARGIN_S = 10.0
MAX_RESTARTS = 60
PR_SET_PDEATHSIG = 1


@dataclass
class Replica:
    name: str
    process: asyncio.subprocess.Process
    port: int
    log_path: Path
    log_file: IO[bytes]
    started_at: float
    told_to_exit: bool = False
    paused: bool = False

    @property
    def pid(self) -> int:
        return self.process.pid

    @property
    def running(self) -> bool:
        return self.process.returncode is None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def tail(self, lines: int = 20) -> str:
        with contextlib.suppress(OSError):
            self.log_file.flush()
            text = self.log_path.read_text(encoding="utf-8", errors="replace")
            return "\n".join(text.splitlines()[-lines:])
        return ""


@dataclass
class Exit:
    replica: str
    code: int | None
    seconds: float
    signal: str
    note: str = ""


@dataclass
class ReplicaSet:
    kafka: KafkaCluster
    mongodb_url: str
    database: str
    group: str
    suffix: str
    source: Path
    logs: Path
    started: list[Replica] = field(default_factory=list)
    unexpected: list[Exit] = field(default_factory=list)
    """Exits nobody asked for, each followed by a restart (as an orchestrator would)."""
    _supervisor: asyncio.Task[None] | None = None

    # -- starting

    def environment(self, port: int) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(PREFIX)}
        # Each replica acts as the service's own principal on the secured broker.
        env.update(self.kafka.environment(PREFIX, SERVICE))
        settings = {
            "MONGODB_URL": self.mongodb_url,
            "MONGODB_DATABASE": self.database,
            "CONSUMER_GROUP": self.group,
            "TOPIC_SUFFIX": self.suffix,
            "HTTP_PORT": str(port),
            "GRACEFUL_TIMEOUT_S": str(GRACEFUL_TIMEOUT_S),
            "OUTBOX_TAKEOVER_S": "1.0",
            "BROKER_LOG_LEVEL": "30",
            "PS_TEAMS": PS_TEAMS_JSON,
        }
        settings.update(
            {k[len(PASSTHROUGH) :]: v for k, v in os.environ.items() if k.startswith(PASSTHROUGH)}
        )
        env.update({PREFIX + name: value for name, value in settings.items()})
        env["PYTHONPATH"] = str(self.source)
        env["PYTHONUNBUFFERED"] = "1"
        return env

    async def start(self) -> Replica:
        taken = {r.port for r in self.started}
        port = free_port()
        while port in taken:
            port = free_port()
        name = f"replica-{len(self.started) + 1}"
        self.logs.mkdir(parents=True, exist_ok=True)
        log_path = self.logs / f"{name}.log"
        log_file = log_path.open("wb")
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "casemesh.cli",
            "run",
            SERVICE,
            cwd=self.source,
            env=self.environment(port),
            stdin=asyncio.subprocess.DEVNULL,
            stdout=log_file,
            stderr=asyncio.subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=_die_with_parent,
        )
        replica = Replica(name, process, port, log_path, log_file, time.monotonic())
        self.started.append(replica)
        return replica

    @property
    def running(self) -> list[Replica]:
        return [r for r in self.started if r.running and not r.told_to_exit]

    async def wait_ready(self, replica: Replica, timeout_s: float = 90.0) -> bool:
        """Until ``/health/ready`` answers 200 (store and broker reachable, consuming); bounded."""
        deadline = time.monotonic() + timeout_s
        async with httpx.AsyncClient(base_url=replica.url, timeout=2.0) as client:
            while time.monotonic() < deadline:
                if not replica.running:
                    return False
                with contextlib.suppress(httpx.HTTPError):
                    if (await client.get("/health/ready")).status_code == 200:
                        return True
                await asyncio.sleep(0.2)
        return False

    async def wait_group(self, members: int, timeout_s: float = 90.0) -> bool:
        """Until the group is Stable with ``members`` members, each assigned partitions; bounded."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            with contextlib.suppress(Exception):
                state, assigned = await group_state(self.kafka, self.group)
                if state == "Stable" and len(assigned) == members and all(assigned):
                    return True
            await asyncio.sleep(0.5)
        return False

    async def start_ready(self, count: int) -> list[Replica]:
        """``count`` replicas, ready and sharing the group's partitions."""
        new = [await self.start() for _ in range(count)]
        ready = await asyncio.gather(*(self.wait_ready(r) for r in new))
        if not all(ready):
            broken = [r for r, ok in zip(new, ready, strict=True) if not ok]
            raise RuntimeError(f"{broken[0].name} did not become ready:\n{broken[0].tail()}")
        if not await self.wait_group(len(self.running)):
            raise RuntimeError(f"the group did not settle with {len(self.running)} members")
        return new

    # -- faults

    def signal(self, replica: Replica, sig: signal.Signals) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(replica.pid, sig)

    async def sigkill(self, replica: Replica) -> Exit:
        replica.told_to_exit = True
        began = time.monotonic()
        self.signal(replica, signal.SIGCONT)
        self.signal(replica, signal.SIGKILL)
        code = await _wait(replica, 15.0)
        return Exit(replica.name, code, time.monotonic() - began, "SIGKILL")

    async def sigterm(self, replica: Replica) -> Exit:
        """SIGTERM and the time until the process exited; SIGKILL if it overran the run command's own
        bound (graceful timeout + margin) by 5 s."""
        replica.told_to_exit = True
        began = time.monotonic()
        self.signal(replica, signal.SIGTERM)
        code = await _wait(replica, GRACEFUL_TIMEOUT_S + STOP_MARGIN_S + 5)
        seconds = time.monotonic() - began
        if code is None:
            self.signal(replica, signal.SIGKILL)
            await _wait(replica, 10.0)
            return Exit(replica.name, None, seconds, "SIGTERM", "hung: killed")
        return Exit(replica.name, code, seconds, "SIGTERM")

    def pause(self, replica: Replica) -> None:
        replica.paused = True
        self.signal(replica, signal.SIGSTOP)

    def resume(self, replica: Replica) -> None:
        self.signal(replica, signal.SIGCONT)
        replica.paused = False

    # -- supervision

    def supervise(self) -> None:
        if self._supervisor is None:
            self._supervisor = asyncio.create_task(self._watch(), name="chaos-supervisor")

    async def _watch(self) -> None:
        while True:
            await asyncio.sleep(0.5)
            for replica in list(self.started):
                if replica.running or replica.told_to_exit:
                    continue
                replica.told_to_exit = True  # handled once
                self.unexpected.append(
                    Exit(
                        replica.name,
                        replica.process.returncode,
                        time.monotonic() - replica.started_at,
                        "none",
                        replica.tail(3),
                    )
                )
                if len(self.unexpected) <= MAX_RESTARTS:
                    await asyncio.sleep(1.0)
                    try:
                        await self.start()
                    except OSError as exc:
                        self.unexpected.append(
                            Exit(replica.name, None, 0.0, "none", f"restart failed: {exc}")
                        )

    async def stop_supervising(self) -> None:
        if self._supervisor is not None:
            self._supervisor.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._supervisor
            self._supervisor = None

    # -- the end

    async def stop_all(self) -> list[Exit]:
        """SIGTERM to every running replica at once; their exits."""
        await self.stop_supervising()
        for replica in self.started:
            if replica.running and replica.paused:
                self.resume(replica)
        return list(await asyncio.gather(*(self.sigterm(r) for r in self.started if r.running)))

    async def close(self) -> None:
        """Kills whatever is left (every process group this set started) and closes the logs."""
        await self.stop_supervising()
        for replica in self.started:
            if replica.running:
                self.signal(replica, signal.SIGCONT)
                self.signal(replica, signal.SIGKILL)
                await _wait(replica, 10.0)
            replica.log_file.close()

    def exits(self) -> Mapping[str, int | None]:
        return {r.name: r.process.returncode for r in self.started}


def _die_with_parent() -> None:
    """In the child before exec: SIGKILL it if the suite's process dies (Linux ``PR_SET_PDEATHSIG``),
    so even a killed suite leaves no replica behind."""
    with contextlib.suppress(Exception):
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)


async def _wait(replica: Replica, timeout_s: float) -> int | None:
    try:
        return await asyncio.wait_for(replica.process.wait(), timeout=timeout_s)
    except TimeoutError:
        return None
