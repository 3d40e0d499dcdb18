"""Light curves and feature matrices of one batch, computed once for every scorer.

The classifiers and the anomaly model read the same fsv2 features of the
same alerts; feature extraction is most of their cost.  :func:`for_batch`
returns the :class:`BatchFeatures` of a list of alerts, kept for the last
list seen (by identity: the enrich stage hands the same list to every
enricher), so the second scorer of a batch finds the light curves and
matrices the first one computed.

Examples
--------
>>> a = {"mjd_tai": 2.0, "band": "g", "flux_njy": 9.0, "flux_err_njy": 1.0, "history": []}
>>> alerts = [a]
>>> for_batch(alerts) is for_batch(alerts), for_batch(alerts) is for_batch([a])
(True, False)
>>> for_batch(alerts).matrix((0,), ("g", "r")).X.shape[0]
1
"""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from typing import Any

from classifiers import features
from classifiers.bands import UnknownBandError


class BatchFeatures:
    """Per-alert light curves (or why there is none) and feature matrices, memoised."""

    def __init__(self, alerts: Sequence[Mapping[str, Any]]) -> None:
        self.alerts = alerts
        self._curves: dict[int, features.LightCurve | str] = {}
        self._matrices: dict[tuple[tuple[int, ...], tuple[str, ...]], features.FeatureMatrix] = {}

    def lightcurve(self, i: int) -> features.LightCurve | str:
        """Light curve of alert ``i``, or ``"invalid_photometry: ..."`` when unreadable."""
        found = self._curves.get(i)
        if found is None:
            try:
                found = features.lightcurve_from_alert(self.alerts[i])
            except (KeyError, TypeError, ValueError, UnknownBandError) as exc:
                found = f"invalid_photometry: {type(exc).__name__} {exc}"
            self._curves[i] = found
        return found

    def matrix(self, rows: Sequence[int], bands: Sequence[str]) -> features.FeatureMatrix:
        """Features (:func:`classifiers.features.extract`) of alerts ``rows`` in ``bands``."""
        key = (tuple(rows), tuple(bands))
        found = self._matrices.get(key)
        if found is None:
            curves = [self.lightcurve(i) for i in rows]
            bad = [c for c in curves if isinstance(c, str)]
            if bad:
                raise ValueError(f"rows without a light curve: {bad[:1]}")
            found = features.extract(curves, bands)  # type: ignore[arg-type]
            self._matrices[key] = found
        return found


_LAST: list[BatchFeatures] = []
_LOCK = threading.Lock()


def for_batch(alerts: Sequence[Mapping[str, Any]]) -> BatchFeatures:
    """The :class:`BatchFeatures` of this very list (a new one for a new list)."""
    with _LOCK:
        if _LAST and _LAST[0].alerts is alerts:
            return _LAST[0]
        batch = BatchFeatures(alerts)
        _LAST[:] = [batch]
        return batch
