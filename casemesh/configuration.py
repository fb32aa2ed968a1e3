"""The services' settings as an operator sees them: which ``CASEMESH_…`` variables exist, which ones
nothing reads, what a service would run with (secrets masked), and docs/settings.md.

Every setting of ``kit.settings.ServiceSettings`` is read from the service's own variable
(``CASEMESH_REFERRALS_KAFKA_BOOTSTRAP_SERVERS``), else from the one every service shares
(``CASEMESH_KAFKA_BOOTSTRAP_SERVERS``), else it keeps its default. A ``CASEMESH_…`` variable that
is neither a setting of some service nor one of the repository's other variables
(``kit.settings.OTHER_VARIABLES`` and ``OTHER_PREFIXES``) is most likely misspelt: ``casemesh run``
warns of it by name, never by value, with the closest known name. Another service's own variables
are known, not warned of: compose may give every container one shared ``env_file``.
"""

from __future__ import annotations

import difflib
import enum
import json
import logging
import re
import types
import typing
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, cast

from pydantic import BaseModel, SecretStr, TypeAdapter
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined

from casemesh.services import SERVICES
from kit.logs import configure, log
from kit.settings import (
    OTHER_PREFIXES,
    OTHER_VARIABLES,
    SHARED_PREFIX,
    SHARED_VARIABLES,
    ServiceSettings,
)

MASK = "********"
SECRET_NAME = re.compile(r"password|secret|token|credential", re.IGNORECASE)
"""A setting (or a URL's query option) whose name says it holds a secret."""
SECRET_OPTION = re.compile(r"password|secret|token|credential|authmechanismproperties", re.IGNORECASE)
SUGGESTION_CUTOFF = 0.8
HELP_DEFAULT_CHARS = 40
HELP_DESCRIPTION_CHARS = 100
DOC_COMMAND = "casemesh settings --doc > docs/settings.md"


def settings_types() -> dict[str, type[ServiceSettings]]:
    """Each service's settings class, by service name."""
    return {name: entry.settings_type() for name, entry in SERVICES.items()}


def own_prefix(settings_type: type[ServiceSettings]) -> str:
    return str(settings_type.model_config.get("env_prefix", ""))


# -- which variables exist


def settings_variables() -> dict[str, str]:
    """Every variable some service reads a setting from, and what it sets."""
    known = {variable: f"{field} (every service)" for field, variable in SHARED_VARIABLES.items()}
    for service, settings_type in settings_types().items():
        prefix = own_prefix(settings_type)
        known.update(
            {f"{prefix}{field.upper()}": f"{field} ({service})" for field in settings_type.model_fields}
        )
    return known


def is_other_variable(name: str) -> bool:
    """Whether ``name`` is one of the repository's ``CASEMESH_…`` variables that are not settings."""
    upper = name.upper()
    return upper in OTHER_VARIABLES or upper.startswith(tuple(OTHER_PREFIXES))


@dataclass(frozen=True)
class UnknownVariable:
    name: str
    suggestion: str | None


def unknown_variables(environ: Mapping[str, str]) -> list[UnknownVariable]:
    """The ``CASEMESH_…`` variables in ``environ`` that nothing reads, each with the closest known
    name when one is close (a misspelling)."""
    known = settings_variables()
    candidates = [*known, *OTHER_VARIABLES]
    unknown = []
    for name in sorted(environ):
        upper = name.upper()
        if not upper.startswith(SHARED_PREFIX) or upper in known or is_other_variable(upper):
            continue
        close = difflib.get_close_matches(upper, candidates, n=1, cutoff=SUGGESTION_CUTOFF)
        unknown.append(UnknownVariable(name, close[0] if close else None))
    return unknown


def warn_unknown_variables(
    environ: Mapping[str, str], service: str, warn: Callable[..., None] | None = None
) -> list[UnknownVariable]:
    """One warning per unknown ``CASEMESH_…`` variable (a JSON log line unless ``warn``), naming it,
    never its value."""
    unknown = unknown_variables(environ)
    if unknown and warn is None:
        configure()  # before the service configures its logs: the warning is a JSON line all the same
    warn = warn or log
    for variable in unknown:
        fields: dict[str, Any] = {
            "service": service,
            "variable": variable.name,
            "reason": "no service reads it: misspelt, or meant for another version",
        }
        if variable.suggestion:
            fields["did_you_mean"] = variable.suggestion
        warn("unknown_variable", level=logging.WARNING, **fields)
    return unknown


# -- masking


def is_secret(name: str, field: FieldInfo) -> bool:
    return _holds_secret(field.annotation) or bool(SECRET_NAME.search(name))


def _holds_secret(annotation: Any) -> bool:
    if annotation is SecretStr:
        return True
    return any(_holds_secret(arg) for arg in typing.get_args(annotation))


def mask_url(value: str) -> str:
    """``value`` with a URL's password and secret query options replaced by ``MASK``."""
    scheme, sep, rest = value.partition("://")
    if not sep:
        return value
    netloc, slash, path = rest.partition("/")
    userinfo, at, hosts = netloc.rpartition("@")
    if at:
        user, colon, _password = userinfo.partition(":")
        netloc = f"{user}:{MASK}@{hosts}" if colon else netloc
    path, question, query = path.partition("?")
    if question:
        options = []
        for option in query.split("&"):
            key, equals, _ = option.partition("=")
            options.append(f"{key}={MASK}" if equals and SECRET_OPTION.search(key) else option)
        query = "&".join(options)
    return f"{scheme}://{netloc}{slash}{path}{question}{query}"


def masked(name: str, field: FieldInfo, value: Any) -> Any:
    """A setting's value as JSON, fit to print: a secret shows only whether it is set, a URL
    loses its password."""
    if is_secret(name, field):
        plain = value.get_secret_value() if isinstance(value, SecretStr) else value
        return MASK if plain else ""
    return _mask_strings(TypeAdapter[Any](cast(Any, field.annotation)).dump_python(value, mode="json"))


def _mask_strings(value: Any) -> Any:
    if isinstance(value, str):
        return mask_url(value)
    if isinstance(value, list):
        return [_mask_strings(v) for v in value]
    if isinstance(value, dict):
        return {k: _mask_strings(v) for k, v in value.items()}
    return value


# -- effective settings


@dataclass(frozen=True)
class Effective:
    name: str
    value: Any
    source: str
    """The variable the value came from, or ``default``."""


def effective(settings: ServiceSettings, environ: Mapping[str, str]) -> list[Effective]:
    """What ``settings`` hold, masked, and where each value came from."""
    present = {name.upper() for name in environ}
    prefix = own_prefix(type(settings))
    rows = []
    for name, field in type(settings).model_fields.items():
        own = f"{prefix}{name.upper()}"
        shared = SHARED_VARIABLES.get(name)
        source = own if own in present else shared if shared in present else "default"
        rows.append(Effective(name, masked(name, field, getattr(settings, name)), source))
    return rows


def render_effective(settings: ServiceSettings, environ: Mapping[str, str], *, as_json: bool) -> str:
    rows = effective(settings, environ)
    if as_json:
        document = {
            "service": settings.service_name,
            "settings": {row.name: row.value for row in rows},
            "from": {row.name: row.source for row in rows},
        }
        return json.dumps(document, indent=2)
    width = max(len(row.name) for row in rows)
    lines = [
        f"# {settings.service_name}: the settings it would start with (secrets masked), each with the",
        "# variable it came from. A rebuild's generation record may replace mongodb_database and",
        "# consumer_group at start.",
    ]
    for row in rows:
        value = row.value if isinstance(row.value, str) and row.value else json.dumps(row.value)
        lines.append(f"{row.name:<{width}} = {value}  # {row.source}")
    return "\n".join(lines)


# -- describing the settings


def type_name(annotation: Any) -> str:
    """A setting's type as an operator writes it."""
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin is typing.Annotated:
        return type_name(args[0])
    if origin is typing.Literal:
        return " | ".join(str(arg) for arg in args)
    if origin in (typing.Union, types.UnionType):
        return " or ".join(type_name(arg) for arg in args)
    if origin is dict:
        return f"JSON map of {type_name(args[0])} to {type_name(args[1])}"
    if origin in (list, tuple, set, frozenset):
        return f"JSON list of {type_name(args[0])}"
    simple = {str: "text", int: "integer", float: "number", bool: "true/false", SecretStr: "secret text"}
    if annotation in simple:
        return simple[annotation]
    if isinstance(annotation, type) and issubclass(annotation, enum.Enum):
        return annotation.__name__
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return f"{annotation.__name__} object"
    if isinstance(annotation, type) and annotation.__name__ == "timedelta":
        return "ISO 8601 duration"
    return getattr(annotation, "__name__", str(annotation))


def default_text(name: str, field: FieldInfo) -> str:
    """A setting's default as text; a secret's only as empty or not."""
    default = field.get_default(call_default_factory=True, validated_data={})
    if default is PydanticUndefined:
        return "(set by the service)"
    if is_secret(name, field):
        plain = default.get_secret_value() if isinstance(default, SecretStr) else default
        return "(set, not shown)" if plain else "(empty)"
    value = masked(name, field, default)
    text = value if isinstance(value, str) else json.dumps(value)
    return text if text != "" else "(empty)"


def one_line(text: str, limit: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def own_fields(settings_type: type[ServiceSettings]) -> dict[str, FieldInfo]:
    """The settings a service has beyond those of every service."""
    return {n: f for n, f in settings_type.model_fields.items() if n not in ServiceSettings.model_fields}


def changed_defaults(settings_type: type[ServiceSettings]) -> dict[str, FieldInfo]:
    """Settings of every service whose default this service sets otherwise (its name)."""
    return {
        name: field
        for name, field in settings_type.model_fields.items()
        if name in ServiceSettings.model_fields
        and default_text(name, field) != default_text(name, ServiceSettings.model_fields[name])
    }


def run_help() -> str:
    """The settings part of ``casemesh run --help``: the services, then each setting with its
    variable, default and a line of description."""
    types_ = settings_types()
    lines = [
        f"services: {', '.join(types_)}",
        "",
        "Each setting comes from the service's own variable CASEMESH_<SERVICE>_<SETTING>, else from",
        "CASEMESH_<SETTING> (shared by every service; not for SERVICE_NAME, MONGODB_DATABASE and",
        "CONSUMER_GROUP), else its default. A CASEMESH_ variable that nothing reads is a startup",
        "warning naming it. `casemesh settings SERVICE` prints what SERVICE would run with, secrets",
        "masked; docs/settings.md describes every setting.",
        "",
        "settings of every service (<SETTING> = default):",
        *_help_rows(ServiceSettings.model_fields),
    ]
    for service, settings_type in types_.items():
        lines += ["", f"{service} ({own_prefix(settings_type)}<SETTING>), beside those of every service:"]
        lines += _help_rows({**changed_defaults(settings_type), **own_fields(settings_type)})
    return "\n".join(lines)


def _help_rows(fields: Mapping[str, FieldInfo]) -> Iterable[str]:
    for name, field in fields.items():
        yield f"  {name.upper()} = {one_line(default_text(name, field), HELP_DEFAULT_CHARS)}"
        if description(name, field):
            yield f"      {one_line(description(name, field), HELP_DESCRIPTION_CHARS)}"


def _cell(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")


def _code(text: str) -> str:
    """``text`` as code, but for a remark in parentheses such as ``(empty)``."""
    if not text or (text.startswith("(") and text.endswith(")")):
        return text
    return f"`{text}`"


def description(name: str, field: FieldInfo) -> str:
    """A setting's description; a service that only changes a default keeps the kit's."""
    base = ServiceSettings.model_fields.get(name)
    return field.description or (base.description if base is not None else None) or ""


def settings_doc() -> str:
    """docs/settings.md, from the settings classes (``casemesh settings --doc``)."""
    types_ = settings_types()
    lines = [
        "# Settings",
        "",
        f"<!-- Generated from the settings classes by `{DOC_COMMAND}`;",
        "tests/unit/cli/test_settings_doc.py fails when it is not current.",
        "Edit the settings classes, not this file. -->",
        "",
        "Each service (`casemesh run SERVICE`, one per container) reads its settings from environment",
        "variables, in this order, the first found winning:",
        "",
        "1. its own variable, `CASEMESH_<SERVICE>_<SETTING>` (`CASEMESH_REFERRALS_KAFKA_BOOTSTRAP_SERVERS`);",
        "2. the variable every service shares, `CASEMESH_<SETTING>` (`CASEMESH_KAFKA_BOOTSTRAP_SERVERS`),",
        "   for the settings of every service except `service_name`, `mongodb_database` and",
        "   `consumer_group`, which name one service's own things;",
        "3. the default below.",
        "",
        "Names are matched without regard to case. A value that is not valid stops the service at start",
        "(exit 2) with one line naming the variable it came from, never the value. A `CASEMESH_` variable",
        "that no service reads, and that is not one of the other variables below, is a warning when a",
        "service starts (`unknown_variable`, with the closest known name): most likely a misspelling.",
        "",
        "`casemesh settings SERVICE [--json]` prints the settings SERVICE would start with and the",
        "variable each came from, secrets masked: `SecretStr` settings and any whose name says password,",
        "secret or token show only whether they are set, and a URL's password (`mongodb_url`) is",
        "replaced. `casemesh run --help` lists the services and their settings.",
        "",
        "## Defaults",
        "",
        "The defaults are those of a broker and a store on the same host at their usual ports:",
        "`localhost:9092` (Kafka) and `mongodb://localhost:27017/` (MongoDB), PLAINTEXT and without",
        "credentials (until issue 18 they were the local launcher's ports). Production sets both, with",
        "`CASEMESH_ENVIRONMENT=production`, which refuses the development identity key, a service secret",
        "shorter than 32 characters and any broker protocol but SASL_SSL. The local launcher",
        "(`make infra-up`) listens elsewhere (127.0.0.1:19092 and 127.0.0.1:27027, SASL_SSL):",
        "`python -m deploy.local.localinfra env` prints the shared variables pointing at it,",
        "`env --service SERVICE` adds the service's own principal.",
        "",
        "## Ports: health apart from personal data",
        "",
        "`http_port` serves `/health/live`, `/health/ready` and `/metrics` and nothing else: no personal",
        "data, no token asked, open to the platform's probes and scrapers. `api_port` serves the service's",
        "endpoints, which return and accept personal data, each request behind a verified bearer token",
        "(docs/security.md). The two must differ; 0 disables either.",
        "",
        "## Settings of every service",
        "",
        "Read from `CASEMESH_<SERVICE>_<SETTING>`, else from the shared variable named here.",
        "",
        "| setting | shared variable | type | default | description |",
        "| --- | --- | --- | --- | --- |",
    ]
    for name, field in ServiceSettings.model_fields.items():
        shared = SHARED_VARIABLES.get(name, "")
        lines.append(
            f"| `{name}` | {_code(shared) or '(own only)'} | {_cell(type_name(field.annotation))} | "
            f"{_code(_cell(default_text(name, field)))} | {_cell(description(name, field))} |"
        )
    for service, settings_type in types_.items():
        prefix = own_prefix(settings_type)
        lines += [
            "",
            f"## {service}",
            "",
            f"Every setting above as `{prefix}<SETTING>` (else its shared variable); the service's name "
            "and the settings only it has, which no shared variable sets:",
            "",
            "| setting | variable | type | default | description |",
            "| --- | --- | --- | --- | --- |",
        ]
        for name, field in {**changed_defaults(settings_type), **own_fields(settings_type)}.items():
            lines.append(
                f"| `{name}` | `{prefix}{name.upper()}` | {_cell(type_name(field.annotation))} | "
                f"{_code(_cell(default_text(name, field)))} | {_cell(description(name, field))} |"
            )
    lines += [
        "",
        "## Other variables",
        "",
        "These `CASEMESH_` variables are read by tools, tests and compose, not by a service's settings;",
        "they are never warned of (`kit.settings.OTHER_VARIABLES` and `OTHER_PREFIXES`).",
        "",
        "| variable | what reads it |",
        "| --- | --- |",
        *(f"| `{name}` | {_cell(what)} |" for name, what in OTHER_VARIABLES.items()),
        *(f"| `{prefix}…` | {_cell(what)} |" for prefix, what in OTHER_PREFIXES.items()),
    ]
    return "\n".join(lines) + "\n"
