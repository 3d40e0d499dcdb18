"""The portal's database: embedded DuckDB by default, PostgreSQL in compose.

Both speak the same SQL here (``?`` placeholders, ``ON CONFLICT DO NOTHING``,
``BYTEA``, ``DOUBLE PRECISION``); :class:`Database` hides the two drivers'
differences: a connection per thread (DuckDB: a cursor of one connection,
which is how DuckDB shares a database between threads; PostgreSQL: one
connection per thread), transactions, and bulk inserts (DuckDB through an
Arrow table, PostgreSQL through psycopg's pipelined ``executemany``).

Examples
--------
>>> db = open_database(":memory:")
>>> db.execute("CREATE TABLE t (a BIGINT PRIMARY KEY, b TEXT)")
>>> db.insert("t", ("a", "b"), [(1, "x"), (1, "again"), (2, "y")])
>>> db.query("SELECT a, b FROM t ORDER BY a")
[{'a': 1, 'b': 'x'}, {'a': 2, 'b': 'y'}]
"""

from __future__ import annotations

import contextlib
import re
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from broker.core.errors import ConfigError, InfrastructureError

_DB_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,62}$")


class Database:
    """One database shared by the portal's threads (see the module doc)."""

    dialect = "base"

    def __init__(self) -> None:
        self._local = threading.local()
        self._all: list[Any] = []
        self._lock = threading.Lock()

    # -- driver specifics -------------------------------------------------
    def _connect(self) -> Any:
        raise NotImplementedError

    def _sql(self, sql: str) -> str:
        return sql

    def _begin(self, conn: Any) -> Any:
        raise NotImplementedError

    def _insert_rows(
        self, conn: Any, table: str, columns: Sequence[str], rows: list[tuple[Any, ...]]
    ) -> None:
        raise NotImplementedError

    # -- shared -------------------------------------------------------------
    def _conn(self) -> Any:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._connect()
            self._local.conn = conn
            with self._lock:
                self._all.append(conn)
        return conn

    def execute(self, sql: str, params: Sequence[Any] = ()) -> None:
        """Run one statement."""
        self._conn().execute(self._sql(sql), list(params))

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
        """Rows of a query as dicts."""
        cur = self._conn().execute(self._sql(sql), list(params))
        names = [d[0] for d in cur.description]
        return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]

    def scalar(self, sql: str, params: Sequence[Any] = ()) -> Any:
        """First column of the first row (None when there is none)."""
        rows = self._conn().execute(self._sql(sql), list(params)).fetchall()
        return rows[0][0] if rows else None

    def insert(self, table: str, columns: Sequence[str], rows: list[tuple[Any, ...]]) -> None:
        """Insert rows, skipping those whose primary key is already there."""
        if rows:
            self._insert_rows(self._conn(), table, columns, rows)

    def insert_arrow(self, table: str, rows: Any) -> None:
        """Insert an Arrow table whose columns are named as the table's (bulk loads)."""
        names = tuple(rows.column_names)
        self.insert(table, names, list(zip(*(rows.column(c).to_pylist() for c in names),
                                             strict=True)))  # fmt: skip

    @contextlib.contextmanager
    def transaction(self) -> Iterator[Database]:
        """Everything done in the block by this thread commits together, or not at all."""
        with self._begin(self._conn()):
            yield self

    def close(self) -> None:
        """Close every thread's connection."""
        with self._lock:
            for conn in self._all:
                with contextlib.suppress(Exception):
                    conn.close()
            self._all.clear()
        self._local = threading.local()


class DuckDatabase(Database):
    """Embedded DuckDB in one file (or ``:memory:``)."""

    dialect = "duckdb"

    def __init__(self, path: str) -> None:
        import duckdb

        super().__init__()
        self.path = path
        if path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        try:
            self._root = duckdb.connect(path)
        except duckdb.IOException as exc:
            raise InfrastructureError(
                f"cannot open the portal store {path}: {str(exc).splitlines()[0]}; another "
                "`faucon portal` (or the demo) has it open: stop it first (users can be "
                "managed on the Users page of the running portal), or give this one its own "
                "state directory (FAUCON_STATE_DIR)"
            ) from None

    def _connect(self) -> Any:
        return self._root.cursor()

    @contextlib.contextmanager
    def _begin(self, conn: Any) -> Iterator[None]:
        conn.execute("BEGIN TRANSACTION")
        try:
            yield
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")

    def _insert_rows(
        self, conn: Any, table: str, columns: Sequence[str], rows: list[tuple[Any, ...]]
    ) -> None:
        import pyarrow as pa

        cols = {c: [r[i] for r in rows] for i, c in enumerate(columns)}
        names = ", ".join(columns)
        conn.register("_portal_batch", pa.table(cols))
        try:
            conn.execute(
                f"INSERT INTO {table} ({names}) SELECT {names} FROM _portal_batch "
                "ON CONFLICT DO NOTHING"
            )
        finally:
            conn.unregister("_portal_batch")

    def insert_arrow(self, table: str, rows: Any) -> None:
        names = ", ".join(rows.column_names)
        conn = self._conn()
        conn.register("_portal_rows", rows)
        try:
            conn.execute(f"INSERT INTO {table} ({names}) SELECT {names} FROM _portal_rows "
                         "ON CONFLICT DO NOTHING")  # fmt: skip
        finally:
            conn.unregister("_portal_rows")

    def close(self) -> None:
        super().close()
        with contextlib.suppress(Exception):
            self._root.close()


class PostgresDatabase(Database):
    """A PostgreSQL database (created on first use when the user may)."""

    dialect = "postgresql"

    def __init__(self, url: str, password: str) -> None:
        super().__init__()
        self.url, self._password = url, password
        self._ensure_database()

    def _connect(self, url: str | None = None) -> Any:
        import psycopg

        try:
            return psycopg.connect(
                url or self.url, password=self._password or None, autocommit=True,
                connect_timeout=10,
            )  # fmt: skip
        except psycopg.OperationalError as exc:
            raise InfrastructureError(
                f"cannot reach the portal store {self.url}: {str(exc).strip().splitlines()[-1]}"
                "; check FAUCON_PORTAL__STORE_URL and the password file"
            ) from None

    def _ensure_database(self) -> None:
        import psycopg

        base, _, name = self.url.rpartition("/")
        name = name.split("?", 1)[0]
        if not _DB_NAME.match(name):
            raise ConfigError(f"portal.store_url: database name {name!r} is not a plain name")
        try:
            self._conn()
            return
        except InfrastructureError as exc:
            if "does not exist" not in str(exc):
                raise
        admin = self._connect(f"{base}/postgres")
        try:
            admin.execute(f'CREATE DATABASE "{name}"')
        except psycopg.errors.DuplicateDatabase:
            pass
        finally:
            admin.close()
        self._conn()

    def _sql(self, sql: str) -> str:
        return sql.replace("?", "%s")

    def _begin(self, conn: Any) -> Any:
        return conn.transaction()

    def _insert_rows(
        self, conn: Any, table: str, columns: Sequence[str], rows: list[tuple[Any, ...]]
    ) -> None:
        marks = ", ".join("%s" for _ in columns)
        sql = f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks}) ON CONFLICT DO NOTHING"
        with conn.cursor() as cur:
            cur.executemany(sql, rows)


def open_database(target: str, password: str = "") -> Database:
    """A DuckDB file (or ``:memory:``), or PostgreSQL for a ``postgresql://`` URL."""
    if target.startswith(("postgresql://", "postgres://")):
        return PostgresDatabase(target, password)
    return DuckDatabase(target)
