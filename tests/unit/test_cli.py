"""The casemesh command."""

from __future__ import annotations

import json
from pathlib import Path

from casemesh.cli import main


def test_casemesh_contracts_export_writes_a_schema_per_message_type_and_an_asyncapi_document_per_service(
    tmp_path: Path,
) -> None:
    assert main(["contracts", "export", str(tmp_path)]) == 0

    schemas = {p.name for p in (tmp_path / "schemas").glob("*.json")}
    assert "RecordComplaint.v1.json" in schemas
    assert "CustomerAssignedToPS.v1.json" in schemas
    for service in ("referrals", "approvals", "notifications", "complaints", "contacts", "casework"):
        document = json.loads((tmp_path / "asyncapi" / f"{service}.json").read_text())
        assert document["asyncapi"] == "3.0.0"
        assert document["channels"], f"{service} has no channels"
