"""``casemesh run SERVICE``: its arguments, its errors, and how it starts and stops a service.

A stand-in service takes the real one's place here; ``tests/integration/cli`` runs the real one.
"""

from __future__ import annotations

import asyncio
import os
import signal

import pytest

from casemesh.cli import main
from casemesh.run import EXIT_FAILED, EXIT_OK, EXIT_USAGE, RunError, serve
from casemesh.services import SERVICES
from kit.settings import ServiceSettings


class StandIn:
    """A service whose start and stop are scripted, and which records what was asked of it."""

    def __init__(
        self,
        *,
        signal_during_start: signal.Signals | None = None,
        signal_after_start: signal.Signals | None = None,
        start_error: BaseException | None = None,
        stop_hangs: bool = False,
        graceful_timeout_s: float = 5.0,
    ) -> None:
        self.settings = ServiceSettings(service_name="standin", graceful_timeout_s=graceful_timeout_s)
        self.signal_during_start = signal_during_start
        self.signal_after_start = signal_after_start
        self.start_error = start_error
        self.stop_hangs = stop_hangs
        self.calls: list[str] = []

    async def start(self) -> None:
        self.calls.append("start")
        if self.signal_during_start is not None:
            os.kill(os.getpid(), self.signal_during_start)
            try:
                await asyncio.sleep(3600)
            except asyncio.CancelledError:
                self.calls.append("start cancelled")
                raise
        if self.start_error is not None:
            raise self.start_error
        if self.signal_after_start is not None:
            asyncio.get_running_loop().call_soon(os.kill, os.getpid(), self.signal_after_start)
        self.calls.append("started")

    async def stop(self) -> None:
        self.calls.append("stop")
        if self.stop_hangs:
            await asyncio.sleep(3600)
        self.calls.append("stopped")


def test_an_unknown_service_exits_2_with_one_line_naming_every_known_service(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["run", "billing"]) == EXIT_USAGE

    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert "unknown service 'billing'" in err
    assert all(name in err for name in SERVICES)
    assert list(SERVICES) == ["referrals", "approvals", "notifications", "complaints", "contacts", "casework"]


def test_run_needs_exactly_one_service_name(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as missing:
        main(["run"])
    assert missing.value.code == 2
    assert "SERVICE" in capsys.readouterr().err

    with pytest.raises(SystemExit) as extra:
        main(["run", "referrals", "approvals"])
    assert extra.value.code == 2
    assert "unrecognized arguments: approvals" in capsys.readouterr().err


def test_run_help_says_where_settings_come_from_and_what_sigterm_does(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit) as shown:
        main(["run", "--help"])
    assert shown.value.code == 0
    help_text = " ".join(capsys.readouterr().out.split())
    assert "usage: casemesh run [-h] SERVICE" in help_text
    assert "CASEMESH_<SERVICE>_" in help_text
    assert "consumer group" in help_text
    assert "SIGTERM" in help_text


def test_an_invalid_setting_is_one_line_naming_its_variable_but_not_its_value(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("CASEMESH_REFERRALS_HTTP_PORT", "s3cret-port")
    monkeypatch.setenv("CASEMESH_REFERRALS_GRACEFUL_TIMEOUT_S", "0")

    assert main(["run", "referrals"]) == EXIT_USAGE

    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert err.startswith("casemesh run referrals: invalid settings: ")
    assert "CASEMESH_REFERRALS_HTTP_PORT: Input should be a valid integer" in err
    assert "CASEMESH_REFERRALS_GRACEFUL_TIMEOUT_S: Input should be greater than 0" in err
    assert "s3cret" not in err
    assert "Traceback" not in err


@pytest.mark.parametrize(
    ("variables", "named"),
    [
        ({"KAFKA_SASL_PASSWORD": "s3cret-kafka"}, "kafka_sasl_username"),
        ({"KAFKA_SASL_USERNAME": "referrals", "KAFKA_SASL_PASSWORD": "s3cret-kafka"}, "kafka_ssl_cafile"),
    ],
)
def test_broker_security_that_cannot_work_stops_the_run_naming_the_setting_never_the_password(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], variables: dict[str, str], named: str
) -> None:
    monkeypatch.setenv("CASEMESH_REFERRALS_KAFKA_SECURITY_PROTOCOL", "SASL_SSL")
    monkeypatch.setenv("CASEMESH_REFERRALS_KAFKA_SSL_CAFILE", "/nowhere/ca.pem")
    for name, value in variables.items():
        monkeypatch.setenv(f"CASEMESH_REFERRALS_{name}", value)

    assert main(["run", "referrals"]) == EXIT_USAGE

    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert err.startswith("casemesh run referrals: invalid settings: ")
    assert named in err
    assert "s3cret" not in err
    assert "Traceback" not in err


def test_a_mapping_setting_that_is_not_json_is_one_line_naming_its_variable(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("CASEMESH_REFERRALS_PS_TEAMS", "{PS Team 1: EMP1}")

    assert main(["run", "referrals"]) == EXIT_USAGE

    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert "CASEMESH_REFERRALS_PS_TEAMS: not valid JSON" in err


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
async def test_a_stop_signal_stops_the_running_service_and_serve_returns_0(sig: signal.Signals) -> None:
    service = StandIn(signal_after_start=sig)

    assert await serve(service) == EXIT_OK
    assert service.calls == ["start", "started", "stop", "stopped"]


async def test_a_sigterm_during_start_cancels_the_start_then_stops_what_was_started() -> None:
    service = StandIn(signal_during_start=signal.SIGTERM)

    assert await serve(service) == EXIT_OK
    assert service.calls == ["start", "start cancelled", "stop", "stopped"]


async def test_a_failed_start_closes_what_it_opened_and_reports_the_first_real_error_on_one_line() -> None:
    refused = ConnectionRefusedError("Kafka at 127.0.0.1:1\n refused the connection")
    service = StandIn(start_error=ExceptionGroup("startup", [refused]))

    with pytest.raises(RunError) as failed:
        await serve(service)

    assert failed.value.status == EXIT_FAILED
    assert (
        str(failed.value)
        == "could not start: ConnectionRefusedError: Kafka at 127.0.0.1:1 refused the connection"
    )
    assert service.calls == ["start", "stop", "stopped"]


async def test_a_stop_that_outlasts_the_graceful_timeout_and_margin_is_abandoned_with_status_1() -> None:
    service = StandIn(signal_after_start=signal.SIGTERM, stop_hangs=True, graceful_timeout_s=0.05)

    assert await serve(service, stop_margin_s=0.05) == EXIT_FAILED
    assert service.calls == ["start", "started", "stop"]


async def test_serve_gives_the_signals_back_when_it_returns() -> None:
    await serve(StandIn(signal_after_start=signal.SIGTERM))

    loop = asyncio.get_running_loop()
    assert not loop.remove_signal_handler(signal.SIGTERM), "no handler of serve's is left behind"
    assert signal.getsignal(signal.SIGTERM) == signal.SIG_DFL
