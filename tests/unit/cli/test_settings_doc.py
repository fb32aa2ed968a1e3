"""docs/settings.md is generated from the settings classes and kept current by this test."""

from __future__ import annotations

from pathlib import Path

from casemesh.configuration import DOC_COMMAND, settings_doc, settings_types
from kit.settings import SHARED_VARIABLES, ServiceSettings

DOC = Path(__file__).resolve().parents[3] / "docs" / "settings.md"


def test_the_settings_reference_is_current_with_the_settings_classes() -> None:
    assert DOC.read_text(encoding="utf-8") == settings_doc(), (
        f"docs/settings.md is out of date: run `.venv/bin/{DOC_COMMAND}`"
    )


def test_the_reference_names_every_setting_of_every_service_with_its_variables() -> None:
    doc = settings_doc()
    assert all(f"| `{name}` |" in doc for name in ServiceSettings.model_fields)
    assert all(f"`{variable}`" in doc for variable in SHARED_VARIABLES.values())
    for settings_type in settings_types().values():
        prefix = settings_type.model_config["env_prefix"]
        own = set(settings_type.model_fields) - set(ServiceSettings.model_fields)
        assert all(f"`{prefix}{name.upper()}`" in doc for name in own)
    assert "/health/live`, `/health/ready` and `/metrics` and nothing else" in doc


def test_every_setting_has_a_description() -> None:
    for settings_type in settings_types().values():
        for name, field in settings_type.model_fields.items():
            base = ServiceSettings.model_fields.get(name)
            assert field.description or (base is not None and base.description), name


def test_a_secrets_default_is_never_printed() -> None:
    doc = settings_doc()
    assert "| `identity_service_secret` | `CASEMESH_IDENTITY_SERVICE_SECRET` | secret text | (empty) |" in doc
    assert "| `kafka_sasl_password` | `CASEMESH_KAFKA_SASL_PASSWORD` | secret text | (empty) |" in doc
