"""The classification tasks: bands, classes and surveys of each model.

===========  ======  ===============================  ======  ===========================
model        bands   classes                          survey  use
===========  ======  ===============================  ======  ===========================
snia         griz    non-Ia, Ia                       LSST    P(SN Ia) for Rubin alerts
snia_ztf     gr      non-Ia, Ia                       ZTF     P(SN Ia) for ZTF alerts
sntype       griz    Ia, II, Ibc, periodic, agn, flare LSST    class for Rubin alerts
sntype_ztf   gr      Ia, II, Ibc, periodic, agn, flare ZTF     class for ZTF alerts
===========  ======  ===============================  ======  ===========================

"non-Ia" holds SN II, Ibc and the simulated variables (periodic: RR Lyrae,
eclipsing binaries, long-period variables; agn: damped random walk; flare:
M-dwarf flares and dwarf-nova outbursts).  Rubin's u and y bands are ignored
(SNPCC has griz only); ZTF's rare i-band points are ignored by the ZTF models.

Examples
--------
>>> TASKS["snia"].class_index("II"), TASKS["sntype"].class_index("Ibc")
(0, 2)
"""

from __future__ import annotations

from dataclasses import dataclass

from broker.core.errors import ConfigError

SURVEYS = ("ZTF", "LSST")


@dataclass(frozen=True)
class Task:
    """One model's definition.

    Attributes
    ----------
    name
        Task and model name.
    bands
        Bands whose photometry the model uses (feature order follows them).
    classes
        Model output classes, in probability-column order.
    labels
        Classes reported in the stream (one score record each).
    surveys
        Surveys whose alerts the model scores.
    positive
        The positive class of a binary task (None for multi-class).
    """

    name: str
    bands: tuple[str, ...]
    classes: tuple[str, ...]
    labels: tuple[str, ...]
    surveys: tuple[str, ...]
    description: str
    positive: str | None = None

    def class_index(self, sn_class: str) -> int:
        """Column of ``sn_class`` (``Ia``, ``II``, ``periodic``...) in this task's classes."""
        if self.positive is not None:
            return int(sn_class == self.positive)
        try:
            return self.classes.index(sn_class)
        except ValueError as exc:
            raise ConfigError(f"class {sn_class!r} is not one of {self.classes}") from exc


_GRIZ = ("g", "r", "i", "z")
_GR = ("g", "r")
SN_CLASSES = ("Ia", "II", "Ibc")
NEGATIVE_CLASSES = ("periodic", "agn", "flare")
_ALL = SN_CLASSES + NEGATIVE_CLASSES
TASKS: dict[str, Task] = {
    "snia": Task(
        "snia", _GRIZ, ("non-Ia", "Ia"), ("Ia",), ("LSST",), "SN Ia vs SNe, variables, griz",
        "Ia",
    ),
    "snia_ztf": Task(
        "snia_ztf", _GR, ("non-Ia", "Ia"), ("Ia",), ("ZTF",),
        "SN Ia vs other SNe and variables, g and r", "Ia",
    ),
    "sntype": Task(
        "sntype", _GRIZ, _ALL, _ALL, ("LSST",), "SN Ia/II/Ibc vs periodic/AGN/flare, griz"
    ),
    "sntype_ztf": Task(
        "sntype_ztf", _GR, _ALL, _ALL, ("ZTF",), "SN Ia/II/Ibc vs periodic/AGN/flare, g and r"
    ),
}  # fmt: skip


def get_task(name: str) -> Task:
    """The task called ``name``; ConfigError listing the known ones otherwise."""
    try:
        return TASKS[name]
    except KeyError as exc:
        raise ConfigError(f"unknown task {name!r}; choose one of {', '.join(TASKS)}") from exc
