"""Whether a store URL names the in-memory twin (kit/memory.py), and the twin's database, opened lazily.

The twin runs on mongomock, which is in the ``demo`` extra rather than the core dependencies: a
service on a real MongoDB or FerretDB (``casemesh run`` in production) never imports it, and a
``memory:`` URL without the extra fails with the command that installs it instead of a bare
``ModuleNotFoundError`` from deep inside the kit.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from kit.memory import MemoryDatabase

SCHEME = "memory:"

INSTALL_HINT = "the in-memory store (a memory: URL) needs the demo extra: pip install 'casemesh[demo]'"


def is_memory_url(url: str) -> bool:
    return url.startswith(SCHEME)


def memory_database(url: str, name: str) -> MemoryDatabase:
    """The database ``name`` on the in-process server ``url`` (see kit.memory.memory_database)."""
    try:
        from kit import memory
    except ModuleNotFoundError as missing:
        if missing.name != "mongomock":
            raise
        raise RuntimeError(INSTALL_HINT) from missing
    return memory.memory_database(url, name)
