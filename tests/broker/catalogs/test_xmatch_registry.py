"""Shipped registry, operator `add` (Parquet, CSV, FITS), versions, cache and CLI."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from astropy.table import Table
from typer.testing import CliRunner

from broker.catalogs.add import add_catalog
from broker.catalogs.build import build
from broker.catalogs.index import catalog_set, match
from broker.catalogs.ingest import read_normalized, sha256_file
from broker.catalogs.registry import SHIPPED_DIR, load_registry
from broker.cli.catalogs import app
from broker.core.errors import ConfigError, InfrastructureError

SOURCE = Path("/work/shared/data/catalogs")
ROWS = {"gcvs": 59_099, "spicy": 117_446, "fermi_4lac": 3_814, "blazar_3hsp": 2_013}
REQUIRED = {"licence": "CC-BY-4.0", "citation": "Someone et al. 2026"}


def test_shipped_registry_is_complete_and_intact() -> None:
    active = load_registry().active()
    assert {n: c.entry.rows for n, c in active.items()} == ROWS
    for cat in active.values():
        e = cat.entry
        assert cat.origin == "shipped" and e.version == 1
        assert sha256_file(cat.path) == e.sha256
        assert e.licence and e.citation and e.source and e.radius_reason
        frame = read_normalized(cat.path)
        assert list(frame.columns) == ["ra", "dec", "id", "class"] and len(frame) == e.rows
        assert frame["id"].notna().all()
        assert frame["ra"].between(0, 360, inclusive="left").all()
        assert frame["dec"].between(-90, 90).all()
    radii = {n: c.entry.radius_arcsec for n, c in active.items()}
    assert radii == {"gcvs": 1.5, "spicy": 1.5, "fermi_4lac": 4.0, "blazar_3hsp": 3.0}


def test_build_is_reproducible(tmp_path: Path) -> None:
    entries = build(SOURCE, tmp_path)
    shipped = {c.entry.name: c.entry.sha256 for c in load_registry().active().values()}
    assert {e.name: e.sha256 for e in entries} == shipped


def _parquet(tmp_path: Path, n: int = 3) -> Path:
    path = tmp_path / "cat.parquet"
    pd.DataFrame(
        {
            "RA": np.linspace(10, 12, n),
            "DEC": np.linspace(-5, 5, n),
            "NAME": [f"S{i}" for i in range(n)],
            "TYPE": ["A", None, " B "][:n],
        }
    ).to_parquet(path)
    return path


def test_add_parquet_then_new_version(tmp_path: Path, ops_dir: Path) -> None:
    path = _parquet(tmp_path)
    e1 = add_catalog(
        "mine",
        path,
        ra_col="RA",
        dec_col="DEC",
        id_col="NAME",
        class_col="TYPE",
        radius_arcsec=2.0,
        context="variable_star",
        **REQUIRED,
    )
    assert (e1.version, e1.rows, e1.file) == (1, 3, "mine-v1.parquet")
    frame = read_normalized(ops_dir / e1.file)
    assert frame["class"].tolist()[::2] == ["A", "B"] and pd.isna(frame["class"][1])
    # a new version inherits radius, context, licence, citation
    e2 = add_catalog("mine", path, ra_col="RA", dec_col="DEC")
    assert (e2.version, e2.radius_arcsec, e2.context, e2.licence) == (
        2,
        2.0,
        "variable_star",
        "CC-BY-4.0",
    )
    reg = load_registry()
    assert reg.active()["mine"].entry.version == 2 and len(reg.versions("mine")) == 2
    out = match(np.array([10.0]), np.array([-5.0]))
    assert out["mine"].ids[0] == "mine#1"  # v2 has no id column: row ids


def test_add_csv_sexagesimal(tmp_path: Path) -> None:
    path = tmp_path / "cat.csv"
    path.write_text(
        'name , ra , dec\n"A" , "00 01 16.37" , "-00 30 00"\n"B" , "12 00 00" , "+89 59 59.9"\n'
    )
    e = add_catalog(
        "sexa",
        path,
        ra_col="ra",
        dec_col="dec",
        id_col="name",
        sexagesimal=True,
        radius_arcsec=1.0,
        class_value="thing",
        **REQUIRED,
    )
    frame = read_normalized(e and load_registry().active()["sexa"].path)
    assert frame["ra"].tolist() == [0.3182083333333333, 180.0]
    assert frame["dec"].tolist()[0] == -0.5 and frame["class"].tolist() == ["thing", "thing"]


def test_add_fits(tmp_path: Path) -> None:
    path = tmp_path / "cat.fits"
    Table(
        {"RAJ2000": [359.9999, 0.5], "DEJ2000": [-89.9, 1.0], "Source": np.array([b"X1  ", b"X2"])}
    ).write(path)
    add_catalog(
        "fitscat",
        path,
        ra_col="RAJ2000",
        dec_col="DEJ2000",
        id_col="Source",
        radius_arcsec=5.0,
        **REQUIRED,
    )
    out = match(np.array([0.0001, 0.5]), np.array([-89.9, 1.0]))["fitscat"]
    assert out.ids.tolist() == ["X1", "X2"]


def test_operator_overrides_shipped_catalog(tmp_path: Path) -> None:
    e = add_catalog("gcvs", _parquet(tmp_path), ra_col="RA", dec_col="DEC")
    assert e.version == 2 and e.radius_arcsec == 1.5 and e.context == "variable_star"
    active = load_registry().active()["gcvs"]
    assert active.origin == "operator" and active.entry.rows == 3


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (
            {"ra_col": "nope", "dec_col": "DEC", "radius_arcsec": 1.0, **REQUIRED},
            "R.A. column 'nope' not found",
        ),
        ({"ra_col": "RA", "dec_col": "DEC", **REQUIRED}, "pass --radius"),
        (
            {"ra_col": "RA", "dec_col": "DEC", "radius_arcsec": 1.0, "citation": "x"},
            "pass --licence",
        ),
        (
            {
                "ra_col": "RA",
                "dec_col": "DEC",
                "radius_arcsec": 1.0,
                "context": "galaxy",
                **REQUIRED,
            },
            "context must be",
        ),
        (
            {"ra_col": "DEC", "dec_col": "RA", "radius_arcsec": 1.0, **REQUIRED},
            "out-of-range coordinates",
        ),
    ],
)
def test_add_rejects_bad_input(tmp_path: Path, kwargs: dict, message: str) -> None:
    path = tmp_path / "bad.parquet"
    pd.DataFrame({"RA": [10.0, 200.0], "DEC": [-5.0, 5.0]}).to_parquet(path)
    with pytest.raises(ConfigError, match=message):
        add_catalog("bad", path, **kwargs)


def test_drop_invalid_and_bad_name(tmp_path: Path) -> None:
    path = tmp_path / "bad.parquet"
    pd.DataFrame({"RA": [10.0, np.nan, 20.0], "DEC": [-5.0, 5.0, 95.0]}).to_parquet(path)
    e = add_catalog(
        "dropper",
        path,
        ra_col="RA",
        dec_col="DEC",
        radius_arcsec=1.0,
        drop_invalid=True,
        **REQUIRED,
    )
    assert e.rows == 1
    with pytest.raises(ConfigError, match="name"):
        add_catalog(
            "Bad-Name",
            path,
            ra_col="RA",
            dec_col="DEC",
            radius_arcsec=1.0,
            drop_invalid=True,
            **REQUIRED,
        )


def test_tampered_file_and_broken_registry(tmp_path: Path, ops_dir: Path) -> None:
    e = add_catalog(
        "mine", _parquet(tmp_path), ra_col="RA", dec_col="DEC", radius_arcsec=1.0, **REQUIRED
    )
    with (ops_dir / e.file).open("ab") as handle:
        handle.write(b"x")
    with pytest.raises(InfrastructureError, match="does not match the sha256"):
        catalog_set()
    (ops_dir / "catalogs.toml").write_text("[[catalog]]\nname = 1\n")
    with pytest.raises(ConfigError, match="catalog #1 is invalid"):
        load_registry()


def test_index_cache_is_keyed_by_registry_content(tmp_path: Path) -> None:
    first = catalog_set()
    assert catalog_set() is first
    add_catalog(
        "mine", _parquet(tmp_path), ra_col="RA", dec_col="DEC", radius_arcsec=1.0, **REQUIRED
    )
    second = catalog_set()
    assert second is not first and "mine" in second.indexes
    assert second.in_use()["mine"]["version"] == 1


def test_cli_list_add_show(tmp_path: Path, ops_dir: Path) -> None:
    runner = CliRunner()
    path = _parquet(tmp_path)
    result = runner.invoke(
        app,
        [
            "add",
            "mine",
            str(path),
            "--ra-col",
            "RA",
            "--dec-col",
            "DEC",
            "--radius",
            "2",
            "--licence",
            "CC0",
            "--citation",
            "me",
        ],
    )
    assert result.exit_code == 0, result.output
    assert "added mine v1: 3 rows" in result.output
    result = runner.invoke(app, ["list"])
    assert result.exit_code == 0 and "mine" in result.output and "117,446" in result.output
    state = tmp_path / "state"
    from broker.core.config import load_settings
    from broker.pipeline.enrichers import crossmatch

    # The stream's cross-match unit reports the catalogs its worker uses.
    crossmatch([{"ra": 10.0, "dec": 20.0}], load_settings(state_dir=state))
    result = runner.invoke(app, ["show", "gcvs", "--state-dir", str(state)])
    assert result.exit_code == 0 and "Samus" in result.output
    assert f"-{os.getpid()}: gcvs v1" in result.output
    result = runner.invoke(app, ["add", "mine", str(path), "--ra-col", "zz"])
    assert result.exit_code == 1 and "'zz' not found" in result.output


def test_shipped_dir_is_inside_the_package() -> None:
    assert Path(__file__).resolve().parents[3] / "broker" / "catalogs" / "data" == SHIPPED_DIR
