"""Local, exact cross-match of alerts against astronomical catalogs.

No network call anywhere: catalogs ship with Faucon (``broker/catalogs/data``)
or are added by operators (``faucon catalogs add``) as normalized Parquet files
listed in a versioned ``catalogs.toml`` registry.

* :mod:`broker.catalogs.registry` -- shipped + operator registry, versions.
* :mod:`broker.catalogs.index` -- per-process cKDTree index, :func:`match`.
* :mod:`broker.catalogs.context` -- context label rules, :func:`enrich`.
* :mod:`broker.core.config_crossmatch` -- :class:`CrossmatchSettings` (light import).

Attributes are imported lazily so that importing the settings model does not
load scipy or pandas.

Examples
--------
>>> import numpy as np
>>> from broker.catalogs import match
>>> sorted(match(np.array([10.0]), np.array([20.0])))
['blazar_3hsp', 'fermi_4lac', 'gcvs', 'spicy']
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

_EXPORTS = {
    "CrossmatchSettings": "broker.core.config_crossmatch",
    "LABELS": "broker.core.config_crossmatch",
    "load_registry": "broker.catalogs.registry",
    "add_catalog": "broker.catalogs.add",
    "catalog_set": "broker.catalogs.index",
    "match": "broker.catalogs.index",
    "Match": "broker.catalogs.index",
    "derive_context": "broker.catalogs.context",
    "enrich": "broker.catalogs.context",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'broker.catalogs' has no attribute {name!r}")
