"""Settings of the notifications service (environment prefix ``CASEMESH_NOTIFICATIONS_``)."""

from __future__ import annotations

from datetime import timedelta

from pydantic import Field

from contracts.catalogue.channels import Channel
from kit.settings import ServiceSettings, service_config
from services.notifications.domain import Policy
from services.notifications.templates import DEFAULT_REGISTRY


class NotificationsSettings(ServiceSettings):
    model_config = service_config("notifications")

    service_name: str = "notifications"
    # Issue 5: "A failed delivery is retried with backoff a bounded number of times, then falls back".
    delivery_max_attempts: int = Field(
        3, ge=1, le=20, description="Attempts per channel (the first one included) before falling back."
    )
    delivery_backoff_initial_s: float = Field(300.0, gt=0, description="Wait before the first retry.")
    delivery_backoff_factor: float = Field(2.0, ge=1.0, description="Each further wait is this much longer.")
    delivery_backoff_max_s: float = Field(6 * 3600.0, gt=0, description="The longest wait between tries.")
    # Issue 18: "A dispatch whose receipt does not come within a configurable time becomes a
    # DeliveryTimedOut that feeds the retry and fallback path". 0: wait for ever. Defaults are
    # DEFAULT_RECEIPT_TIMEOUTS (services/notifications/domain/state.py).
    receipt_timeout_sms_s: float = Field(3600.0, ge=0, description="How long an SMS waits for its receipt.")
    receipt_timeout_email_s: float = Field(
        4 * 3600.0, ge=0, description="How long an e-mail waits for its receipt."
    )
    receipt_timeout_letter_s: float = Field(
        72 * 3600.0, ge=0, description="How long a letter waits for the print and mail house's receipt."
    )
    receipt_timeout_phone_s: float = Field(
        0.0,
        ge=0,
        description="How long a phone task waits for its outcome (0: an officer's work, no timeout).",
    )
    # Issue 20 item 9: a request to send that arrives before the customer fact it depends on
    # (registration, an address, a mobile number) waits this long for it before being refused.
    fact_wait_s: float = Field(
        300.0,
        ge=0,
        description=(
            "How long a SendSms/SendLetter/SendEmail waits for the customer fact it depends on "
            "before it is refused (0: refused at once)."
        ),
    )

    def policy(self) -> Policy:
        return Policy(
            max_attempts=self.delivery_max_attempts,
            backoff_initial=timedelta(seconds=self.delivery_backoff_initial_s),
            backoff_factor=self.delivery_backoff_factor,
            backoff_max=timedelta(seconds=self.delivery_backoff_max_s),
            templates=DEFAULT_REGISTRY,
            receipt_timeouts={
                Channel.SMS: timedelta(seconds=self.receipt_timeout_sms_s),
                Channel.EMAIL: timedelta(seconds=self.receipt_timeout_email_s),
                Channel.LETTER: timedelta(seconds=self.receipt_timeout_letter_s),
                Channel.PHONE: timedelta(seconds=self.receipt_timeout_phone_s),
            },
            fact_wait=timedelta(seconds=self.fact_wait_s),
        )
