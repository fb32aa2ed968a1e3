"""Static checks on the image: its stages, its base, what its last stage holds and runs, its context.

There is no Docker engine where the unit tests run; tests/e2e/test_demo_from_wheels.py performs
the Dockerfile's install step outside Docker and runs the demo from what it installed.
"""

from __future__ import annotations

import json
import re
import shlex
import tomllib

import pytest

from tests.image import ROOT, Stage, ignore_patterns, is_ignored, stages

DIGEST = re.compile(r"^[^\s@]+:[^\s@]+@sha256:[0-9a-f]{64}$")
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def build() -> Stage:
    return stages()[0]


@pytest.fixture(scope="module")
def runtime() -> Stage:
    return stages()[-1]


def requirement_names(requirements: list[str]) -> set[str]:
    return {re.split(r"[\[<>=!~; ]", requirement, maxsplit=1)[0].lower() for requirement in requirements}


def test_the_image_is_built_in_two_stages_from_one_base_pinned_by_tag_and_digest() -> None:
    found = stages()
    assert [stage.name for stage in found] == ["build", "runtime"]
    assert len({stage.base for stage in found}) == 1
    assert all(DIGEST.match(stage.base) for stage in found), [stage.base for stage in found]
    assert found[0].base.startswith("python:3.11")


def test_the_build_stage_installs_contracts_and_the_app_with_the_demo_extra_under_the_constraints(
    build: Stage,
) -> None:
    (install,) = build.arguments("RUN")
    assert "python -m venv --without-pip /opt/casemesh" in install
    words = shlex.split(install.split("&&")[-1])
    assert words[:3] == ["pip", "--python", "/opt/casemesh/bin/python"]
    assert {"-c", "constraints.txt", "./contracts"} <= set(words)
    (app,) = [word for word in words if word.startswith(".[")]
    assert "demo" in app.strip(".[]").split(",")  # the demo must work in the image


def test_the_final_stage_copies_only_the_venv_from_the_build_stage_and_installs_nothing(
    runtime: Stage,
) -> None:
    assert runtime.arguments("COPY") == ["--from=build /opt/casemesh /opt/casemesh"]
    for command in runtime.arguments("RUN"):
        assert not re.search(r"\b(pip|apt-get|apt|gcc|g\+\+|make|build-essential|curl)\b", command), command
    assert "PATH=/opt/casemesh/bin:$PATH" in " ".join(runtime.arguments("ENV"))


def test_the_final_stage_runs_as_user_10001_in_a_home_it_can_write_the_demos_log_to(runtime: Stage) -> None:
    assert runtime.arguments("USER") == ["10001:10001"]
    (user,) = runtime.arguments("RUN")
    assert "--uid 10001" in user
    assert "--create-home" in user
    home = re.search(r"--home-dir (\S+)", user)
    assert home
    assert runtime.arguments("WORKDIR") == [home[1]]


def test_the_final_stage_checks_liveness_with_pythons_urllib_on_the_health_port(runtime: Stage) -> None:
    (check,) = runtime.arguments("HEALTHCHECK")
    options, _, command = check.partition(" CMD ")
    assert re.search(r"--interval=\d+s", options)
    assert re.search(r"--timeout=\d+s", options)
    argv = json.loads(command)
    assert argv[:2] == ["python", "-c"]
    assert "urllib.request.urlopen" in argv[2]
    assert "/health/live" in argv[2]
    assert "os.environ.get('CASEMESH_HEALTH_PORT', '8080')" in argv[2]
    assert "CASEMESH_HEALTH_PORT=8080" in " ".join(runtime.arguments("ENV"))
    assert runtime.arguments("EXPOSE") == ["8080 8090"]
    assert runtime.arguments("STOPSIGNAL") == ["SIGTERM"]


def test_the_entrypoint_is_the_casemesh_console_script(runtime: Stage) -> None:
    assert [json.loads(argument) for argument in runtime.arguments("ENTRYPOINT")] == [["casemesh"]]
    assert PYPROJECT["project"]["scripts"]["casemesh"] == "casemesh.cli:main"
    assert json.loads(runtime.arguments("CMD")[0]) == ["run", "referrals"]


def test_rich_and_mongomock_are_in_the_demo_extra_only_and_the_tests_install_it() -> None:
    project = PYPROJECT["project"]
    extras = project["optional-dependencies"]
    assert requirement_names(extras["demo"]) == {"rich", "mongomock"}
    assert not {"rich", "mongomock", "typer"} & requirement_names(project["dependencies"])
    assert "faststream[kafka]==0.7.8" in project["dependencies"]  # no [cli]: it would bring typer and rich
    assert "casemesh[demo]" in extras["test"]


@pytest.mark.parametrize(
    "path",
    [
        "pyproject.toml",
        "constraints.txt",
        "contracts/pyproject.toml",
        "contracts/envelope.py",
        "kit/memory.py",
        "kit/development-identity-key.pem",
        "services/casework/templates/base.html",
        "casemesh/cli.py",
        "casemesh/demo/main.py",
        "deploy/kafka/__main__.py",
        "deploy/local/localinfra.py",  # the mesh takes its free ports from it, embedded demo included
        "deploy/local/pom.xml",
    ],
)
def test_everything_the_image_installs_and_the_demo_imports_is_in_the_build_context(path: str) -> None:
    assert (ROOT / path).is_file()
    assert not is_ignored(path)


@pytest.mark.parametrize(
    "path",
    [
        ".git/HEAD",
        ".venv/bin/python",
        ".run/demo/services.log",
        "tests/conftest.py",
        "docs/operations.md",
        "build/contracts/dist/x.whl",
        "docker-compose.yml",
        "deploy/compose/mongo-users.js",
        "kit/__pycache__/memory.cpython-311.pyc",
        "contracts/casemesh_contracts.egg-info/PKG-INFO",
        "services/casework/build/lib/x.py",
    ],
)
def test_the_build_context_leaves_out_the_checkouts_other_files(path: str) -> None:
    assert is_ignored(path)


def test_every_folder_the_build_stage_copies_is_in_the_build_context(build: Stage) -> None:
    sources = [source for argument in build.arguments("COPY") for source in argument.split()[:-1]]
    assert sources
    for source in sources:
        assert (ROOT / source).exists(), source
        assert not is_ignored(source.rstrip("/")), source


def test_the_ignore_rules_follow_docker_not_fnmatch() -> None:
    patterns = ignore_patterns("*\n!kit\nkit/secret\n**/*.pyc\n")
    assert is_ignored("README.md", patterns)
    assert is_ignored("docs/a/b.md", patterns)  # "*" matches the parent folder, so all of it
    assert not is_ignored("kit/a/b.py", patterns)  # "!" takes it back: the last match wins
    assert is_ignored("kit/secret/key.pem", patterns)
    assert is_ignored("kit/a/b.pyc", patterns)  # "**/" spans folders
    assert not is_ignored("kit/ab.py", ignore_patterns("kit?ab.py\n"))  # "?" never matches "/"
