"""Fixtures of the classifier tests: real SNPCC curves and a small trained registry."""

from __future__ import annotations

from pathlib import Path

import pytest

from broker.core.config import REPO_ROOT
from classifiers import registry
from classifiers.snana import SnanaCurve, load_snana
from classifiers.train import train

SNPCC_TAR = REPO_ROOT.parent / "shared" / "data" / "labeled-snpcc-train.tar.xz"
SMALL = 300


@pytest.fixture(scope="session")
def snpcc_tar() -> Path:
    """The labelled SNPCC archive beside the repository."""
    assert SNPCC_TAR.is_file(), f"{SNPCC_TAR} is missing"
    return SNPCC_TAR


@pytest.fixture(scope="session")
def curves(snpcc_tar: Path) -> list[SnanaCurve]:
    """The first 1,000 curves of the archive."""
    return load_snana(snpcc_tar, limit=1000)


@pytest.fixture(scope="session")
def small_registry(tmp_path_factory: pytest.TempPathFactory, snpcc_tar: Path) -> Path:
    """A registry with snia, snia_ztf and sntype trained on 300 curves, version 1 promoted."""
    root = tmp_path_factory.mktemp("models")
    for task in ("snia", "snia_ztf", "sntype"):
        train(task, snpcc_tar, limit=SMALL, models_dir=root, log=lambda _: None)
        registry.promote(task, "1", root)
    return root
