"""``casemesh run SERVICE``: one service in the foreground, as each docker-compose container runs it.

The service reads its settings from its own environment variables (``CASEMESH_<SERVICE>_…``),
else from the ones every service shares (``CASEMESH_…``; see ``kit/settings.py`` and
docs/settings.md), warns of each ``CASEMESH_…`` variable nothing reads (by name, never by value),
starts, and runs until SIGTERM or SIGINT. Replicas started with the same
settings join the same consumer group, so Kafka splits the service's partitions between them.

On SIGTERM the service stops reading, lets the records in flight finish and commit (for at most
``graceful_timeout_s``), publishes the events its outbox still holds while its producer is open,
closes its clients and exits 0. A record still unfinished when that time is up is not
committed, so another replica (or the next start) processes it again.

A service whose input topics have unequal partition counts does not start: replicas could not
keep a customer's messages together (``kit.runtime``); the line says which topics have how many.

Before it starts, the service reads which generation it runs: a ``casemesh rebuild`` may have
made another database and consumer group live (kit/rebuild.py). When one does while the service
runs, the service notices within ``generation_check_interval_s``, stops as on SIGTERM and exits 3,
for its supervisor to start it again on the new generation (compose's ``restart: unless-stopped``
does; so does any policy that restarts on failure).

The process runs its own small loop rather than ``FastStream.run``: that one starts the shutdown
while the startup may still be under way (a SIGTERM during start), gives no bound on the whole
shutdown, and leaves a failed start as a traceback.

Exit status: 0 after a clean stop; 1 when the service could not start or did not stop within
``graceful_timeout_s`` plus a margin; 2 for an unknown service or invalid settings; 3 after a clean
stop because a rebuild replaced the service's generation (start it again).
"""

from __future__ import annotations

import asyncio
import logging
import os
import re
import signal
import sys
import time
from collections.abc import Iterable
from typing import Protocol

from pydantic import ValidationError
from pydantic_settings import SettingsError

from casemesh.configuration import warn_unknown_variables
from casemesh.services import SERVICES
from kit.logs import log
from kit.rebuild import adopt_generation
from kit.settings import ServiceSettings, variable_for
from kit.transport import KafkaSecurityError, kafka_security

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_SUPERSEDED = 3

STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)

#: Time allowed, beyond the graceful timeout, for closing the clients once the records in flight
#: are done. Well inside docker-compose's ``stop_grace_period`` (30 s) with the default 15 s.
STOP_MARGIN_S = 10.0

MAX_ERROR_CHARS = 240


class Service(Protocol):
    """What ``serve`` needs of a service: ``kit.runtime.ServiceRuntime`` is one."""

    settings: ServiceSettings

    async def start(self) -> None: ...

    async def stop(self) -> None: ...


class RunError(Exception):
    """A reason not to run, as one line for the operator, and the exit status that goes with it."""

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status


def main(service: str) -> int:
    """Runs ``service`` until SIGTERM or SIGINT; returns the process's exit status."""
    prefix = f"casemesh run {service}" if service in SERVICES else "casemesh run"
    try:
        return asyncio.run(_run(service))
    except RunError as error:
        print(f"{prefix}: {error}", file=sys.stderr)
        return error.status
    except KafkaSecurityError as error:  # names the settings, never a password
        print(f"{prefix}: invalid settings: {error}", file=sys.stderr)
        return EXIT_USAGE


async def _run(service: str) -> int:
    settings = await current_settings(service)
    return await serve(SERVICES[service].runtime(settings))


async def current_settings(service: str) -> ServiceSettings:
    """The service's settings, running its live generation (kit/rebuild.py); a ``RunError`` when
    they are invalid or the generation records cannot be read."""
    settings = load_settings(service)
    kafka_security(settings)  # broker settings that cannot work are refused before the store is asked
    try:
        return await adopt_generation(settings)
    except Exception as exc:
        raise RunError(f"could not read its generation: {describe_error(exc)}", EXIT_FAILED) from None


def load_settings(service: str) -> ServiceSettings:
    """The service's settings from its environment variables, or a ``RunError`` saying what is wrong."""
    entry = SERVICES.get(service)
    if entry is None:
        known = ", ".join(SERVICES)
        raise RunError(f"unknown service {service!r}; the services are: {known}", EXIT_USAGE)
    settings_type = entry.settings_type()
    prefix = str(settings_type.model_config.get("env_prefix", ""))
    warn_unknown_variables(os.environ, service)
    try:
        return entry.settings()
    except ValidationError as exc:
        raise RunError(f"invalid settings: {describe_invalid(exc, prefix)}", EXIT_USAGE) from None
    except SettingsError as exc:  # a complex value (JSON) that does not parse
        raise RunError(f"invalid settings: {describe_unparsed(exc, prefix)}", EXIT_USAGE) from None


def describe_invalid(exc: ValidationError, prefix: str) -> str:
    """Each error as ``VARIABLE: what is wrong``, on one line. The values themselves are left out:
    a setting may hold a password."""
    problems = []
    for error in exc.errors(include_url=False, include_input=False):
        field, *inner = [str(part) for part in error["loc"]] or [""]
        where = variable_for(field, prefix) if field else prefix.rstrip("_")
        if inner:
            where += "[" + "][".join(inner) + "]"
        problems.append(f"{where}: {error['msg']}")
    return one_line("; ".join(problems))


def describe_unparsed(exc: SettingsError, prefix: str) -> str:
    """``VARIABLE: not valid JSON (why)`` for a list or mapping setting whose value does not parse."""
    field = re.search(r'field "(\w+)"', str(exc))
    if field is None:
        return one_line(exc)
    why = f" ({one_line(exc.__cause__)})" if exc.__cause__ is not None else ""
    return f"{variable_for(field.group(1), prefix)}: not valid JSON{why}"


def one_line(exc: BaseException | str) -> str:
    text = " ".join(str(exc).split())
    return text if len(text) <= MAX_ERROR_CHARS else text[: MAX_ERROR_CHARS - 1] + "…"


def describe_error(exc: BaseException) -> str:
    cause = first_cause(exc)
    name = type(cause).__name__
    text = one_line(cause).removeprefix(f"{name}: ")
    return f"{name}: {text}" if text else name


def first_cause(exc: BaseException) -> BaseException:
    """The first real error inside (possibly nested) exception groups."""
    while isinstance(exc, BaseExceptionGroup) and exc.exceptions:
        exc = exc.exceptions[0]
    return exc


async def serve(
    service: Service,
    *,
    signals: Iterable[signal.Signals] = STOP_SIGNALS,
    stop_margin_s: float = STOP_MARGIN_S,
) -> int:
    """Starts ``service``, waits for one of ``signals``, then stops it within its graceful timeout.

    A signal during the start cancels the start, then stops what was started. A start that fails
    raises ``RunError`` (exit 1) once what was started is closed. A service whose ``superseded``
    event is set while it runs is stopped the same way, and the exit status is 3.
    """
    loop = asyncio.get_running_loop()
    settings = service.settings
    name = settings.service_name
    received: list[str] = []
    stop_requested = asyncio.Event()

    def on_signal(sig: signal.Signals) -> None:
        received.append(sig.name)
        stop_requested.set()

    handled = list(signals)
    for sig in handled:
        loop.add_signal_handler(sig, on_signal, sig)
    try:
        starting = asyncio.create_task(service.start(), name=f"start-{name}")
        waiting = asyncio.create_task(stop_requested.wait(), name=f"wait-{name}")
        await asyncio.wait({starting, waiting}, return_when=asyncio.FIRST_COMPLETED)
        if not starting.done():
            starting.cancel()
        await asyncio.gather(starting, return_exceptions=True)
        failure = None if starting.cancelled() else starting.exception()
        if failure is not None:
            waiting.cancel()
            await _stop_quietly(service, settings.graceful_timeout_s + stop_margin_s)
            raise RunError(f"could not start: {describe_error(failure)}", EXIT_FAILED)
        if not received:
            log("running", service=name, consumer_group=settings.consumer_group)
        ended = [waiting]
        superseded = getattr(service, "superseded", None)
        if isinstance(superseded, asyncio.Event):
            ended.append(asyncio.create_task(superseded.wait(), name=f"superseded-{name}"))
        await asyncio.wait(ended, return_when=asyncio.FIRST_COMPLETED)
        for task in ended:
            task.cancel()
        if received:
            return await _stop(service, received[0], stop_margin_s)
        status = await _stop(service, "superseded", stop_margin_s)
        return EXIT_SUPERSEDED if status == EXIT_OK else status
    finally:
        for sig in handled:
            loop.remove_signal_handler(sig)


async def _stop(service: Service, reason: str, stop_margin_s: float) -> int:
    settings = service.settings
    name = settings.service_name
    log("stopping", service=name, signal=reason, graceful_timeout_s=settings.graceful_timeout_s)
    began = time.perf_counter()
    try:
        await asyncio.wait_for(service.stop(), timeout=settings.graceful_timeout_s + stop_margin_s)
    except TimeoutError:
        log("stop_overran", service=name, seconds=round(time.perf_counter() - began, 3), level=logging.ERROR)
        return EXIT_FAILED
    except Exception as exc:
        log("stop_failed", service=name, error=describe_error(exc), level=logging.ERROR)
        return EXIT_FAILED
    log("shutdown_complete", service=name, seconds=round(time.perf_counter() - began, 3))
    return EXIT_OK


async def _stop_quietly(service: Service, timeout_s: float) -> None:
    """Closes whatever a failed start had opened; the start's own error is the one reported."""
    try:
        await asyncio.wait_for(service.stop(), timeout=timeout_s)
    except Exception as exc:
        log("stop_after_failed_start", error_class=type(first_cause(exc)).__name__, level=logging.INFO)
