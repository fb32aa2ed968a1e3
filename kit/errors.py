"""How the kit tells its three error lanes apart."""

from __future__ import annotations

from aiokafka.errors import KafkaConnectionError, KafkaTimeoutError, NodeNotReadyError, RequestTimedOutError
from pymongo.errors import AutoReconnect, ConnectionFailure, NetworkTimeout, ServerSelectionTimeoutError


class Malformed(Exception):
    """Lane (a): input that can never be processed; it goes to dead letters with this reason."""

    def __init__(self, reason_code: str, reason: str) -> None:
        super().__init__(f"{reason_code}: {reason}")
        self.reason_code = reason_code
        self.reason = reason


class ConcurrencyConflict(Exception):
    """The aggregate changed between load and save; the handler reloads and decides again."""


INFRASTRUCTURE_ERRORS: tuple[type[BaseException], ...] = (
    ConnectionFailure,
    AutoReconnect,
    NetworkTimeout,
    ServerSelectionTimeoutError,
    KafkaConnectionError,
    KafkaTimeoutError,
    NodeNotReadyError,
    RequestTimedOutError,
    ConnectionError,
    TimeoutError,
)


def is_infrastructure_error(exc: BaseException) -> bool:
    """Lane (c): the store or broker is unavailable; retry with backoff, commit nothing."""
    return isinstance(exc, INFRASTRUCTURE_ERRORS)


class TopicLayoutError(RuntimeError):
    """The service's topics are laid out so that it cannot keep its guarantees (it does not start)."""
