"""The nightly Parquet archive, queried through the portal's API with DuckDB.

``faucon archive --night`` writes ``<archive>/survey=<S>/night=<N>/*.parquet``
(:mod:`broker.archive.night`).  This module reads those files in place with an
in-memory DuckDB (no copy into the store): the nights there, the alerts of a
night (optionally of one object or inside a cone, with the same exact test as
the store), and whole records for backtests.  Cutout bytes are never read.

Examples
--------
>>> from broker.core.config import load_settings
>>> Archive(load_settings(state_dir="/nonexistent")).nights()
[]
"""

from __future__ import annotations

import threading
from typing import Any

from broker.archive.paths import archive_root, check_night
from broker.core.config import Settings
from broker.core.errors import ConfigError
from broker.portal.records import SUMMARY_COLUMNS
from broker.portal.sky import cone_where

# the unit vector of a row, computed in SQL (the Parquet files have no cx, cy, cz)
_VECTOR = (
    "cos(radians(dec)) * cos(radians(ra))",
    "cos(radians(dec)) * sin(radians(ra))",
    "sin(radians(dec))",
)


class Archive:
    """Read-only queries of the archive's Parquet files."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.root = archive_root(settings)
        self._lock = threading.Lock()

    def _files(self, night: str | None = None) -> list[str]:
        pattern = f"survey=*/night={check_night(night) if night else '*'}/*.parquet"
        return sorted(str(p) for p in self.root.glob(pattern)) if self.root.is_dir() else []

    def _query(self, sql: str, params: list[Any]) -> list[dict[str, Any]]:
        import duckdb

        with self._lock, duckdb.connect(":memory:") as con:
            cur = con.execute(sql, params)
            names = [d[0] for d in cur.description]
            return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]

    @staticmethod
    def _source(files: list[str]) -> str:
        listed = ", ".join("'" + f.replace("'", "''") + "'" for f in files)
        return f"read_parquet([{listed}], hive_partitioning = true, union_by_name = true)"

    def nights(self) -> list[dict[str, Any]]:
        """Every archived night with its alerts per survey."""
        files = self._files()
        if not files:
            return []
        rows = self._query(
            f"SELECT night, survey, count(*) AS alerts FROM {self._source(files)} "
            "GROUP BY night, survey ORDER BY night DESC, survey",
            [],
        )
        out: dict[str, dict[str, Any]] = {}
        for r in rows:
            entry = out.setdefault(str(r["night"]), {"night": str(r["night"]), "alerts": 0,
                                                     "surveys": {}})  # fmt: skip
            entry["surveys"][r["survey"]] = int(r["alerts"])
            entry["alerts"] += int(r["alerts"])
        return list(out.values())

    def alerts(
        self, night: str, limit: int, offset: int, object_id: str | None = None,
        cone: tuple[float, float, float] | None = None,
    ) -> tuple[list[dict[str, Any]], int]:  # fmt: skip
        """Alerts of an archived night (summary columns), newest first, and their total."""
        files = self._files(night)
        if not files:
            raise ConfigError(f"night {night} is not in the archive ({self.root}); "
                              "GET /api/v1/archive/nights lists the archived nights")  # fmt: skip
        where, params = "1 = 1", list[Any]()
        if object_id is not None:
            where, params = where + " AND object_id = ?", [*params, object_id]
        if cone is not None:
            sql, extra = cone_where(*cone, None, _VECTOR)
            where, params = f"{where} AND {sql}", [*params, *extra]
        columns = ", ".join(c for c in SUMMARY_COLUMNS if c not in ("has_cutouts", "ingest_ms"))
        src = self._source(files)
        total = self._query(f"SELECT count(*) AS n FROM {src} WHERE {where}", params)[0]["n"]
        rows = self._query(
            f"SELECT {columns}, cutout_science IS NOT NULL AS has_cutouts, "
            f"provenance.ingest_ms AS ingest_ms, night FROM {src} WHERE {where} "
            "ORDER BY mjd_tai DESC, survey, alert_id DESC LIMIT ? OFFSET ?",
            [*params, limit, offset],
        )
        return rows, int(total)

    def records(self, night: str, limit: int) -> list[dict[str, Any]]:
        """Whole records (filter view columns, no cutouts) of an archived night, for a backtest."""
        import pyarrow.dataset as ds

        from broker.core.schema import filter_view_schema

        files = self._files(night)
        if not files:
            raise ConfigError(f"night {night} is not in the archive ({self.root}); "
                              "GET /api/v1/archive/nights lists the archived nights")  # fmt: skip
        dataset = ds.dataset(files, format="parquet")
        columns = [n for n in filter_view_schema().names if n in dataset.schema.names]
        return list(dataset.head(limit, columns=columns).to_pylist())
