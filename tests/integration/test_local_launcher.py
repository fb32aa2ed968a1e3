"""deploy/local brings Kafka and FerretDB up, reports them, and takes them down cleanly."""

from __future__ import annotations

import asyncio
import stat
from pathlib import Path

from aiokafka.admin import AIOKafkaAdminClient

from deploy.kafka.acls import Acl, acl_table, describe_acls
from deploy.local.localinfra import LocalInfra, LocalInfraConfig, _pid_alive, _read_pid, install


def test_the_launcher_starts_both_servers_reports_them_ready_and_stops_without_leftovers(
    tmp_path: Path,
) -> None:
    infra = LocalInfra(LocalInfraConfig.with_free_ports(tmp_path / "run"))
    try:
        infra.up()
        status = infra.status()
        pids = [_read_pid(infra.kafka_dir / "kafka.pid"), _read_pid(infra.ferret_dir / "ferretdb.pid")]
        assert status["kafka"]["ready"] is True  # type: ignore[index]
        assert status["ferretdb"]["ready"] is True  # type: ignore[index]
        assert all(pid is not None and _pid_alive(pid) for pid in pids)
        assert "Kafka Server started" in (infra.kafka_dir / "server.log").read_text()
        assert status["kafka"]["security_protocol"] == "SASL_SSL"  # type: ignore[index]
        assert stat.S_IMODE(infra.credentials_file.stat().st_mode) == 0o600
        assert stat.S_IMODE((infra.kafka_dir / "server.properties").stat().st_mode) == 0o600
        env = infra.env()
        assert env["CASEMESH_KAFKA_SECURITY_FILE"] == str(infra.credentials_file)
        assert not any(
            secret.get_secret_value() in " ".join(env.values())
            for secret in infra.cluster().passwords.values()
        )
    finally:
        infra.down()
    assert not any(pid is not None and _pid_alive(pid) for pid in pids)
    assert infra.status()["kafka"]["pid"] is None  # type: ignore[index]


def test_up_is_idempotent_and_after_a_restart_the_passwords_are_the_same_and_the_acls_in_place(
    tmp_path: Path,
) -> None:
    infra = LocalInfra(LocalInfraConfig.with_free_ports(tmp_path / "run"))
    try:
        infra.up()
        first = {name: secret.get_secret_value() for name, secret in infra.cluster().passwords.items()}
        pid = infra.kafka_pid()
        infra.up()  # already running: nothing restarts
        assert infra.kafka_pid() == pid
        infra.down()
        infra.up()  # the same storage: the same SCRAM users, the ACLs still there
        again = {name: secret.get_secret_value() for name, secret in infra.cluster().passwords.items()}
        assert again == first
        assert asyncio.run(_acls_held(infra)) == set(acl_table())
    finally:
        infra.down()


async def _acls_held(infra: LocalInfra) -> set[Acl]:
    """The bindings the broker holds, read by a principal of its own (so its password still works)."""
    admin = AIOKafkaAdminClient(**infra.cluster().options(), request_timeout_ms=5000)
    try:
        await admin.start()
        return await describe_acls(admin)
    finally:
        await admin.close()


def test_a_second_install_reuses_the_cached_kafka_jars_and_ferretdb_binary(tmp_path: Path) -> None:
    cfg = LocalInfraConfig.from_env(run_dir=tmp_path)
    install(cfg)
    kafka_jar = cfg.kafka_libs / "kafka_2.13-3.9.1.jar"
    before = (kafka_jar.stat().st_mtime_ns, cfg.ferretdb_bin.stat().st_mtime_ns)
    install(cfg)
    assert (kafka_jar.stat().st_mtime_ns, cfg.ferretdb_bin.stat().st_mtime_ns) == before
