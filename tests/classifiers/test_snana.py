"""SNANA parser on real SNPCC files."""

from __future__ import annotations

import tarfile
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from broker.core.errors import ConfigError, ProcessError
from classifiers.snana import (
    FLUXCAL_TO_NJY,
    SnanaCurve,
    dataset_sha256,
    iter_snana,
    load_snana,
    parse_dat,
)


def test_flux_conversion_constant() -> None:
    assert pytest.approx(10 ** (-0.4 * (27.5 - 31.4))) == FLUXCAL_TO_NJY
    assert pytest.approx(36.3078, rel=1e-5) == FLUXCAL_TO_NJY


def test_first_curve_value_by_value(snpcc_tar: Path) -> None:
    c = load_snana(snpcc_tar, limit=1)[0]
    assert c.snid == "17"
    assert c.sim_type == "II" and c.sn_class == "II"
    assert c.redshift == pytest.approx(0.3972)
    assert len(c.mjd) == 93 == len(c.band) == len(c.flux_njy) == len(c.flux_err_njy)
    # OBS:  56171.051  g NULL  -3.679e+01   7.809e+01 ...
    assert c.mjd[0] == pytest.approx(56171.051)
    assert c.band[0] == "g"
    assert c.flux_njy[0] == pytest.approx(-36.79 * 36.3078, rel=1e-5)
    assert c.flux_err_njy[0] == pytest.approx(78.09 * 36.3078, rel=1e-5)
    # OBS:  56305.070  z NULL   3.002e+01   3.711e+00 ...
    assert c.mjd[-1] == pytest.approx(56305.070)
    assert c.band[-1] == "z"
    assert c.flux_njy[-1] == pytest.approx(30.02 * 36.3078, rel=1e-5)
    assert np.all(np.diff(c.mjd) >= 0)
    assert set(c.band.tolist()) == {"g", "r", "i", "z"}


def test_named_file_from_archive(snpcc_tar: Path) -> None:
    with tarfile.open(snpcc_tar) as archive:
        member = archive.extractfile("SIMGEN_PUBLIC_DES/DES_SN000303.DAT")
        assert member is not None
        c = parse_dat(member.read().decode(), "DES_SN000303.DAT")
    assert (c.snid, c.sim_type, c.sn_class) == ("303", "Ib", "Ibc")
    assert c.redshift == pytest.approx(0.9024)
    assert len(c.mjd) == 112
    # OBS:  56188.148  g NULL  -2.575e+01   1.796e+01 ...
    assert (c.mjd[0], c.band[0]) == (pytest.approx(56188.148), "g")
    assert c.flux_njy[0] == pytest.approx(-25.75 * 36.3078, rel=1e-5)
    assert c.flux_err_njy[0] == pytest.approx(17.96 * 36.3078, rel=1e-5)
    assert c.header["SIM_NON1a"].split()[0] == "8"


def test_type_mapping(curves: list[SnanaCurve]) -> None:
    counts = Counter((c.sim_type, c.sn_class) for c in curves)
    allowed = {
        ("Ia", "Ia"), ("II", "II"), ("IIP", "II"), ("IIn", "II"), ("IIL", "II"),
        ("Ib", "Ibc"), ("Ic", "Ibc"), ("Ibc", "Ibc"),
    }  # fmt: skip
    assert set(counts) <= allowed
    classes = Counter(c.sn_class for c in curves)
    assert set(classes) == {"Ia", "II", "Ibc"}
    assert classes["II"] > classes["Ia"] > classes["Ibc"]


def test_directory_and_tar_agree(snpcc_tar: Path, tmp_path: Path) -> None:
    with tarfile.open(snpcc_tar) as archive:
        names = []
        for member in archive:
            if member.name.endswith(".DAT"):
                archive.extract(member, tmp_path, filter="data")
                names.append(member.name)
            if len(names) == 5:
                break
    from_dir = load_snana(tmp_path)
    from_tar = {c.snid: c for c in iter_snana(snpcc_tar, limit=5)}
    assert sorted(c.snid for c in from_dir) == sorted(from_tar)
    for c in from_dir:
        np.testing.assert_array_equal(c.flux_njy, from_tar[c.snid].flux_njy)
    assert len(dataset_sha256(tmp_path)) == 64


def test_type_from_sntype_tag_without_comment() -> None:
    text = "SNID: 5\nSNTYPE: 22\nVARLIST: MJD FLT FLUXCAL FLUXCALERR\nOBS: 1.0 r 2.0 1.0\n"
    assert parse_dat(text).sn_class == "II"
    assert parse_dat(text.replace("SNTYPE: 22", "SNTYPE: -9")).sn_class is None


def test_errors(tmp_path: Path) -> None:
    with pytest.raises(ProcessError, match="VARLIST"):
        parse_dat("SNID: 1\nOBS: 1 g 2 3\n", "bad.DAT")
    with pytest.raises(ProcessError, match="malformed"):
        parse_dat("VARLIST: MJD FLT FLUXCAL FLUXCALERR\nOBS: 1.0 g x 3\n", "bad.DAT")
    with pytest.raises(ConfigError, match="does not exist"):
        load_snana(tmp_path / "missing.tar.xz")
    with pytest.raises(ConfigError, match="no SNANA"):
        load_snana(tmp_path)
