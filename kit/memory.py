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
from typing import Any, cast

import mongomock
from mongomock import filtering, helpers
from mongomock.store import CollectionStore
from pymongo.errors import BulkWriteError, DuplicateKeyError
from pymongo.results import DeleteResult

from kit.instrument import count_store_command

# Re-exported: the URL test lives in kit.twin, which the kit imports without needing mongomock.
from kit.twin import SCHEME as SCHEME
from kit.twin import is_memory_url as is_memory_url

Document = dict[str, Any]

_servers: dict[str, mongomock.MongoClient[Document]] = {}


def memory_database(url: str, name: str) -> MemoryDatabase:
    """The database ``name`` on the in-process server ``url`` (made on first use)."""
    client = _servers.get(url)
    if client is None:
        client = _servers[url] = mongomock.MongoClient(tz_aware=True)
    return MemoryDatabase(client[name])


def forget(url: str) -> None:
    """Drops the in-process server ``url`` and everything on it."""
    _servers.pop(url, None)


INDEXED = ("aggregate", "record")
"""Fields the twin finds documents by without a scan, besides ``_id`` (the kit's lookups)."""


class _IndexedStore(CollectionStore):
    """mongomock's documents of one collection, with lookups by ``_id`` and the ``INDEXED`` fields.

    mongomock answers every query by filtering every document, as FerretDB does; the twin is
    meant to show the kit's own cost, so a filter naming ``_id`` values, or values of an indexed
    field, is answered from those documents only.
    """

    _by_field: dict[str, dict[Any, set[Any]]] | None = None

    def __setitem__(self, key: Any, value: Document) -> None:
        if self._by_field is not None:
            self._unindex(key)
            self._index(key, value)
        self._documents[key] = value

    def __delitem__(self, key: Any) -> None:
        if self._by_field is not None:
            self._unindex(key)
        del self._documents[key]

    def _index(self, key: Any, document: Document) -> None:
        assert self._by_field is not None
        for field in INDEXED:
            if field in document:
                self._by_field[field].setdefault(_hashable(document[field]), set()).add(key)

    def _unindex(self, key: Any) -> None:
        old = self._documents.get(key)
        if old is None or self._by_field is None:
            return
        for field in INDEXED:
            if field in old:
                self._by_field[field].get(_hashable(old[field]), set()).discard(key)

    def candidates(self, filter: Any) -> list[Document] | None:
        """The documents ``filter`` can match, when it names them by ``_id`` or an indexed field."""
        if not isinstance(filter, Mapping):
            return None
        if set(filter) == {"$or"}:
            found = [self.candidates(clause) for clause in filter["$or"]]
            if any(f is None for f in found):
                return None
            merged = {id(d): d for f in found for d in f or ()}
            return list(merged.values())
        keys = _values(filter.get("_id"))
        if keys is None:
            field = next((f for f in INDEXED if _values(filter.get(f)) is not None), None)
            if field is None:
                return None
            index = self._field_index()[field]
            keys = [k for value in _values(filter[field]) or () for k in index.get(value, ())]
        documents = self._documents
        return [documents[k] for k in dict.fromkeys(keys) if k in documents]

    def _field_index(self) -> dict[str, dict[Any, set[Any]]]:
        if self._by_field is None:
            self._by_field = {field: {} for field in INDEXED}
            for key, document in self._documents.items():
                self._index(key, document)
        return self._by_field


def filter_applies(filter: Any, document: Document) -> bool:
    return bool(cast(Any, filtering).filter_applies(filter, document))


def _update(collection: mongomock.Collection[Document], query: Any, update: Any, upsert: bool) -> None:
    """One update statement; a ``$set`` of one document named by ``_id`` without mongomock's scan."""
    store = cast(_IndexedStore, cast(Any, collection)._store)
    key = query.get("_id") if isinstance(query, Mapping) else None
    fields = update.get("$set") if isinstance(update, Mapping) and len(update) == 1 else None
    if (
        not isinstance(key, str)
        or not isinstance(fields, Mapping)
        or any("." in f or "$" in f for f in fields)
    ):
        collection.update_one(query, update, upsert=upsert)
        return
    current = store._documents.get(key)
    if current is not None and filter_applies(_patch(query), current):
        store[key] = {**current, **_stored(fields)}
    elif current is None and upsert:
        store[key] = {"_id": key, **_stored(fields)}
    elif current is not None and upsert:
        raise DuplicateKeyError(f"E11000 duplicate key error collection: {collection.name}")


_OPAQUE = frozenset({"state", "applied", "outbox"})
"""The kit's fields that hold only JSON values (strings, numbers): no datetime to convert inside."""
_PLAIN = (str, int, float, bool, type(None))


def _stored(document: Mapping[str, Any]) -> Document:
    """A document as mongomock keeps it (UTC datetimes, naive, to the millisecond), with its own top
    level, so a caller adding or removing fields changes nothing stored. Nested values are shared,
    not copied (the twin's one shortcut): neither the kit nor the services change a nested value of
    a document they wrote or read, and copying them cost more than the kit's own work."""
    return {k: v if k in _OPAQUE or isinstance(v, _PLAIN) else _patch(v) for k, v in document.items()}


def _returned(document: Mapping[str, Any]) -> Document:
    """A stored document as a ``tz_aware`` client reads it."""
    return {k: v if k in _OPAQUE or isinstance(v, _PLAIN) else _aware(v) for k, v in document.items()}


def _patch(value: Any) -> Any:
    return cast(Any, helpers).patch_datetime_awareness_in_document(value)


def _aware(value: Any) -> Any:
    return cast(Any, helpers).make_datetime_timezone_aware_in_document(value)


def _project(document: Document, projection: Any) -> Document:
    if not projection:
        return _returned(document)
    kept = {k for k, v in projection.items() if v}
    return _returned({k: v for k, v in document.items() if k in kept or k == "_id"})


def _hashable(value: Any) -> Any:
    return value if isinstance(value, str | int) else repr(value)


def _values(condition: Any) -> list[Any] | None:
    """The plain values an equality or ``$in`` condition names; None for anything else."""
    if isinstance(condition, str):
        return [condition]
    if isinstance(condition, Mapping) and set(condition) == {"$in"}:
        values = list(condition["$in"])
        if all(isinstance(v, str) for v in values):
            return values
    return None


def _indexed(collection: mongomock.Collection[Document]) -> mongomock.Collection[Document]:
    unchecked = cast(Any, collection)
    store = unchecked._store
    if not isinstance(store, _IndexedStore):
        store.__class__ = _IndexedStore
        scan = unchecked._iter_documents

        def narrowed(filter: Any) -> Any:
            found = store.candidates(filter)
            if found is None:
                return scan(filter)
            return (d for d in found if filter_applies(filter, d))

        unchecked._iter_documents = narrowed
    return collection


class MemoryDatabase:
    def __init__(self, database: mongomock.Database[Document]) -> None:
        self._database = database
        self.name: str = database.name

    def __getitem__(self, name: str) -> MemoryCollection:
        return MemoryCollection(self, _indexed(self._database[name]))

    def get_collection(self, name: str) -> MemoryCollection:
        return self[name]

    async def command(self, command: str | Mapping[str, Any]) -> Document:
        """``ping`` and friends answer ok; an ``update`` command is applied statement by statement,
        its duplicate keys reported in ``writeErrors`` as the server reports them."""
        if isinstance(command, Mapping) and "update" in command:
            count_store_command("update")
            collection = _indexed(self._database[command["update"]])
            errors: list[Document] = []
            for index, statement in enumerate(command["updates"]):
                try:
                    _update(collection, statement["q"], statement["u"], bool(statement.get("upsert")))
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

    def find(self, filter: Any = None, projection: Any = None, **kwargs: Any) -> MemoryCursor | ListCursor:
        count_store_command("find")
        found = None if kwargs else self._named(filter)
        if found is None:
            return MemoryCursor(self._collection.find(filter, projection, **kwargs))
        return ListCursor([_project(d, projection) for d in found])

    @property
    def _store(self) -> _IndexedStore:
        return cast(_IndexedStore, cast(Any, self._collection)._store)

    def _named(self, filter: Any) -> list[Document] | None:
        """The documents matching a filter that names them by ``_id`` or ``aggregate``, from those
        documents only; None when the filter names none (mongomock then filters them all)."""
        found = self._store.candidates(filter)
        if found is None or (len(filter) == 1 and next(iter(filter)) in ("_id", *INDEXED)):
            return found
        patched = _patch(filter)
        return [d for d in found if filter_applies(patched, d)]

    def _insert(self, document: Document) -> None:
        key = document.get("_id")
        if not isinstance(key, str):
            self._collection.insert_one(document)
            return
        if key in self._store:
            raise DuplicateKeyError(f"E11000 duplicate key error collection: {self.name}")
        self._store[key] = _stored(document)

    async def count_documents(self, query: Mapping[str, Any], **kwargs: Any) -> int:
        count_store_command("aggregate")
        return int(self._collection.count_documents(query, **kwargs))

    async def insert_one(self, document: Document, **kwargs: Any) -> Any:
        count_store_command("insert")
        self._insert(document)

    async def insert_many(self, documents: Sequence[Document], *, ordered: bool = True, **kwargs: Any) -> Any:
        """Inserts each document; duplicates are reported as PyMongo reports them (``BulkWriteError``
        with code 11000 per refused document), the others inserted when ``ordered=False``."""
        count_store_command("insert")
        errors: list[Document] = []
        for index, document in enumerate(documents):
            try:
                self._insert(document)
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
        found = None if kwargs else self._named(query)
        if found is None:
            return self._collection.delete_many(query, **kwargs)
        for document in found:
            del self._store[document["_id"]]
        return DeleteResult({"n": len(found)}, True)

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


class ListCursor:
    """A cursor over documents already found (sorted by top-level fields)."""

    def __init__(self, documents: list[Document]) -> None:
        self._documents = documents

    def sort(self, key: Any, direction: int = 1) -> ListCursor:
        keys = [(key, direction)] if isinstance(key, str) else list(key)
        for field, order in reversed(keys):
            self._documents.sort(key=lambda d: _order(d.get(field)), reverse=order < 0)
        return self

    def skip(self, count: int) -> ListCursor:
        self._documents = self._documents[count:]
        return self

    def limit(self, count: int) -> ListCursor:
        if count:
            self._documents = self._documents[:count]
        return self

    def __aiter__(self) -> AsyncIterator[Document]:
        return MemoryCursor._iterate(iter(self._documents))

    async def to_list(self, length: int | None = None) -> list[Document]:
        return self._documents if length is None else self._documents[:length]


def _order(value: Any) -> tuple[int, Any]:
    if value is None:
        return (0, 0)
    if isinstance(value, int | float):
        return (1, value)
    if isinstance(value, str):
        return (2, value)
    return (3, str(value))


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
