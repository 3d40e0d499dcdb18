"""Measure cross-match throughput, alerts per second on one core, on real alert positions.

Examples
--------
>>> result = bench(n_alerts=20_000, repeat=1, max_files=50)
>>> result.match_per_s > 0
True
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, cast

import fastavro
import numpy as np

from broker.catalogs.context import derive_context, enrich
from broker.catalogs.index import catalog_set
from broker.core.config_crossmatch import CrossmatchSettings
from broker.core.errors import ConfigError

DEFAULT_ALERTS = Path("/work/shared/data/ztf/fink-datasim")

#: faucon.alert name -> ZTF candidate field (see schemas/faucon/README.md).
ZTF_FIELDS = {
    "ra": "ra",
    "dec": "dec",
    "ss_name": "ssnamenr",
    "ss_distance_arcsec": "ssdistnr",
    "ps1_distance_arcsec": "distpsnr1",
    "ps1_sgscore": "sgscore1",
    "gaia_distance_arcsec": "neargaia",
    "ref_distance_arcsec": "distnr",
}


def read_ztf_alerts(
    source: Path = DEFAULT_ALERTS, max_files: int | None = None
) -> list[dict[str, Any]]:
    """Read ZTF Avro alerts into faucon.alert-like dicts with the context fields.

    Parameters
    ----------
    source
        An ``.avro`` file or a directory of them.
    max_files
        Read at most this many files (sorted by name).
    """
    files = sorted(source.glob("*.avro")) if source.is_dir() else [source]
    if not files:
        raise ConfigError(f"no .avro alert files in {source}; pass a directory of ZTF alerts")
    alerts = []
    for path in files[:max_files]:
        with path.open("rb") as handle:
            for record in fastavro.reader(handle):
                rec = cast(dict[str, Any], record)
                cand = rec["candidate"]
                alert = {ours: cand.get(ztf) for ours, ztf in ZTF_FIELDS.items()}
                alerts.append({"file": path.name, "object_id": rec["objectId"], **alert})
    return alerts


@dataclass(frozen=True)
class BenchResult:
    """Throughput on one core, alerts per second (best of ``repeat`` runs)."""

    n_alerts: int
    n_positions: int
    catalogs: dict[str, int]
    match_per_s: float
    match_context_per_s: float
    enrich_per_s: float

    def as_dict(self) -> dict[str, Any]:
        """Plain dict, for JSON output."""
        return asdict(self)


def _best(fn: Any, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def bench(
    n_alerts: int = 200_000,
    repeat: int = 3,
    source: Path = DEFAULT_ALERTS,
    max_files: int | None = None,
    settings: CrossmatchSettings | None = None,
) -> BenchResult:
    """Time matching (and context) of ``n_alerts`` real alert positions, single-threaded.

    The real positions are repeated to reach ``n_alerts``; each repetition is
    offset by a few arcsec in a random direction so matches stay realistic
    without being cache-identical.  Catalog loading is excluded (done once per
    worker); the batch is matched in one call, as the stream does per
    Arrow batch.

    Returns
    -------
    BenchResult
        ``match_per_s``: index only; ``match_context_per_s``: index + context
        rules on columns; ``enrich_per_s``: :func:`enrich` on a list of dicts.
    """
    conf = settings or CrossmatchSettings()
    alerts = read_ztf_alerts(source, max_files)
    cats = catalog_set(catalogs_dir=conf.catalogs_dir, disabled=conf.disabled)
    reps = -(-n_alerts // len(alerts))
    rng = np.random.default_rng(0)
    base = {k: np.array([a[k] for a in alerts], dtype=object) for k in ZTF_FIELDS}
    cols = {k: np.tile(v, reps)[:n_alerts] for k, v in base.items()}
    jitter = rng.normal(0.0, 2.0 / 3600.0, size=(2, n_alerts))
    jitter[:, : len(alerts)] = 0.0  # the first copy keeps the exact positions
    dec = np.clip(cols["dec"].astype(np.float64) + jitter[1], -90.0, 90.0)
    ra = np.mod(cols["ra"].astype(np.float64) + jitter[0] / np.cos(np.radians(dec)), 360.0)
    cols["ra"], cols["dec"] = ra, dec
    contexts = {name: ix.catalog.entry.context for name, ix in cats.indexes.items()}

    t_match = _best(lambda: cats.match(ra, dec), repeat)
    t_context = _best(lambda: derive_context(cols, cats.match(ra, dec), contexts, conf), repeat)
    records = [dict(zip(cols, values, strict=True)) for values in zip(*cols.values(), strict=True)]
    t_enrich = _best(lambda: enrich(records, conf, cats), repeat)
    return BenchResult(
        n_alerts=n_alerts,
        n_positions=len(alerts),
        catalogs={n: ix.catalog.entry.rows for n, ix in cats.indexes.items()},
        match_per_s=n_alerts / t_match,
        match_context_per_s=n_alerts / t_context,
        enrich_per_s=n_alerts / t_enrich,
    )


if __name__ == "__main__":  # pragma: no cover
    import json

    print(json.dumps(bench().as_dict(), indent=2))
