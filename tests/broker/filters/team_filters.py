"""Source of a science team's filter module, written to a temporary directory by the tests.

It is installed there with a ``.dist-info`` whose ``entry_points.txt`` declares
entry points in group ``faucon.filters``, as ``pip install`` of a team's
package would.
"""

from __future__ import annotations

TEAM_FILTERS = """
import time
import numpy as np
from broker.filters.python import python_filter

@python_filter(inputs=("mag", "band"), description="bright in g")
def bright_g(frame):
    return ((frame["mag"] < 18) & (frame["band"] == "g")).to_numpy()

def faint(frame):
    return frame["mag"] >= 18

def boom(frame):
    raise ValueError("no luck")

def short(frame):
    return np.ones(len(frame) - 1, dtype=bool)

def ints(frame):
    return np.ones(len(frame), dtype=int)

def listy(frame):
    return [True] * len(frame)

def nullable(frame):
    return frame["mag"].astype("Float64").lt(18)

def sleepy(frame):
    time.sleep(5)
    return frame["mag"] > 0

def busy(frame):
    while True:
        pass

def swallows(frame):
    try:
        time.sleep(5)
    except BaseException:
        pass
    return frame["mag"] > 0

def quits(frame):
    raise SystemExit(3)

def history_sizes(frame):
    return frame["history"].map(lambda h: len(h or [])).to_numpy() > 0

def spin(frame):
    started = time.monotonic()
    while time.monotonic() - started < 0.6:
        pass
    return frame["mag"] > 0

NOT_CALLABLE = 3
"""
