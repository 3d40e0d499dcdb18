"""Context rules, table-tested, plus enrich() output shape."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest

from broker.catalogs.context import derive_context, enrich
from broker.catalogs.index import Match
from broker.core.config_crossmatch import LABELS, CrossmatchSettings
from broker.core.errors import ProcessError

CONTEXTS = {
    "gcvs": "variable_star",
    "spicy": "young_stellar_object",
    "fermi_4lac": "agn_blazar",
    "plain": "",
}
NONE: dict[str, Any] = {}
# ZTF "nothing found" sentinels
ZTF_EMPTY = {
    "ps1_distance_arcsec": -999.0,
    "ps1_sgscore": -999.0,
    "ref_distance_arcsec": -999.0,
    "gaia_distance_arcsec": -999.0,
    "ss_name": "null",
    "ss_distance_arcsec": -999.0,
}

# (case, alert fields, catalogs matched, expected label)
CASES: list[tuple[str, dict[str, Any], tuple[str, ...], str]] = [
    ("ztf known asteroid", {"ss_name": "2005WM38", "ss_distance_arcsec": 1.2}, (), "solar_system"),
    (
        "asteroid beats catalogs",
        {"ss_name": "1", "ss_distance_arcsec": 0.0},
        ("gcvs",),
        "solar_system",
    ),
    ("asteroid too far", {**ZTF_EMPTY, "ss_name": "1", "ss_distance_arcsec": 30.0}, (), "hostless"),
    ("ztf 'null' name", {"ss_name": "null", "ss_distance_arcsec": 0.5}, (), "unknown"),
    ("rubin ssSource, no offset", {"ss_name": "2024 AB1"}, (), "solar_system"),
    ("blank name", {"ss_name": "  ", "ss_distance_arcsec": 0.0}, (), "unknown"),
    ("blazar beats variable", NONE, ("gcvs", "fermi_4lac"), "agn_blazar"),
    ("yso beats variable", NONE, ("gcvs", "spicy"), "young_stellar_object"),
    ("variable star", NONE, ("gcvs",), "variable_star"),
    (
        "catalog beats ps1 star",
        {"ps1_distance_arcsec": 0.2, "ps1_sgscore": 0.99},
        ("gcvs",),
        "variable_star",
    ),
    ("catalog without context", {**ZTF_EMPTY}, ("plain",), "hostless"),
    ("ps1 star on top", {"ps1_distance_arcsec": 0.3, "ps1_sgscore": 0.98}, (), "stellar"),
    ("ps1 star at limit", {"ps1_distance_arcsec": 1.0, "ps1_sgscore": 0.5}, (), "stellar"),
    ("ps1 galaxy on top", {"ps1_distance_arcsec": 0.3, "ps1_sgscore": 0.02}, (), "galaxy_hosted"),
    ("gaia only", {"gaia_distance_arcsec": 0.4}, (), "stellar"),
    (
        "gaia but ps1 galaxy",
        {"gaia_distance_arcsec": 0.4, "ps1_distance_arcsec": 0.3, "ps1_sgscore": 0.1},
        (),
        "galaxy_hosted",
    ),
    ("ps1 galaxy offset", {"ps1_distance_arcsec": 3.0, "ps1_sgscore": 0.1}, (), "galaxy_hosted"),
    (
        "ps1 star offset",
        {"ps1_distance_arcsec": 3.0, "ps1_sgscore": 0.9, "ref_distance_arcsec": 3.0},
        (),
        "unknown",
    ),
    (
        "ps1 galaxy too far",
        {"ps1_distance_arcsec": 6.0, "ps1_sgscore": 0.1, "ref_distance_arcsec": 8.0},
        (),
        "hostless",
    ),
    ("ztf nothing found", ZTF_EMPTY, (), "hostless"),
    ("ref source near", {**ZTF_EMPTY, "ref_distance_arcsec": 2.0}, (), "unknown"),
    ("ref only, far", {"ref_distance_arcsec": 12.0}, (), "hostless"),
    ("sgscore missing", {"ps1_distance_arcsec": 0.5, "ps1_sgscore": -999.0}, (), "unknown"),
    ("rubin extended", {"extendedness": 0.9}, (), "galaxy_hosted"),
    ("rubin point-like", {"extendedness": 0.1}, (), "unknown"),
    ("nothing at all", NONE, (), "unknown"),
]


def _run(rows: list[tuple[dict[str, Any], tuple[str, ...]]], settings=None) -> list[str]:
    n = len(rows)
    fields = {k for fields, _ in rows for k in fields}
    alerts = {k: np.array([f.get(k) for f, _ in rows], dtype=object) for k in fields}
    matches = {}
    for name in CONTEXTS:
        sep = np.array([0.5 if name in cats else np.nan for _, cats in rows])
        ids = np.array([f"{name}-x" if name in cats else None for _, cats in rows], dtype=object)
        matches[name] = Match(ids, ids.copy(), sep)
    out = derive_context(alerts, matches, CONTEXTS, settings)
    assert len(out) == n
    return out.tolist()


def test_rule_table_batch() -> None:
    """All cases at once: one vectorized call gives each row its label."""
    got = _run([(fields, cats) for _, fields, cats, _ in CASES])
    want = [label for *_, label in CASES]
    bad = [(c[0], g, w) for c, g, w in zip(CASES, got, want, strict=True) if g != w]
    assert not bad, bad


@pytest.mark.parametrize(("case", "fields", "cats", "label"), CASES, ids=[c[0] for c in CASES])
def test_rule_table_single(
    case: str, fields: dict[str, Any], cats: tuple[str, ...], label: str
) -> None:
    assert _run([(fields, cats)]) == [label]


def test_every_label_is_reachable() -> None:
    assert {label for *_, label in CASES} == set(LABELS)


def test_thresholds_come_from_settings() -> None:
    row = (
        {"ss_name": "1", "ss_distance_arcsec": 1.2, "ps1_distance_arcsec": 0.8, "ps1_sgscore": 0.6},
        (),
    )
    assert _run([row]) == ["solar_system"]
    strict = CrossmatchSettings(solar_system_max_arcsec=1.0)
    assert _run([row], strict) == ["stellar"]
    stricter = CrossmatchSettings(solar_system_max_arcsec=1.0, star_min_sgscore=0.7)
    assert _run([row], stricter) == ["galaxy_hosted"]


def test_dataframe_input_and_missing_columns() -> None:
    frame = pd.DataFrame({"ps1_distance_arcsec": [0.2, None], "ps1_sgscore": [0.9, None]})
    none = np.array([None, None], dtype=object)
    out = derive_context(frame, {"gcvs": Match(none, none, np.array([np.nan, 0.1]))}, CONTEXTS)
    assert out.tolist() == ["stellar", "variable_star"]


def test_length_mismatch_is_a_process_error() -> None:
    none = np.array([None], dtype=object)
    with pytest.raises(ProcessError, match="differ in length"):
        derive_context(
            {"ps1_sgscore": np.array([0.1, 0.2])},
            {"gcvs": Match(none, none, np.array([np.nan]))},
            CONTEXTS,
        )


def test_enrich_output_shape() -> None:
    alerts = [
        {"ra": 0.3182083, "dec": 29.5927778, "ss_name": None},  # 3HSPJ000116.4+293534
        {"ra": 10.0, "dec": 10.0, "ps1_distance_arcsec": 0.1, "ps1_sgscore": 1.0},
        {"ra": None, "dec": None},
    ]
    out = enrich(alerts, CrossmatchSettings())
    assert [o["context"] for o in out] == ["agn_blazar", "stellar", "unknown"]
    assert set(out[0]["xmatch"]) == {"gcvs", "spicy", "fermi_4lac", "blazar_3hsp"}
    hit = out[0]["xmatch"]["blazar_3hsp"]
    assert hit["id"] == "3HSPJ000116.4+293534" and hit["class"] == "HSP"
    assert isinstance(hit["sep_arcsec"], float) and hit["sep_arcsec"] < 0.01
    assert out[0]["xmatch"]["gcvs"] is None
    assert all(v is None for v in out[2]["xmatch"].values())
    assert enrich([]) == []


def test_enrich_disabled_catalog() -> None:
    out = enrich(
        [{"ra": 0.3182083, "dec": 29.5927778}], CrossmatchSettings(disabled=("blazar_3hsp",))
    )
    assert "blazar_3hsp" not in out[0]["xmatch"] and out[0]["context"] == "unknown"


def test_enrich_requires_coordinates() -> None:
    with pytest.raises(ProcessError, match="alert #1 has no 'ra'"):
        enrich([{"ra": 1.0, "dec": 1.0}, {"object_id": "x"}])
