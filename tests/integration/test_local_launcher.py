"""deploy/local brings Kafka and FerretDB up, reports them, and takes them down cleanly."""

from __future__ import annotations

from pathlib import Path

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
    finally:
        infra.down()
    assert not any(pid is not None and _pid_alive(pid) for pid in pids)
    assert infra.status()["kafka"]["pid"] is None  # type: ignore[index]


def test_a_second_install_reuses_the_cached_kafka_jars_and_ferretdb_binary(tmp_path: Path) -> None:
    cfg = LocalInfraConfig.from_env(run_dir=tmp_path)
    install(cfg)
    kafka_jar = cfg.kafka_libs / "kafka_2.13-3.9.1.jar"
    before = (kafka_jar.stat().st_mtime_ns, cfg.ferretdb_bin.stat().st_mtime_ns)
    install(cfg)
    assert (kafka_jar.stat().st_mtime_ns, cfg.ferretdb_bin.stat().st_mtime_ns) == before
