"""Local Kafka 3.9.1 (KRaft) and FerretDB 1.24.2 for machines without a Docker engine.

    python -m deploy.local.localinfra up|down|status|env [--service NAME]|acls|install

Everything is configured by environment variables (see ``LocalInfraConfig.from_env``).
Binaries are cached outside the clone (``CASEMESH_CACHE_DIR``, default ``~/.cache/casemesh``)
so a second start, or a fresh clone, neither downloads nor rebuilds anything.
Data, logs and pid files live in the run folder (``CASEMESH_LOCAL_RUN_DIR``).

Kafka is secured as production is (docs/decisions/0007-broker-security.md):

- the client listener is **SASL_SSL with SCRAM-SHA-512**: TLS with a CA and a broker certificate
  for 127.0.0.1/localhost generated into ``<run>/kafka/tls`` (PEM files Kafka reads itself), and
  one SCRAM user per principal, created when the storage is formatted
  (``kafka-storage format --add-scram``) with random passwords;
- the **controller listener** binds 127.0.0.1 only and is SASL_PLAINTEXT with the PLAIN
  mechanism and one user, the broker itself (authenticated, not encrypted: it never leaves the
  loopback interface);
- the **StandardAuthorizer** allows nothing no ACL allows; the ACLs (``deploy/kafka/acls.py``,
  printed by ``acls``) are created at every start by the ``admin`` super user.

Clients read ``<run>/kafka/credentials.json`` (mode 0600: bootstrap servers, security protocol,
mechanism, CA file, each principal's password); ``env`` prints the variables naming it, and
``env --service referrals`` the variables ``casemesh run referrals`` needs to act as ``referrals``.
The FerretDB store has no authentication (compose's MongoDB has).
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import json
import os
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path

from pydantic import SecretStr

from deploy.kafka import acls as kafka_acls
from deploy.kafka import tls as kafka_tls
from deploy.kafka.broker import client_cluster, new_passwords, scram_arguments, security_properties
from kit.transport import ADMIN, SECURITY_FILE_VARIABLE, KafkaCluster

KAFKA_VERSION = "3.9.1"
FERRETDB_VERSION = "v1.24.2"
FERRETDB_MODULE = "github.com/FerretDB/FerretDB"
REPO_ROOT = Path(__file__).resolve().parents[2]
POM = Path(__file__).resolve().parent / "pom.xml"


class InfraError(RuntimeError):
    """The local infrastructure could not be installed or started."""


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass(frozen=True)
class LocalInfraConfig:
    cache_dir: Path
    run_dir: Path
    kafka_port: int = 19092
    kafka_controller_port: int = 19093
    kafka_heap_mb: int = 512
    ferretdb_port: int = 27027
    ferretdb_debug_port: int = 18088
    start_timeout_s: float = 120.0

    @classmethod
    def from_env(cls, **overrides: object) -> LocalInfraConfig:
        env = os.environ
        cfg = cls(
            cache_dir=Path(env.get("CASEMESH_CACHE_DIR", Path.home() / ".cache" / "casemesh")),
            run_dir=Path(env.get("CASEMESH_LOCAL_RUN_DIR", REPO_ROOT / ".run" / "local")),
            kafka_port=int(env.get("CASEMESH_LOCAL_KAFKA_PORT", 19092)),
            kafka_controller_port=int(env.get("CASEMESH_LOCAL_KAFKA_CONTROLLER_PORT", 19093)),
            kafka_heap_mb=int(env.get("CASEMESH_LOCAL_KAFKA_HEAP_MB", 512)),
            ferretdb_port=int(env.get("CASEMESH_LOCAL_FERRETDB_PORT", 27027)),
            ferretdb_debug_port=int(env.get("CASEMESH_LOCAL_FERRETDB_DEBUG_PORT", 18088)),
            start_timeout_s=float(env.get("CASEMESH_LOCAL_START_TIMEOUT_S", 120)),
        )
        return replace(cfg, **overrides)  # type: ignore[arg-type]

    @classmethod
    def with_free_ports(cls, run_dir: Path) -> LocalInfraConfig:
        """A configuration on ports nobody else holds, so two runs can't collide."""
        return cls.from_env(
            run_dir=run_dir,
            kafka_port=free_port(),
            kafka_controller_port=free_port(),
            ferretdb_port=free_port(),
            ferretdb_debug_port=free_port(),
        )

    @property
    def kafka_libs(self) -> Path:
        return self.cache_dir / f"kafka-{KAFKA_VERSION}" / "libs"

    @property
    def ferretdb_bin(self) -> Path:
        return self.cache_dir / "bin" / f"ferretdb-{FERRETDB_VERSION}"

    @property
    def bootstrap_servers(self) -> str:
        return f"127.0.0.1:{self.kafka_port}"

    @property
    def mongodb_url(self) -> str:
        return f"mongodb://127.0.0.1:{self.ferretdb_port}/"


# ---------------------------------------------------------------- installation


def _run(
    cmd: list[str], *, cwd: Path | None = None, env: dict[str, str] | None = None, secret: bool = False
) -> None:
    """Runs ``cmd``; ``secret`` keeps its arguments (passwords) out of the error."""
    proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        shown = " ".join(cmd[: cmd.index("-cp") + 3] if secret and "-cp" in cmd else cmd)
        raise InfraError(
            f"{shown}{' …' if secret else ''} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}"
        )


def _write_private(path: Path, text: str) -> None:
    """Writes ``text`` to ``path``, readable by its owner only from the first byte."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.unlink(missing_ok=True)
    with os.fdopen(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "w", encoding="utf-8") as out:
        out.write(text)
    tmp.replace(path)


def _escape_property(value: str) -> str:
    """A value as a Java properties file reads it back."""
    return value.replace("\\", "\\\\")


def install_kafka(cfg: LocalInfraConfig) -> None:
    """Copies kafka_2.13 and its runtime dependencies from Maven Central into the cache."""
    marker = cfg.kafka_libs / f"kafka_2.13-{KAFKA_VERSION}.jar"
    if marker.exists():
        return
    if not shutil.which("mvn"):
        raise InfraError("Maven (mvn) is needed to fetch Kafka: apt-get install maven")
    cfg.kafka_libs.mkdir(parents=True, exist_ok=True)
    _run(
        [
            "mvn",
            "-B",
            "-q",
            "-f",
            str(POM),
            "dependency:copy-dependencies",
            f"-DoutputDirectory={cfg.kafka_libs}",
        ]
    )
    if not marker.exists():
        raise InfraError(f"Maven ran but {marker} is missing")


def install_ferretdb(cfg: LocalInfraConfig) -> None:
    """Builds FerretDB from the Go module proxy into the cache.

    Plain ``go install …/cmd/ferretdb@v1.24.2`` does not work here, for two reasons written
    down in docs/decisions/0001-local-infrastructure.md: this proxy refuses the module's
    version list (which ``go install`` reads for deprecations), and the module zip lacks the
    generated ``build/version/version.txt``, without which the binary panics at start. So the
    module is downloaded at its pinned version, copied next to the cache, given that file,
    and built with ``go build`` — the same source, the same binary.
    """
    if cfg.ferretdb_bin.exists():
        return
    if not shutil.which("go"):
        raise InfraError("Go is needed to build FerretDB")
    env = dict(os.environ, GOFLAGS="-mod=mod", CGO_ENABLED="0")
    work = cfg.cache_dir / "src" / "download"
    work.mkdir(parents=True, exist_ok=True)
    (work / "go.mod").write_text("module casemesh/ferretdb-download\n\ngo 1.22\n")
    proc = subprocess.run(
        ["go", "mod", "download", "-json", f"{FERRETDB_MODULE}@{FERRETDB_VERSION}"],
        cwd=work,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode != 0:
        raise InfraError(f"go mod download failed:\n{proc.stdout}\n{proc.stderr}")
    module_dir = Path(json.loads(proc.stdout)["Dir"])
    src = cfg.cache_dir / "src" / f"ferretdb-{FERRETDB_VERSION}"
    if src.exists():
        shutil.rmtree(src)
    shutil.copytree(module_dir, src)
    for path in src.rglob("*"):
        path.chmod(path.stat().st_mode | 0o200)
    (src / "build" / "version" / "version.txt").write_text(FERRETDB_VERSION + "\n")
    cfg.ferretdb_bin.parent.mkdir(parents=True, exist_ok=True)
    tmp_bin = cfg.ferretdb_bin.with_suffix(".tmp")
    _run(["go", "build", "-trimpath", "-o", str(tmp_bin), "./cmd/ferretdb"], cwd=src, env=env)
    tmp_bin.rename(cfg.ferretdb_bin)


def install(cfg: LocalInfraConfig) -> None:
    install_kafka(cfg)
    install_ferretdb(cfg)


# ---------------------------------------------------------------- processes


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    with contextlib.suppress(OSError):
        stat = Path(f"/proc/{pid}/stat").read_text()
        if stat.split(")")[-1].split()[0] == "Z":
            return False
    return True


def _read_pid(path: Path) -> int | None:
    try:
        return int(path.read_text().strip())
    except (OSError, ValueError):
        return None


def _spawn(cmd: list[str], log: Path, pid_file: Path, env: dict[str, str] | None = None) -> int:
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("ab") as out:
        proc = subprocess.Popen(
            cmd,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
            env=env,
        )
    pid_file.write_text(str(proc.pid))
    return proc.pid


def _stop_pid(pid_file: Path, timeout_s: float = 20.0) -> None:
    pid = _read_pid(pid_file)
    if pid is None:
        return
    if _pid_alive(pid):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout_s
        while _pid_alive(pid) and time.monotonic() < deadline:
            with contextlib.suppress(ChildProcessError):
                os.waitpid(pid, os.WNOHANG)
            time.sleep(0.1)
        if _pid_alive(pid):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pid, signal.SIGKILL)
            time.sleep(0.2)
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)
    pid_file.unlink(missing_ok=True)


def _signal_and_wait(pid_file: Path, sig: signal.Signals, timeout_s: float) -> float:
    """Sends ``sig`` to the process group in ``pid_file`` and waits until it is gone (SIGKILL after
    ``timeout_s``); returns the seconds it took. Unlike ``_stop_pid`` it keeps the pid file's
    folder and data exactly as the signal left them, so the same server can be started again."""
    pid = _read_pid(pid_file)
    began = time.monotonic()
    if pid is None or not _pid_alive(pid):
        pid_file.unlink(missing_ok=True)
        return 0.0
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, sig)
    deadline = began + timeout_s
    while _pid_alive(pid) and time.monotonic() < deadline:
        with contextlib.suppress(ChildProcessError):
            os.waitpid(pid, os.WNOHANG)
        time.sleep(0.05)
    if _pid_alive(pid):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pid, signal.SIGKILL)
        kill_deadline = time.monotonic() + 10.0
        while _pid_alive(pid) and time.monotonic() < kill_deadline:
            with contextlib.suppress(ChildProcessError):
                os.waitpid(pid, os.WNOHANG)
            time.sleep(0.05)
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)
    pid_file.unlink(missing_ok=True)
    return time.monotonic() - began


@dataclass
class LocalInfra:
    cfg: LocalInfraConfig
    timings: dict[str, float] = field(default_factory=dict)
    _acls_applied_to: int | None = field(default=None, repr=False)
    """The broker process the ACL table was last created on."""

    @property
    def kafka_dir(self) -> Path:
        return self.cfg.run_dir / "kafka"

    @property
    def ferret_dir(self) -> Path:
        return self.cfg.run_dir / "ferretdb"

    @property
    def credentials_file(self) -> Path:
        """What a client needs to reach Kafka as any principal (JSON, mode 0600)."""
        return self.kafka_dir / "credentials.json"

    @property
    def tls(self) -> kafka_tls.BrokerTls:
        return kafka_tls.BrokerTls(self.kafka_dir / "tls")

    @property
    def _broker_secret_file(self) -> Path:
        return self.kafka_dir / "broker.secret"

    def cluster(self) -> KafkaCluster:
        """The secured cluster and every client principal's password (from the credentials file)."""
        return KafkaCluster.read(self.credentials_file)

    # -- kafka

    def _credentials(self, formatted: bool) -> dict[str, SecretStr]:
        """Every principal's password: new ones for new storage, else those it was formatted with.
        The credentials file is written again either way (the ports may have changed)."""
        tls = kafka_tls.ensure(self.kafka_dir / "tls")
        if formatted:
            try:
                known = dict(self.cluster().passwords)
                known[kafka_acls.BROKER] = SecretStr(
                    self._broker_secret_file.read_text(encoding="utf-8").strip()
                )
            except (OSError, ValueError) as exc:
                raise InfraError(
                    f"{self.kafka_dir} holds Kafka data but not its credentials ({type(exc).__name__}); "
                    "remove the run folder and start again"
                ) from None
            passwords = known
        else:
            passwords = new_passwords()
            _write_private(self._broker_secret_file, passwords[kafka_acls.BROKER].get_secret_value())
        client_cluster(self.cfg.bootstrap_servers, tls, passwords).write(self.credentials_file)
        return passwords

    def _kafka_properties(self, broker_password: SecretStr) -> Path:
        c = self.cfg
        props = {
            "process.roles": "broker,controller",
            "node.id": "1",
            "controller.quorum.voters": f"1@127.0.0.1:{c.kafka_controller_port}",
            **security_properties(
                client_listener=f"127.0.0.1:{c.kafka_port}",
                advertised_listener=f"127.0.0.1:{c.kafka_port}",
                controller_listener=f"127.0.0.1:{c.kafka_controller_port}",
                tls=self.tls,
                broker_password=broker_password,
            ),
            "log.dirs": str(self.kafka_dir / "data"),
            "num.partitions": "3",
            "auto.create.topics.enable": "false",
            "offsets.topic.replication.factor": "1",
            "offsets.topic.num.partitions": "6",
            "transaction.state.log.replication.factor": "1",
            "transaction.state.log.min.isr": "1",
            "transaction.state.log.num.partitions": "6",
            "group.initial.rebalance.delay.ms": "0",
            # For throwaway topics created without configs (the tests', the bench's). A registered
            # topic carries its own retention (kit/topic_configs.py), which wins over this.
            "log.retention.hours": "24",
            "log.segment.bytes": "16777216",
        }
        path = self.kafka_dir / "server.properties"
        # It holds the broker's password and the TLS key's: its owner's only.
        _write_private(path, "".join(f"{k}={_escape_property(v)}\n" for k, v in props.items()))
        log4j = self.kafka_dir / "log4j.properties"
        log4j.write_text(
            "log4j.rootLogger=INFO, file\n"
            "log4j.appender.file=org.apache.log4j.FileAppender\n"
            f"log4j.appender.file.File={self.kafka_dir / 'server.log'}\n"
            "log4j.appender.file.layout=org.apache.log4j.PatternLayout\n"
            "log4j.appender.file.layout.ConversionPattern=[%d] %p %m (%c)%n\n"
            "log4j.logger.kafka=INFO\nlog4j.logger.org.apache.kafka=INFO\n"
        )
        return path

    def _java(self, main: str, *args: str, heap_mb: int = 256) -> list[str]:
        return [
            "java",
            f"-Xmx{heap_mb}m",
            f"-Xms{min(heap_mb, 128)}m",
            "-XX:+UseSerialGC",
            "-XX:TieredStopAtLevel=1",
            "-Djava.awt.headless=true",
            f"-Dlog4j.configuration=file:{self.kafka_dir / 'log4j.properties'}",
            "-cp",
            f"{self.cfg.kafka_libs}/*",
            main,
            *args,
        ]

    def start_kafka(self) -> None:
        pid_file = self.kafka_dir / "kafka.pid"
        pid = _read_pid(pid_file)
        if pid is not None and _pid_alive(pid):
            return
        self.kafka_dir.mkdir(parents=True, exist_ok=True)
        self.kafka_dir.chmod(0o700)
        formatted = (self.kafka_dir / "data" / "meta.properties").exists()
        passwords = self._credentials(formatted)
        props = self._kafka_properties(passwords[kafka_acls.BROKER])
        if not formatted:
            cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
            # One form for any id: an id that starts with "-" would otherwise read as an option.
            # Every SCRAM user is in the metadata log from the first moment (KIP-900).
            _run(
                self._java(
                    "kafka.tools.StorageTool",
                    "format",
                    f"--cluster-id={cluster_id}",
                    "-c",
                    str(props),
                    *scram_arguments(passwords),
                ),
                secret=True,
            )
        self._acls_applied_to = None
        (self.kafka_dir / "server.log").unlink(missing_ok=True)
        _spawn(
            self._java("kafka.Kafka", str(props), heap_mb=self.cfg.kafka_heap_mb),
            self.kafka_dir / "kafka.out",
            pid_file,
        )

    def kafka_started(self) -> bool:
        log = self.kafka_dir / "server.log"
        return log.exists() and "Kafka Server started" in log.read_text(errors="replace")

    def kafka_can_create_topic(self) -> bool:
        """Whether the admin principal can create (and delete) a topic; the first time after a
        start it creates the ACL table too (idempotent: the bindings outlive restarts anyway)."""
        import asyncio

        from aiokafka.admin import AIOKafkaAdminClient, NewTopic

        pid = self.kafka_pid()

        async def probe() -> bool:
            admin = AIOKafkaAdminClient(**self.cluster().options(ADMIN), request_timeout_ms=5000)
            try:
                await admin.start()
                if pid is not None and self._acls_applied_to != pid:
                    await kafka_acls.create_acls(admin)
                    self._acls_applied_to = pid
                name = f"casemesh.readiness.{uuid.uuid4().hex[:8]}"
                await admin.create_topics([NewTopic(name, 1, 1)])
                await admin.delete_topics([name])
                return True
            finally:
                await admin.close()

        try:
            return asyncio.run(probe())
        except Exception:
            return False

    # -- ferretdb

    def start_ferretdb(self) -> None:
        pid_file = self.ferret_dir / "ferretdb.pid"
        pid = _read_pid(pid_file)
        if pid is not None and _pid_alive(pid):
            return
        data = self.ferret_dir / "data"
        state = self.ferret_dir / "state"
        data.mkdir(parents=True, exist_ok=True)
        state.mkdir(parents=True, exist_ok=True)
        c = self.cfg
        _spawn(
            [
                str(c.ferretdb_bin),
                "--handler=sqlite",
                f"--sqlite-url=file:{data}/",
                f"--state-dir={state}",
                f"--listen-addr=127.0.0.1:{c.ferretdb_port}",
                f"--debug-addr=127.0.0.1:{c.ferretdb_debug_port}",
                "--telemetry=disable",
                "--log-level=warn",
                "--log-format=text",
            ],
            self.ferret_dir / "ferretdb.log",
            pid_file,
            env=dict(os.environ, FERRETDB_TELEMETRY="disable", DO_NOT_TRACK="1"),
        )

    def ferretdb_live(self) -> bool:
        url = f"http://127.0.0.1:{self.cfg.ferretdb_debug_port}/debug/livez"
        try:
            with urllib.request.urlopen(url, timeout=2) as resp:
                return bool(resp.status == 200)
        except OSError:
            return False

    def ferretdb_pings(self) -> bool:
        from pymongo import MongoClient

        client: MongoClient[dict[str, object]] = MongoClient(
            self.cfg.mongodb_url, serverSelectionTimeoutMS=2000
        )
        try:
            client.admin.command("ping")
            return True
        except Exception:
            return False
        finally:
            client.close()

    # -- lifecycle

    def up(self, on_phase: Callable[[str], None] | None = None) -> None:
        """Installs what is missing, starts both and waits until they answer; ``on_phase`` hears each step."""
        phase = on_phase or (lambda _: None)
        t0 = time.monotonic()
        phase("installing Kafka and FerretDB (cached after the first time)")
        install(self.cfg)
        self.timings["install_s"] = time.monotonic() - t0
        t1 = time.monotonic()
        phase("starting FerretDB and Kafka")
        self.start_ferretdb()
        self.start_kafka()
        phase("waiting for FerretDB")
        self._wait("FerretDB livez", lambda: self.ferretdb_live() and self.ferretdb_pings(), self.ferret_dir)
        phase("waiting for Kafka")
        self._wait("Kafka", lambda: self.kafka_started() and self.kafka_can_create_topic(), self.kafka_dir)
        self.timings["start_s"] = time.monotonic() - t1

    def _wait(self, what: str, ready: object, logs: Path) -> None:
        assert callable(ready)
        deadline = time.monotonic() + self.cfg.start_timeout_s
        while time.monotonic() < deadline:
            if ready():
                return
            self._check_alive(what, logs)
            time.sleep(0.1)
        raise InfraError(f"{what} not ready after {self.cfg.start_timeout_s:.0f}s; logs in {logs}")

    def _check_alive(self, what: str, logs: Path) -> None:
        for pid_file in logs.glob("*.pid"):
            pid = _read_pid(pid_file)
            if pid is not None and not _pid_alive(pid):
                raise InfraError(f"{what} exited during start; logs in {logs}")

    def down(self) -> None:
        _stop_pid(self.kafka_dir / "kafka.pid")
        _stop_pid(self.ferret_dir / "ferretdb.pid")

    def stop_ferretdb(self) -> None:
        """Stops only the store (tests use it to prove nothing is lost while it is away)."""
        _stop_pid(self.ferret_dir / "ferretdb.pid")

    # -- one server at a time (the fault suite, tests/chaos): stop, crash and start again on the
    # -- same ports and data folder

    def kafka_pid(self) -> int | None:
        pid = _read_pid(self.kafka_dir / "kafka.pid")
        return pid if pid is not None and _pid_alive(pid) else None

    def ferretdb_pid(self) -> int | None:
        pid = _read_pid(self.ferret_dir / "ferretdb.pid")
        return pid if pid is not None and _pid_alive(pid) else None

    def stop_kafka(self, sig: signal.Signals = signal.SIGTERM, timeout_s: float = 60.0) -> float:
        """Stops only the broker with ``sig`` and returns the seconds until it was gone.

        SIGTERM is Kafka's controlled shutdown; SIGKILL is a crash (the next start recovers its
        logs). Either way the data folder and ports stay: ``start_kafka`` then ``wait_kafka`` bring
        the same broker, topics, committed offsets and all, back. A broker still running after
        ``timeout_s`` is killed.
        """
        return _signal_and_wait(self.kafka_dir / "kafka.pid", sig, timeout_s)

    def stop_ferretdb_with(self, sig: signal.Signals, timeout_s: float = 30.0) -> float:
        """Stops only the store with ``sig`` (SIGTERM or SIGKILL), keeping its SQLite files, and
        returns the seconds until it was gone; ``start_ferretdb`` then ``wait_ferretdb`` restart it."""
        return _signal_and_wait(self.ferret_dir / "ferretdb.pid", sig, timeout_s)

    def wait_kafka(self) -> None:
        """Waits (at most ``start_timeout_s``) until the broker has started and can create a topic."""
        self._wait("Kafka", lambda: self.kafka_started() and self.kafka_can_create_topic(), self.kafka_dir)

    def wait_ferretdb(self) -> None:
        """Waits (at most ``start_timeout_s``) until the store is live and answers a ping."""
        self._wait("FerretDB livez", lambda: self.ferretdb_live() and self.ferretdb_pings(), self.ferret_dir)

    def restart_kafka(self, sig: signal.Signals = signal.SIGTERM, down_s: float = 0.0) -> dict[str, float]:
        """Stops the broker with ``sig``, leaves it down ``down_s`` seconds, starts it again and waits
        until it is ready; returns the seconds each phase took."""
        stopped = self.stop_kafka(sig)
        time.sleep(down_s)
        began = time.monotonic()
        self.start_kafka()
        self.wait_kafka()
        return {"stop_s": stopped, "down_s": down_s, "start_s": time.monotonic() - began}

    def status(self) -> dict[str, object]:
        def proc(pid_file: Path) -> int | None:
            pid = _read_pid(pid_file)
            return pid if pid is not None and _pid_alive(pid) else None

        kafka_pid = proc(self.kafka_dir / "kafka.pid")
        ferret_pid = proc(self.ferret_dir / "ferretdb.pid")
        return {
            "kafka": {
                "pid": kafka_pid,
                "bootstrap_servers": self.cfg.bootstrap_servers,
                "security_protocol": "SASL_SSL",
                "sasl_mechanism": "SCRAM-SHA-512",
                "ssl_cafile": str(self.tls.ca_file),
                "credentials_file": str(self.credentials_file),
                "principals": list(kafka_acls.CLIENT_PRINCIPALS),
                "ready": bool(kafka_pid) and self.kafka_started() and self.kafka_can_create_topic(),
            },
            "ferretdb": {
                "pid": ferret_pid,
                "url": self.cfg.mongodb_url,
                "ready": bool(ferret_pid) and self.ferretdb_live() and self.ferretdb_pings(),
            },
        }

    def env(self) -> dict[str, str]:
        """Environment variables that point the tests, the demo and the bench at this
        infrastructure. No password: the credentials file holds them (mode 0600)."""
        return {
            "CASEMESH_KAFKA_BOOTSTRAP_SERVERS": self.cfg.bootstrap_servers,
            "CASEMESH_KAFKA_SECURITY_PROTOCOL": "SASL_SSL",
            "CASEMESH_KAFKA_SASL_MECHANISM": "SCRAM-SHA-512",
            "CASEMESH_KAFKA_SSL_CAFILE": str(self.tls.ca_file),
            SECURITY_FILE_VARIABLE: str(self.credentials_file),
            "CASEMESH_MONGODB_URL": self.cfg.mongodb_url,
        }

    def service_env(self, service: str) -> dict[str, str]:
        """What ``casemesh run <service>`` needs to act as its own principal here, password included."""
        prefix = f"CASEMESH_{service.upper()}_"
        return {
            **self.cluster().environment(prefix, service),
            f"{prefix}MONGODB_URL": self.cfg.mongodb_url,
        }


@contextlib.contextmanager
def running(cfg: LocalInfraConfig) -> Iterator[LocalInfra]:
    infra = LocalInfra(cfg)
    try:
        infra.up()
        yield infra
    finally:
        infra.down()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="localinfra", description=__doc__.splitlines()[0])
    parser.add_argument("command", choices=["up", "down", "status", "env", "install", "acls"])
    parser.add_argument(
        "--service", help="env: also the variables (password included) for this principal's `casemesh run`"
    )
    args = parser.parse_args(argv)
    infra = LocalInfra(LocalInfraConfig.from_env())
    if args.command == "install":
        install(infra.cfg)
    elif args.command == "acls":
        print(kafka_acls.table_text())
    elif args.command == "up":
        try:
            infra.up()
        except InfraError as exc:
            print(f"error: {exc}", file=sys.stderr)
            infra.down()
            return 1
        print(json.dumps({"status": "up", **infra.env(), "timings": infra.timings}, indent=2))
    elif args.command == "down":
        infra.down()
        print(json.dumps({"status": "down"}))
    elif args.command == "status":
        status = infra.status()
        print(json.dumps(status, indent=2))
        return 0 if all(v["ready"] for v in status.values()) else 3  # type: ignore[index]
    else:
        variables = infra.env()
        if args.service:
            if args.service not in kafka_acls.CLIENT_PRINCIPALS:
                print(f"error: no principal {args.service!r}", file=sys.stderr)
                return 2
            variables.update(infra.service_env(args.service))
        for k, v in variables.items():
            print(f"export {k}={shlex.quote(v)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
