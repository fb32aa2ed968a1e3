"""The in-memory twin of the store: the subset of PyMongo's async API the services use, in process.

A service whose ``mongodb_url`` starts with ``memory:`` gets a database from here instead of a
``AsyncMongoClient``: the same stores, queries and handlers run on it, with nothing to install or
start (the demo's embedded default). Underneath is mongomock, which implements MongoDB's query and
update language; this module only gives it the awaitable surface of ``AsyncDatabase``,
``AsyncCollection`` and ``AsyncCursor``. Databases live as long as the process, one "server" per
URL, so a service restarted in the same process finds its documents again.

It is a twin for running and demonstrating, not a test double: integration tests run on a real
MongoDB or FerretDB.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from typing import Any

import mongomock
from pymongo.errors import BulkWriteError, DuplicateKeyError

from kit.instrument import count_store_command

Document = dict[str, Any]

SCHEME = "memory:"

_servers: dict[str, mongomock.MongoClient[Document]] = {}


def is_memory_url(url: str) -> bool:
    return url.startswith(SCHEME)


def memory_database(url: str, name: str) -> MemoryDatabase:
    """The database ``name`` on the in-process server ``url`` (made on first use)."""
    client = _servers.get(url)
    if client is None:
        client = _servers[url] = mongomock.MongoClient(tz_aware=True)
    return MemoryDatabase(client[name])


def forget(url: str) -> None:
    """Drops the in-process server ``url`` and everything on it."""
    _servers.pop(url, None)


class MemoryDatabase:
    def __init__(self, database: mongomock.Database[Document]) -> None:
        self._database = database
        self.name: str = database.name

    def __getitem__(self, name: str) -> MemoryCollection:
        return MemoryCollection(self, self._database[name])

    def get_collection(self, name: str) -> MemoryCollection:
        return self[name]

    async def command(self, command: str | Mapping[str, Any]) -> Document:
        """``ping`` and friends answer ok; an ``update`` command is applied statement by statement,
        its duplicate keys reported in ``writeErrors`` as the server reports them."""
        if isinstance(command, Mapping) and "update" in command:
            count_store_command("update")
            collection = self._database[command["update"]]
            errors: list[Document] = []
            for index, statement in enumerate(command["updates"]):
                try:
                    collection.update_one(
                        statement["q"], statement["u"], upsert=bool(statement.get("upsert"))
                    )
                except DuplicateKeyError:
                    errors.append({"index": index, "code": 11000, "errmsg": "duplicate key"})
                    if command.get("ordered", True):
                        break
            return {"ok": 1.0, "writeErrors": errors} if errors else {"ok": 1.0}
        return {"ok": 1.0}


class MemoryCollection:
    def __init__(self, database: MemoryDatabase, collection: mongomock.Collection[Document]) -> None:
        self.database = database
        self._collection = collection
        self.name: str = collection.name

    async def create_index(self, keys: Any, **kwargs: Any) -> str:
        return str(self._collection.create_index(keys, **kwargs))

    async def find_one(self, *args: Any, **kwargs: Any) -> Document | None:
        count_store_command("find")
        found: Document | None = self._collection.find_one(*args, **kwargs)
        return found

    def find(self, *args: Any, **kwargs: Any) -> MemoryCursor:
        count_store_command("find")
        return MemoryCursor(self._collection.find(*args, **kwargs))

    async def count_documents(self, query: Mapping[str, Any], **kwargs: Any) -> int:
        count_store_command("aggregate")
        return int(self._collection.count_documents(query, **kwargs))

    async def insert_one(self, document: Document, **kwargs: Any) -> Any:
        count_store_command("insert")
        return self._collection.insert_one(document, **kwargs)

    async def insert_many(self, documents: Sequence[Document], *, ordered: bool = True, **kwargs: Any) -> Any:
        """Inserts each document; duplicates are reported as PyMongo reports them (``BulkWriteError``
        with code 11000 per refused document), the others inserted when ``ordered=False``."""
        count_store_command("insert")
        errors: list[Document] = []
        for index, document in enumerate(documents):
            try:
                self._collection.insert_one(document)
            except DuplicateKeyError:
                errors.append({"index": index, "code": 11000, "errmsg": "duplicate key"})
                if ordered:
                    break
        if errors:
            raise BulkWriteError({"writeErrors": errors, "nInserted": len(documents) - len(errors)})

    async def update_one(self, query: Mapping[str, Any], update: Any, **kwargs: Any) -> Any:
        count_store_command("update")
        return self._collection.update_one(query, update, **kwargs)

    async def update_many(self, query: Mapping[str, Any], update: Any, **kwargs: Any) -> Any:
        count_store_command("update")
        return self._collection.update_many(query, update, **kwargs)

    async def replace_one(self, query: Mapping[str, Any], document: Document, **kwargs: Any) -> Any:
        count_store_command("update")
        return self._collection.replace_one(query, document, **kwargs)

    async def delete_one(self, query: Mapping[str, Any], **kwargs: Any) -> Any:
        count_store_command("delete")
        return self._collection.delete_one(query, **kwargs)

    async def delete_many(self, query: Mapping[str, Any], **kwargs: Any) -> Any:
        count_store_command("delete")
        return self._collection.delete_many(query, **kwargs)

    async def bulk_write(self, requests: Sequence[Any], *, ordered: bool = True, **kwargs: Any) -> None:
        """Applies PyMongo's write operations one by one (mongomock's own bulk path predates them).

        A duplicate key is reported as PyMongo reports it, in a ``BulkWriteError`` at the end
        (``ordered=False``) or at once (``ordered=True``).
        """
        count_store_command("bulkWrite")
        errors: list[Document] = []
        for index, request in enumerate(requests):
            try:
                self._write(request)
            except DuplicateKeyError:
                errors.append({"index": index, "code": 11000, "errmsg": "duplicate key"})
                if ordered:
                    break
        if errors:
            raise BulkWriteError({"writeErrors": errors, "nInserted": 0})

    def _write(self, request: Any) -> None:
        kind = type(request).__name__
        if kind == "InsertOne":
            self._collection.insert_one(request._doc)
        elif kind == "ReplaceOne":
            self._collection.replace_one(request._filter, request._doc, upsert=bool(request._upsert))
        elif kind in ("UpdateOne", "UpdateMany"):
            update = self._collection.update_one if kind == "UpdateOne" else self._collection.update_many
            update(request._filter, request._doc, upsert=bool(request._upsert))
        elif kind in ("DeleteOne", "DeleteMany"):
            delete = self._collection.delete_one if kind == "DeleteOne" else self._collection.delete_many
            delete(request._filter)
        else:
            raise TypeError(f"the in-memory store does not support {kind} in bulk_write")

    async def drop(self) -> None:
        self._collection.drop()


class MemoryCursor:
    def __init__(self, cursor: Any) -> None:
        self._cursor = cursor

    def sort(self, *args: Any, **kwargs: Any) -> MemoryCursor:
        self._cursor = self._cursor.sort(*args, **kwargs)
        return self

    def skip(self, count: int) -> MemoryCursor:
        self._cursor = self._cursor.skip(count)
        return self

    def limit(self, count: int) -> MemoryCursor:
        self._cursor = self._cursor.limit(count)
        return self

    def __aiter__(self) -> AsyncIterator[Document]:
        return self._iterate(iter(self._cursor))

    @staticmethod
    async def _iterate(documents: Iterator[Document]) -> AsyncIterator[Document]:
        for document in documents:
            yield document

    async def to_list(self, length: int | None = None) -> list[Document]:
        documents = list(self._cursor)
        return documents if length is None else documents[:length]
