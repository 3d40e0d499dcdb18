"""One context label per alert, from catalog matches and the alert's own context fields.

Rules, highest priority first (thresholds from :class:`CrossmatchSettings`):

1. ``solar_system`` -- ``ss_name`` set (not empty, not ``"null"``) and
   ``ss_distance_arcsec`` unknown or <= ``solar_system_max_arcsec``.
2. ``agn_blazar`` -- match in a catalog whose context is agn_blazar (4LAC, 3HSP).
3. ``young_stellar_object`` -- match in a young_stellar_object catalog (SPICY).
4. ``variable_star`` -- match in a variable_star catalog (GCVS).
5. ``stellar`` -- PS1 source within ``stellar_max_arcsec`` with sgscore >=
   ``star_min_sgscore``; or Gaia source within ``stellar_max_arcsec`` and no
   PS1 galaxy that close.
6. ``galaxy_hosted`` -- PS1 source with sgscore < ``star_min_sgscore`` within
   ``galaxy_max_arcsec``; or Rubin ``extendedness`` >= ``extended_min``.
7. ``hostless`` -- PS1 and/or reference-image distances known, and neither
   has a source within ``hostless_min_arcsec``.
8. ``unknown`` -- none of the above.

Distances: null means "not provided"; a negative value (ZTF's -999) means
"searched, nothing found".

Examples
--------
>>> import numpy as np
>>> from broker.catalogs.index import Match
>>> alerts = {"ss_name": np.array(["2001 AB", None], dtype=object),
...           "ss_distance_arcsec": np.array([1.2, np.nan])}
>>> none = np.array([None, None], dtype=object)
>>> m = {"gcvs": Match(none, none, np.array([np.nan, 0.3]))}
>>> derive_context(alerts, m, {"gcvs": "variable_star"}).tolist()
['solar_system', 'variable_star']
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from broker.catalogs.index import CatalogSet, Match, catalog_set
from broker.core.config_crossmatch import LABELS, CrossmatchSettings
from broker.core.errors import ProcessError

NUMERIC = (
    "ss_distance_arcsec",
    "ps1_distance_arcsec",
    "ps1_sgscore",
    "gaia_distance_arcsec",
    "ref_distance_arcsec",
    "extendedness",
)


def current_settings() -> CrossmatchSettings:
    """``settings().crossmatch`` when the main settings carry it, else the defaults."""
    from broker.core.config import settings

    found = getattr(settings(), "crossmatch", None)
    return found if isinstance(found, CrossmatchSettings) else CrossmatchSettings()


def _numeric(alerts: Mapping[str, Any] | pd.DataFrame, name: str, n: int) -> np.ndarray:
    if name not in alerts:
        return np.full(n, np.nan)
    return pd.to_numeric(pd.Series(alerts[name], dtype=object), errors="coerce").to_numpy(
        np.float64, na_value=np.nan
    )


def _has_name(alerts: Mapping[str, Any] | pd.DataFrame, n: int) -> np.ndarray:
    if "ss_name" not in alerts:
        return np.zeros(n, dtype=bool)
    text = pd.Series(alerts["ss_name"], dtype=object).fillna("").astype(str).str.strip()
    return ((text != "") & (text.str.lower() != "null")).to_numpy(bool)


def derive_context(
    alerts: Mapping[str, Any] | pd.DataFrame,
    matches: Mapping[str, Match],
    contexts: Mapping[str, str],
    settings: CrossmatchSettings | None = None,
) -> np.ndarray:
    """Apply the rules of this module to a batch of alerts, vectorized.

    Parameters
    ----------
    alerts
        Columns named as in faucon.alert (missing columns count as null).
    matches
        Output of :meth:`CatalogSet.match` for the same alerts.
    contexts
        Catalog name -> context label ('' for catalogs that imply none).
    settings
        Thresholds; the defaults when None.

    Returns
    -------
    numpy.ndarray
        One label per alert (object array of str).
    """
    s = settings or CrossmatchSettings()
    lengths = {len(m.sep_arcsec) for m in matches.values()}
    lengths |= {len(alerts[c]) for c in (*NUMERIC, "ss_name") if c in alerts}
    if len(lengths) > 1:
        raise ProcessError(f"alert columns and matches differ in length: {sorted(lengths)}")
    n = lengths.pop() if lengths else 0
    col = {name: _numeric(alerts, name, n) for name in NUMERIC}
    ss_d, ps1_d, sg = col["ss_distance_arcsec"], col["ps1_distance_arcsec"], col["ps1_sgscore"]
    gaia_d, ref_d, ext = (
        col["gaia_distance_arcsec"],
        col["ref_distance_arcsec"],
        col["extendedness"],
    )

    def within(d: np.ndarray, limit: float) -> np.ndarray:
        return (d >= 0) & (d <= limit)

    def found(label: str) -> np.ndarray:
        hit = np.zeros(n, dtype=bool)
        for name, m in matches.items():
            if contexts.get(name) == label:
                hit |= np.isfinite(m.sep_arcsec)
        return hit

    with np.errstate(invalid="ignore"):
        star_sg = (sg >= s.star_min_sgscore) & (sg <= 1)
        galaxy_sg = (sg >= 0) & (sg < s.star_min_sgscore)
        ps1_close = within(ps1_d, s.stellar_max_arcsec)
        searched = ~np.isnan(ps1_d) | ~np.isnan(ref_d)
        conditions = [
            _has_name(alerts, n) & ~(ss_d > s.solar_system_max_arcsec),
            found("agn_blazar"),
            found("young_stellar_object"),
            found("variable_star"),
            (ps1_close & star_sg)
            | (within(gaia_d, s.stellar_max_arcsec) & ~(ps1_close & galaxy_sg)),
            (within(ps1_d, s.galaxy_max_arcsec) & galaxy_sg) | (ext >= s.extended_min),
            searched
            & ~within(ps1_d, s.hostless_min_arcsec)
            & ~within(ref_d, s.hostless_min_arcsec),
        ]
    return np.select(conditions, list(LABELS[:-1]), default=LABELS[-1]).astype(object)


def _columns(alerts: list[dict[str, Any]]) -> dict[str, np.ndarray]:
    """Column arrays of the fields the rules and the match need."""
    for i, alert in enumerate(alerts):
        if "ra" not in alert or "dec" not in alert:
            raise ProcessError(f"alert #{i} has no 'ra'/'dec'; enrich faucon.alert records only")
    out = {
        name: np.array([a.get(name) for a in alerts], dtype=object)
        for name in (*NUMERIC, "ss_name")
    }
    for name in ("ra", "dec"):
        out[name] = np.array(
            [np.nan if a[name] is None else a[name] for a in alerts], dtype=np.float64
        )
    return out


def enrich(
    alerts: list[dict[str, Any]],
    settings: CrossmatchSettings | None = None,
    catalogs: CatalogSet | None = None,
) -> list[dict[str, Any]]:
    """Cross-match faucon.alert records and derive their context.

    Parameters
    ----------
    alerts
        faucon.alert records (at least ``ra`` and ``dec``).
    settings
        Cross-match settings; ``settings().crossmatch`` or defaults when None.
    catalogs
        Indexed catalogs; the per-process cached set when None.

    Returns
    -------
    list of dict
        Per alert ``{"xmatch": {catalog: {"id", "class", "sep_arcsec"} or None},
        "context": label}``.

    Examples
    --------
    >>> out = enrich([{"ra": 0.3182083, "dec": 29.5927778, "ss_name": None}])
    >>> out[0]["context"], out[0]["xmatch"]["blazar_3hsp"]["id"]
    ('agn_blazar', '3HSPJ000116.4+293534')
    """
    if not alerts:
        return []
    conf = settings or current_settings()
    cats = catalogs or catalog_set(catalogs_dir=conf.catalogs_dir, disabled=conf.disabled)
    cols = _columns(alerts)
    matches = cats.match(cols["ra"], cols["dec"])
    contexts = {name: ix.catalog.entry.context for name, ix in cats.indexes.items()}
    labels = derive_context(cols, matches, contexts, conf)
    per_catalog = {
        name: [
            None if c_id is None else {"id": c_id, "class": c_cls, "sep_arcsec": float(sep)}
            for c_id, c_cls, sep in zip(m.ids, m.classes, m.sep_arcsec, strict=True)
        ]
        for name, m in matches.items()
    }
    return [
        {"xmatch": {name: rows[i] for name, rows in per_catalog.items()}, "context": label}
        for i, label in enumerate(labels.tolist())
    ]
