"""Python built-in filters: examples of the Python kind, vectorized with pandas.

Each function takes a pandas DataFrame with its declared inputs (see
:func:`broker.filters.python.python_filter`) and returns one boolean per
row.  Thresholds come from :func:`broker.core.config.filter_settings`
(the process settings, ``FAUCON_FILTERS__...``), read once per call.

Examples
--------
>>> import pandas as pd
>>> h = [{"kind": "detection", "band": b, "mjd_tai": 59999.0, "mag": 19.0,
...       "flux_njy": 1e4} for b in ("g", "r")]
>>> h.append({"kind": "detection", "band": "r", "mjd_tai": 60000.0, "mag": 18.5,
...           "flux_njy": 2e4})
>>> frame = pd.DataFrame({"mjd_tai": [60000.1], "band": ["g"], "mag": [18.6],
...                       "is_positive": [True], "history": pd.Series([h], dtype=object)})
>>> rising_in_two_bands(frame).tolist()
[True]
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from broker.core.config import filter_settings
from broker.filters.python import python_filter

_DETECTION_COLUMNS = ["row", "band", "mjd", "mag"]


def _detections(frame: pd.DataFrame) -> pd.DataFrame:
    """Positive detections (current one and history), one row each: row, band, mjd, mag."""
    positive = frame["is_positive"].fillna(False).astype(bool).to_numpy()
    current = pd.DataFrame(
        {
            "row": np.arange(len(frame)),
            "band": frame["band"].to_numpy(dtype=object),
            "mjd": pd.to_numeric(frame["mjd_tai"], errors="coerce").to_numpy(float),
            "mag": pd.to_numeric(frame["mag"], errors="coerce").to_numpy(float),
        }
    )[positive]
    history = frame["history"].reset_index(drop=True).explode().dropna()
    if history.empty:
        return current.dropna(subset=["mag", "mjd"])
    past = pd.DataFrame(history.tolist())
    keep = (
        (past["kind"] == "detection")
        & (pd.to_numeric(past["flux_njy"], errors="coerce") > 0)
        & past["mag"].notna()
    ).to_numpy()
    past = pd.DataFrame(
        {
            "row": history.index.to_numpy()[keep],
            "band": past["band"].to_numpy(dtype=object)[keep],
            "mjd": past["mjd_tai"].to_numpy(float)[keep],
            "mag": past["mag"].to_numpy(float)[keep],
        }
    )
    both = pd.concat([past, current], ignore_index=True)
    return both.dropna(subset=["mag", "mjd"])[_DETECTION_COLUMNS]


@python_filter(
    inputs=("mjd_tai", "band", "mag", "is_positive", "history"),
    description=(
        "Positive detection of an object rising in at least two bands: in each, the latest "
        "positive detection (this one or in the history, at most rising_max_age_days old) "
        "is brighter than the previous one in that band by at least rising_min_rise_mag"
    ),
)
def rising_in_two_bands(frame: pd.DataFrame) -> np.ndarray:
    """True for alerts whose object brightens in two or more bands (see the description).

    Parameters
    ----------
    frame
        Columns ``mjd_tai, band, mag, is_positive, history``.

    Returns
    -------
    numpy.ndarray
        One boolean per row.
    """
    s = filter_settings()
    frame = frame.reset_index(drop=True)
    n = len(frame)
    det = _detections(frame)
    det["seq"] = np.arange(len(det))  # equal times keep packet order, the current one last
    det = det.sort_values(["row", "band", "mjd", "seq"])
    order = det.groupby(["row", "band"], sort=False).cumcount(ascending=False)
    last = det[order == 0].set_index(["row", "band"])
    prev = det[order == 1].set_index(["row", "band"])
    pairs = last.join(prev.add_suffix("_prev"), how="inner")
    now = pd.to_numeric(frame["mjd_tai"], errors="coerce").to_numpy(float)
    rows = pairs.index.get_level_values("row").to_numpy(int)
    rising = (pairs["mag_prev"].to_numpy() - pairs["mag"].to_numpy() >= s.rising_min_rise_mag) & (
        now[rows] - pairs["mjd"].to_numpy() <= s.rising_max_age_days
    )
    bands = np.bincount(rows[rising], minlength=n)
    positive = frame["is_positive"].fillna(False).astype(bool).to_numpy()
    return np.asarray((bands >= 2) & positive, dtype=bool)
