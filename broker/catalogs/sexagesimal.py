"""Exact sexagesimal parsing of right ascension (hours) and declination (degrees).

Each component is read as an exact rational number and the sum is rounded to
float64 once, so the result is the float nearest to the true value.  The sign
applies to the whole angle (``-00 30 00`` is -0.5 degree).

Examples
--------
>>> parse_ra("00 01 16.37")
0.3182083333333333
>>> parse_dec("-00 30 00")
-0.5
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from fractions import Fraction

import numpy as np

from broker.core.errors import ConfigError

_UNITS = re.compile(r"[hdms°:'\"′″]")
_NUMBER = re.compile(r"^\d+(\.\d*)?$|^\.\d+$")
_MINUS = ("-", "\u2212")


def _components(text: str) -> tuple[int, list[Fraction]]:
    """Split ``text`` into its sign and up to three exact components."""
    value = text.strip()
    sign = 1
    if value[:1] in _MINUS:
        sign, value = -1, value[1:]
    elif value[:1] == "+":
        value = value[1:]
    parts = _UNITS.sub(" ", value).split()
    if not 1 <= len(parts) <= 3 or not all(_NUMBER.match(p) for p in parts):
        raise ValueError(f"{text!r} is not 'D M S', 'D:M:S', 'D M' or 'D' (sign first)")
    if any("." in p for p in parts[:-1]):
        raise ValueError(f"{text!r}: only the last component may have decimals")
    numbers = [Fraction(p) for p in parts]
    if any(n >= 60 for n in numbers[1:]):
        raise ValueError(f"{text!r}: minutes and seconds must be below 60")
    return sign, numbers


def _to_units(numbers: list[Fraction]) -> Fraction:
    """Sum sexagesimal components into the unit of the first one."""
    total = Fraction(0)
    for power, number in enumerate(numbers):
        total += number / 60**power
    return total


def parse_ra(text: str) -> float:
    """Parse a right ascension in hours, minutes, seconds into degrees.

    Parameters
    ----------
    text
        For example ``"00 01 16.37"``, ``"12:30:00"`` or ``"5h34m31.94s"``.

    Returns
    -------
    float
        Degrees in [0, 360).

    Raises
    ------
    ValueError
        When the text is not a valid right ascension.

    Examples
    --------
    >>> parse_ra("12:00:00")
    180.0
    """
    sign, numbers = _components(text)
    hours = _to_units(numbers)
    if sign < 0 or hours >= 24:
        raise ValueError(f"{text!r}: right ascension must be in [0h, 24h)")
    return float(hours * 15)


def parse_dec(text: str) -> float:
    """Parse a declination in degrees, arcminutes, arcseconds into degrees.

    Parameters
    ----------
    text
        For example ``"+29 35 34.0"``, ``"-00:30:00"`` or ``"-41d55m24.99s"``.

    Returns
    -------
    float
        Degrees in [-90, 90].

    Raises
    ------
    ValueError
        When the text is not a valid declination.

    Examples
    --------
    >>> parse_dec("+29 35 34.0")
    29.592777777777776
    """
    sign, numbers = _components(text)
    degrees = _to_units(numbers)
    if degrees > 90:
        raise ValueError(f"{text!r}: declination must be in [-90, +90] degrees")
    return float(sign * degrees)


def parse_column(values: Iterable[object], kind: str, column: str) -> np.ndarray:
    """Parse a whole column of sexagesimal strings.

    Parameters
    ----------
    values
        The strings (surrounding quotes and spaces are ignored).
    kind
        ``"ra"`` (hours) or ``"dec"`` (degrees).
    column
        Column name, used in error messages.

    Returns
    -------
    numpy.ndarray
        Degrees, float64.

    Raises
    ------
    ConfigError
        Naming the column, the row and the offending value.

    Examples
    --------
    >>> parse_column(['"00 01 16.37"', "23 59 59.99"], "ra", "R.A.").round(6).tolist()
    [0.318208, 359.999958]
    """
    parse = parse_ra if kind == "ra" else parse_dec
    out = []
    for row, value in enumerate(values):
        try:
            out.append(parse(str(value).strip().strip("\"'")))
        except ValueError as exc:
            raise ConfigError(
                f"column {column!r}, row {row}: {exc}; fix the value or drop the row"
            ) from exc
    return np.asarray(out, dtype=np.float64)
