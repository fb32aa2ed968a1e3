"""The check against the last release, read from git history (never from a file in the tree).

Small throw-away repositories hold a stand-in ``contracts`` package whose ``current_snapshot``
returns a fixed catalogue; the real repository is checked by the last test, which fails rather
than skips when history is missing (CI must not pass without it).
"""

from __future__ import annotations

import copy
import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from contracts.release import HistoryError, Version, check, releases

EXPORT = """
import json
from pathlib import Path

def current_snapshot():
    return json.loads(Path(__file__).with_name("snapshot.json").read_text())
"""

STATUS = {"type": "string", "enum": ["DELIVERED", "FAILED"]}
CATALOGUE: dict[str, dict[str, Any]] = {
    "DeliveryReceipted": {
        "message_type": "DeliveryReceipted",
        "schema_version": 1,
        "kind": "event",
        "topic": "casemesh.notifications.receipts.v1",
        "schema": {"type": "object", "properties": {"status": STATUS}, "required": ["status"]},
        "example": {"status": "DELIVERED"},
    },
    "SendSms": {
        "message_type": "SendSms",
        "schema_version": 1,
        "kind": "command",
        "topic": "casemesh.notifications.commands.v1",
        "schema": {
            "type": "object",
            "properties": {"text": {"type": "string", "maxLength": 500}},
            "required": ["text"],
            "additionalProperties": False,
        },
        "example": {"text": "Please call us."},
    },
}


def git(repo: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-C", str(repo), *args], check=True, capture_output=True, text=True
    ).stdout.strip()


def commit(repo: Path, version: str, catalogue: dict[str, Any], message: str) -> str:
    package = repo / "contracts"
    package.mkdir(exist_ok=True)
    (package / "__init__.py").write_text("")
    (package / "export.py").write_text(EXPORT)
    (package / "version.py").write_text(f'__version__ = "{version}"\n')
    (package / "snapshot.json").write_text(json.dumps(catalogue))
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", message)
    return git(repo, "rev-parse", "HEAD")


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    path = tmp_path / "repo"
    path.mkdir()
    git(path, "init", "-q", "-b", "main")
    git(path, "config", "user.email", "ci@example.org")
    git(path, "config", "user.name", "CI")
    return path


def with_new_status(catalogue: dict[str, Any]) -> dict[str, Any]:
    changed = copy.deepcopy(catalogue)
    changed["DeliveryReceipted"]["schema"]["properties"]["status"]["enum"].append("EXPIRED")
    return changed


def with_optional_command_field(catalogue: dict[str, Any]) -> dict[str, Any]:
    changed = copy.deepcopy(catalogue)
    changed["SendSms"]["schema"]["properties"]["note"] = {"type": "string", "maxLength": 50}
    return changed


def test_the_first_release_has_nothing_to_compare_with_and_passes(repo: Path) -> None:
    report = check(repo, current=CATALOGUE, version_text="1.0.0")
    assert report.ok and report.previous is None and report.current is None
    assert "first release" in report.text()


def test_releases_are_the_commits_that_changed_the_version(repo: Path) -> None:
    first = commit(repo, "1.0.0", CATALOGUE, "release 1.0.0")
    (repo / "README.md").write_text("docs")
    commit(repo, "1.0.0", CATALOGUE, "docs only")
    second = commit(repo, "1.1.0", with_optional_command_field(CATALOGUE), "release 1.1.0")
    assert [(r.commit, str(r.version)) for r in releases(repo)] == [(second, "1.1.0"), (first, "1.0.0")]


def test_a_compatible_change_with_a_minor_release_passes(repo: Path) -> None:
    commit(repo, "1.0.0", CATALOGUE, "release 1.0.0")
    report = check(repo, current=with_optional_command_field(CATALOGUE), version_text="1.1.0")
    assert report.ok, report.text()
    assert report.previous is not None and report.previous.version == Version(1, 0, 0)


def test_a_new_event_enum_value_fails_against_the_last_release_naming_field_and_rule(repo: Path) -> None:
    commit(repo, "1.0.0", CATALOGUE, "release 1.0.0")
    report = check(repo, current=with_new_status(CATALOGUE), version_text="1.1.0")
    assert report.problems == [
        "DeliveryReceipted: $.status: enum values added: ['EXPIRED'] [events: enum-value-added]"
    ]
    assert "enum-value-added: an enum value is sent that old readers do not know" in report.text()


def test_rewriting_the_tree_cannot_silence_the_check_once_the_change_is_committed(repo: Path) -> None:
    # The breaking change and a version bump in one commit: HEAD is then the release of the
    # tree's own version, so the check compares it with the release before.
    commit(repo, "1.0.0", CATALOGUE, "release 1.0.0")
    commit(repo, "1.1.0", with_new_status(CATALOGUE), "release 1.1.0 with a breaking change")
    report = check(repo, current=with_new_status(CATALOGUE), version_text="1.1.0")
    assert report.previous is not None and str(report.previous.version) == "1.0.0"
    assert report.current is not None and str(report.current.version) == "1.1.0"
    assert any("[events: enum-value-added]" in p for p in report.problems)


def test_a_released_version_may_not_change_its_schemas(repo: Path) -> None:
    commit(repo, "1.0.0", CATALOGUE, "release 1.0.0")
    report = check(repo, current=with_optional_command_field(CATALOGUE), version_text="1.0.0")
    assert [p for p in report.problems if "[version-reused]" in p], report.text()


def test_a_changed_schema_needs_a_minor_release_and_a_raised_schema_version_a_major_one(repo: Path) -> None:
    commit(repo, "1.0.0", CATALOGUE, "release 1.0.0")
    patch = check(repo, current=with_optional_command_field(CATALOGUE), version_text="1.0.1")
    assert [p for p in patch.problems if p.endswith("[version-minor]")], patch.text()
    raised = with_new_status(CATALOGUE)
    raised["DeliveryReceipted"]["schema_version"] = 2
    minor = check(repo, current=raised, version_text="1.1.0")
    assert [p for p in minor.problems if p.endswith("[version-major]")], minor.text()
    lowered = check(repo, current=CATALOGUE, version_text="0.9.0")
    assert [p for p in lowered.problems if p.endswith("[version-not-raised]")], lowered.text()


def test_a_raised_schema_version_needs_an_upcaster_for_the_released_example(repo: Path) -> None:
    released = copy.deepcopy(CATALOGUE)
    released["SendSms"] = {**released["SendSms"], "schema": {"type": "object"}}
    commit(repo, "1.0.0", released, "release 1.0.0")
    current = copy.deepcopy(released)
    current["SendSms"]["schema_version"] = 2
    report = check(repo, current=current, version_text="2.0.0")
    assert report.problems == [
        "SendSms: schema version raised from 1 to 2 without an upcaster: override SendSms.upgrade_payload "
        "so consumers read version 1 during the rollout [no-upcaster]"
    ]


def test_a_shallow_clone_fails_with_a_clear_message_instead_of_passing(repo: Path, tmp_path: Path) -> None:
    commit(repo, "1.0.0", CATALOGUE, "release 1.0.0")
    commit(repo, "1.1.0", with_optional_command_field(CATALOGUE), "release 1.1.0")
    shallow = tmp_path / "shallow"
    subprocess.run(
        ["git", "clone", "-q", "--depth", "1", f"file://{repo}", str(shallow)],
        check=True,
        capture_output=True,
    )
    with pytest.raises(HistoryError, match=r"shallow.*git fetch --unshallow"):
        check(shallow, current=with_new_status(CATALOGUE), version_text="1.2.0")


def test_a_folder_outside_git_fails_with_a_clear_message(tmp_path: Path) -> None:
    with pytest.raises(HistoryError, match="not a git work tree"):
        check(tmp_path, current=CATALOGUE, version_text="1.0.0")


def test_the_catalogue_is_compatible_with_the_last_release_in_this_repository() -> None:
    try:
        report = check()
    except HistoryError as exc:  # never a skip: a clone without history must not pass CI
        pytest.fail(str(exc))
    assert report.ok, report.text()
