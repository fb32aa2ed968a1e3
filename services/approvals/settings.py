"""Settings of the approvals service (environment prefix ``CASEMESH_APPROVALS_``)."""

from __future__ import annotations

from pydantic import Field

from kit.settings import ServiceSettings, service_config


class ApprovalsSettings(ServiceSettings):
    model_config = service_config("approvals")

    service_name: str = "approvals"
    work_list_limit: int = Field(
        500, gt=0, le=5000, description="Most items one work-list response lists (oldest due first)."
    )
