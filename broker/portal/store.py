"""The portal's alert store: every enriched alert, indexed by object, time, sky zone and filter.

Tables (same SQL on DuckDB and PostgreSQL, :mod:`broker.portal.db`):

* ``alerts``: one row per alert (primary key survey + alert id), indexed by
  object id, time and sky zone (:mod:`broker.portal.sky`); the whole record
  without cutouts is kept compressed for the object page and backtests;
* ``scores``: one row per classifier or anomaly score of an alert;
* ``cutouts``: the three images of the alerts that carry them;
* ``filter_hits``: which filter topics each alert was published on.

Writes are idempotent (``ON CONFLICT DO NOTHING``): the ingest is
at-least-once and a replayed batch changes nothing.

Examples
--------
>>> from broker.core.config import load_settings
>>> store = AlertStore(open_database(":memory:"), load_settings().portal)
>>> store.counts()["alerts"]
0
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

from broker.core.config_portal import PortalSettings
from broker.portal.db import Database, open_database
from broker.portal.records import (
    ALERT_COLUMNS,
    CUTOUT_COLUMNS,
    HIT_COLUMNS,
    SCORE_COLUMNS,
    SUMMARY_COLUMNS,
    alert_row,
    cutout_row,
    decode_record,
    hit_row,
    score_rows,
)
from broker.portal.sky import cone_where

__all__ = ["AlertStore", "open_database"]

DDL = (
    """CREATE TABLE IF NOT EXISTS alerts (
        survey TEXT NOT NULL, alert_id BIGINT NOT NULL, object_id TEXT NOT NULL,
        mjd_tai DOUBLE PRECISION NOT NULL, ra DOUBLE PRECISION NOT NULL,
        dec DOUBLE PRECISION NOT NULL, zone INTEGER NOT NULL, cx DOUBLE PRECISION NOT NULL,
        cy DOUBLE PRECISION NOT NULL, cz DOUBLE PRECISION NOT NULL, band TEXT,
        mag DOUBLE PRECISION, mag_err DOUBLE PRECISION, flux_njy DOUBLE PRECISION,
        flux_err_njy DOUBLE PRECISION, is_positive BOOLEAN, reliability DOUBLE PRECISION,
        n_detections INTEGER, context TEXT, schema_version TEXT, ingest_ms BIGINT,
        stored_ms BIGINT NOT NULL, has_cutouts BOOLEAN NOT NULL, record BYTEA NOT NULL,
        PRIMARY KEY (survey, alert_id))""",
    "CREATE INDEX IF NOT EXISTS alerts_object ON alerts (object_id)",
    "CREATE INDEX IF NOT EXISTS alerts_time ON alerts (mjd_tai)",
    "CREATE INDEX IF NOT EXISTS alerts_sky ON alerts (zone, ra)",
    """CREATE TABLE IF NOT EXISTS scores (
        survey TEXT NOT NULL, alert_id BIGINT NOT NULL, object_id TEXT NOT NULL,
        mjd_tai DOUBLE PRECISION NOT NULL, key TEXT NOT NULL, model TEXT NOT NULL,
        version TEXT, label TEXT NOT NULL, probability DOUBLE PRECISION, top BOOLEAN NOT NULL,
        PRIMARY KEY (survey, alert_id, key))""",
    "CREATE INDEX IF NOT EXISTS scores_key ON scores (key, probability)",
    """CREATE TABLE IF NOT EXISTS cutouts (
        survey TEXT NOT NULL, alert_id BIGINT NOT NULL, format TEXT, science BYTEA,
        template BYTEA, difference BYTEA, PRIMARY KEY (survey, alert_id))""",
    """CREATE TABLE IF NOT EXISTS filter_hits (
        filter TEXT NOT NULL, survey TEXT NOT NULL, alert_id BIGINT NOT NULL,
        object_id TEXT NOT NULL, mjd_tai DOUBLE PRECISION NOT NULL, published_ms BIGINT,
        PRIMARY KEY (filter, survey, alert_id))""",
    "CREATE INDEX IF NOT EXISTS filter_hits_time ON filter_hits (filter, published_ms)",
)
_SUMMARY = ", ".join(f"a.{c}" for c in SUMMARY_COLUMNS)
_ORDER = "ORDER BY a.mjd_tai DESC, a.survey, a.alert_id DESC"
CUTOUT_KINDS = ("science", "template", "difference")


def _window(
    since: float | None, until: float | None, column: str = "a.mjd_tai"
) -> tuple[str, list[Any]]:
    sql, params = "", list[Any]()
    if since is not None:
        sql, params = sql + f" AND {column} >= ?", [*params, since]
    if until is not None:
        sql, params = sql + f" AND {column} <= ?", [*params, until]
    return sql, params


class AlertStore:
    """Reads and writes of the alert tables (see the module doc)."""

    def __init__(self, db: Database, settings: PortalSettings) -> None:
        self.db = db
        self.settings = settings
        for statement in DDL:
            db.execute(statement)

    # ----------------------------------------------------------------- writes
    def add(
        self,
        alerts: Sequence[dict[str, Any]],
        hits: Sequence[tuple[str, dict[str, Any], int]] = (),
    ) -> int:
        """Store alerts and filter hits ``(filter, alert, published_ms)`` in one transaction.

        Returns the number of alerts given (repeats are skipped by the database).
        """
        now = int(time.time() * 1000)
        height = self.settings.zone_height_deg
        rows = [alert_row(rec, height, now) for rec in alerts]
        scores = [row for rec in alerts for row in score_rows(rec)]
        cutouts = []
        if self.settings.store_cutouts:
            cutouts = [r for rec in alerts if (r := cutout_row(rec)) is not None]
        hit_rows = [hit_row(name, rec, ms) for name, rec, ms in hits]
        with self.db.transaction() as tx:
            tx.insert("alerts", ALERT_COLUMNS, rows)
            tx.insert("scores", SCORE_COLUMNS, scores)
            tx.insert("cutouts", CUTOUT_COLUMNS, cutouts)
            tx.insert("filter_hits", HIT_COLUMNS, hit_rows)
        return len(rows)

    # ------------------------------------------------------------------ reads
    def object_alerts(self, object_id: str) -> list[dict[str, Any]]:
        """Every stored alert of an object, oldest first, with its whole record."""
        rows = self.db.query(
            f"SELECT {_SUMMARY}, a.record FROM alerts a WHERE a.object_id = ? "
            "ORDER BY a.mjd_tai, a.alert_id",
            [object_id],
        )
        for row in rows:
            row["record"] = decode_record(row["record"])
        return rows

    def alert(self, survey: str, alert_id: int) -> dict[str, Any] | None:
        """One alert's summary, None when it is not stored."""
        rows = self.db.query(
            f"SELECT {_SUMMARY} FROM alerts a WHERE a.survey = ? AND a.alert_id = ?",
            [survey, alert_id],
        )
        return rows[0] if rows else None

    def cone(
        self, ra: float, dec: float, radius: float, limit: int, offset: int,
        since: float | None = None, until: float | None = None,
    ) -> tuple[list[dict[str, Any]], int]:  # fmt: skip
        """Alerts inside a cone (exact), newest first; and how many there are in all."""
        where, params = cone_where(ra, dec, radius, self.settings.zone_height_deg)
        more, extra = _window(since, until)
        where, params = f"{where}{more}", [*params, *extra]
        total = int(self.db.scalar(f"SELECT count(*) FROM alerts a WHERE {where}", params))
        rows = self.db.query(
            f"SELECT {_SUMMARY} FROM alerts a WHERE {where} {_ORDER} LIMIT ? OFFSET ?",
            [*params, limit, offset],
        )
        return rows, total

    def latest(
        self, limit: int, offset: int, since: float | None = None, until: float | None = None,
        context: str | None = None,
    ) -> list[dict[str, Any]]:  # fmt: skip
        """The newest alerts (by observation time), optionally of one context."""
        where, params = _window(since, until)
        if context is not None:
            where, params = where + " AND a.context = ?", [*params, context]
        return self.db.query(
            f"SELECT {_SUMMARY} FROM alerts a WHERE 1 = 1{where} {_ORDER} LIMIT ? OFFSET ?",
            [*params, limit, offset],
        )

    def by_score(
        self, key: str, low: float, high: float, limit: int, offset: int,
        since: float | None = None, until: float | None = None, top: bool = False,
    ) -> list[dict[str, Any]]:  # fmt: skip
        """Alerts whose score ``key`` is in [low, high] (``top``: it is its model's best label)."""
        where, params = _window(since, until, "s.mjd_tai")
        if top:
            where += " AND s.top"
        return self.db.query(
            f"SELECT {_SUMMARY}, s.key AS score_key, s.probability AS score FROM scores s "
            "JOIN alerts a ON a.survey = s.survey AND a.alert_id = s.alert_id "
            f"WHERE s.key = ? AND s.probability BETWEEN ? AND ?{where} {_ORDER} LIMIT ? OFFSET ?",
            [key, low, high, *params, limit, offset],
        )

    def score_keys(self) -> list[dict[str, Any]]:
        """Every score key stored, with its model, label and how many alerts have it."""
        return self.db.query(
            "SELECT key, model, label, count(*) AS alerts, count(probability) AS scored "
            "FROM scores GROUP BY key, model, label ORDER BY key"
        )

    def filter_latest(
        self, name: str, limit: int, offset: int, since_ms: int | None = None
    ) -> list[dict[str, Any]]:
        """Alerts published on a filter's topic, last published first."""
        where, params = "", []
        if since_ms is not None:
            where, params = " AND h.published_ms > ?", [since_ms]
        return self.db.query(
            f"SELECT {_SUMMARY}, h.published_ms FROM filter_hits h JOIN alerts a "
            "ON a.survey = h.survey AND a.alert_id = h.alert_id "
            f"WHERE h.filter = ?{where} "
            "ORDER BY h.published_ms DESC, a.survey, a.alert_id DESC LIMIT ? OFFSET ?",
            [name, *params, limit, offset],
        )

    def filter_counts(self) -> dict[str, int]:
        """Alerts stored per filter."""
        rows = self.db.query("SELECT filter, count(*) AS n FROM filter_hits GROUP BY filter")
        return {r["filter"]: int(r["n"]) for r in rows}

    def cutout(self, survey: str, alert_id: int, kind: str) -> tuple[str | None, bytes] | None:
        """(format, bytes) of one cutout, None when the alert has no such image."""
        if kind not in CUTOUT_KINDS:
            raise ValueError(kind)
        rows = self.db.query(
            f"SELECT format, {kind} AS data FROM cutouts WHERE survey = ? AND alert_id = ?",
            [survey, alert_id],
        )
        if not rows or rows[0]["data"] is None:
            return None
        return rows[0]["format"], bytes(rows[0]["data"])

    def recent_records(self, n: int) -> list[dict[str, Any]]:
        """The whole records of the ``n`` alerts stored last (for backtests)."""
        rows = self.db.query(
            "SELECT record FROM alerts ORDER BY stored_ms DESC, mjd_tai DESC LIMIT ?", [n]
        )
        return [decode_record(r["record"]) for r in rows]

    def alert_count(self) -> int:
        """Alerts stored."""
        return int(self.db.scalar("SELECT count(*) FROM alerts"))

    def counts(self) -> dict[str, Any]:
        """Rows per table and the newest stored alert (for health)."""
        out: dict[str, Any] = {
            t: int(self.db.scalar(f"SELECT count(*) FROM {t}"))
            for t in ("alerts", "scores", "cutouts", "filter_hits")
        }
        out["objects"] = int(self.db.scalar("SELECT count(DISTINCT object_id) FROM alerts"))
        out["last_stored_ms"] = self.db.scalar("SELECT max(stored_ms) FROM alerts")
        return out
