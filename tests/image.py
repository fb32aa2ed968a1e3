"""The Dockerfile and the build context as Docker reads them, for tests that have no Docker engine.

``stages`` splits the Dockerfile into its ``FROM`` stages; ``is_ignored`` applies ``.dockerignore``
with Docker's own rules (moby's patternmatcher), not ``fnmatch``'s: ``*`` and ``?`` stop at ``/``,
``**`` spans folders, a pattern matching a parent folder matches everything in it, a ``!`` pattern
takes a path back, and the last matching pattern wins.
"""

from __future__ import annotations

import os
import posixpath
import re
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DOCKERFILE = ROOT / "Dockerfile"
DOCKERIGNORE = ROOT / ".dockerignore"


@dataclass
class Stage:
    base: str
    name: str
    instructions: list[tuple[str, str]] = field(default_factory=list)

    def arguments(self, keyword: str) -> list[str]:
        return [argument for word, argument in self.instructions if word == keyword]


def instructions(text: str | None = None) -> list[tuple[str, str]]:
    """(KEYWORD, argument) per instruction, continuation lines joined and comments dropped."""
    text = DOCKERFILE.read_text(encoding="utf-8") if text is None else text
    kept = [line for line in text.splitlines() if not line.lstrip().startswith("#")]
    found = []
    for line in re.sub(r"\\\n", " ", "\n".join(kept)).splitlines():
        keyword, _, argument = line.strip().partition(" ")
        if keyword:
            found.append((keyword.upper(), argument.strip()))
    return found


def stages(text: str | None = None) -> list[Stage]:
    result: list[Stage] = []
    for keyword, argument in instructions(text):
        if keyword == "FROM":
            words = argument.split()
            name = words[2] if len(words) == 3 and words[1].upper() == "AS" else ""
            result.append(Stage(words[0], name))
        elif result:
            result[-1].instructions.append((keyword, argument))
    return result


@dataclass(frozen=True)
class Pattern:
    text: str
    regex: re.Pattern[str]
    exclusion: bool  # a "!" pattern: takes matching paths back into the context

    def may_take_back_from(self, folder: str) -> bool:
        """Whether this "!" pattern could take back a path inside the ignored ``folder``."""
        return self.exclusion and (self.text.startswith(f"{folder}/") or self.text.startswith("**"))


def _translate(pattern: str) -> re.Pattern[str]:
    parts: list[str] = []
    i = 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            parts.append("(?:.*/)?")
            i += 3
        elif pattern.startswith("**", i):
            parts.append(".*")
            i += 2
        elif pattern[i] == "*":
            parts.append("[^/]*")
            i += 1
        elif pattern[i] == "?":
            parts.append("[^/]")
            i += 1
        elif pattern[i] == "[" and "]" in pattern[i + 1 :]:
            end = pattern.index("]", i + 1)
            parts.append("[" + pattern[i + 1 : end].replace("!", "^", 1) + "]")
            i = end + 1
        else:
            parts.append(re.escape(pattern[i]))
            i += 1
    return re.compile("".join(parts))


def ignore_patterns(text: str | None = None) -> list[Pattern]:
    text = DOCKERIGNORE.read_text(encoding="utf-8") if text is None else text
    patterns = []
    for line in text.splitlines():
        entry = line.strip()
        if not entry or entry.startswith("#"):
            continue
        exclusion = entry.startswith("!")
        cleaned = posixpath.normpath(entry.removeprefix("!").strip()).lstrip("/")
        patterns.append(Pattern(cleaned, _translate(cleaned), exclusion))
    return patterns


def is_ignored(path: str, patterns: list[Pattern] | None = None) -> bool:
    """Whether Docker leaves ``path`` (relative to the context, with ``/``) out of the build context."""
    patterns = ignore_patterns() if patterns is None else patterns
    pieces = path.split("/")
    candidates = ["/".join(pieces[: n + 1]) for n in range(len(pieces))]  # parents first, then the path
    ignored = False
    for pattern in patterns:
        if any(pattern.regex.fullmatch(candidate) for candidate in candidates):
            ignored = not pattern.exclusion
    return ignored


def context_files(root: Path = ROOT) -> Iterator[str]:
    """Every file of the checkout that Docker sends as the build context."""
    patterns = ignore_patterns()
    for folder, folders, files in os.walk(root):
        base = Path(folder).relative_to(root).as_posix().removeprefix(".").lstrip("/")
        # An ignored folder no "!" pattern reaches into is not read (.venv, .git: thousands of files).
        folders[:] = sorted(
            name
            for name in folders
            if not is_ignored(f"{base}/{name}".lstrip("/"), patterns)
            or any(p.may_take_back_from(f"{base}/{name}".lstrip("/")) for p in patterns)
        )
        for name in sorted(files):
            relative = f"{base}/{name}".lstrip("/")
            if not is_ignored(relative, patterns):
                yield relative


def copy_context(target: Path, root: Path = ROOT) -> None:
    """The build context, as Docker would send it, copied to ``target``."""
    for relative in context_files(root):
        destination = target / relative
        destination.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(root / relative, destination)
