"""Read a catalog file (Parquet, CSV or FITS) and write Faucon's normalized Parquet.

The normalized form has exactly four columns: ``ra`` and ``dec`` (float64,
ICRS degrees, ra in [0, 360)), ``id`` (string, never null) and ``class``
(string, null when unknown).

Examples
--------
>>> import pandas as pd
>>> raw = pd.DataFrame({"RA": [10.0], "DE": [-5.0], "Name": [" X1 "], "T": ["RRAB "]})
>>> out = normalize(raw, "demo", ra_col="RA", dec_col="DE", id_col="Name", class_col="T")
>>> out.to_dict("records")
[{'ra': 10.0, 'dec': -5.0, 'id': 'X1', 'class': 'RRAB'}]
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from broker.catalogs.sexagesimal import parse_column
from broker.core.errors import ConfigError, InfrastructureError

SCHEMA = pa.schema(
    [
        pa.field("ra", pa.float64(), nullable=False),
        pa.field("dec", pa.float64(), nullable=False),
        pa.field("id", pa.string(), nullable=False),
        pa.field("class", pa.string()),
    ]
)
FORMATS = ("parquet", "csv", "fits")


def detect_format(path: Path) -> str:
    """Return ``parquet``, ``csv`` or ``fits`` from the file name."""
    name = path.name.lower()
    for fmt, suffixes in {
        "parquet": (".parquet", ".pq"),
        "csv": (".csv", ".csv.gz", ".tsv"),
        "fits": (".fits", ".fit", ".fits.gz", ".fit.gz"),
    }.items():
        if name.endswith(suffixes):
            return fmt
    raise ConfigError(f"cannot tell the format of {path}; name it .parquet, .csv or .fits")


def read_table(path: Path, sep: str = ",", hdu: int | str = 1) -> pd.DataFrame:
    """Read a Parquet, CSV or FITS binary table as strings-or-numbers columns.

    CSV values are read as text with surrounding spaces and quotes removed, so
    files like ``1 , "3HSPJ..." , "00 01 16.37"`` parse.  FITS byte strings are
    decoded and stripped.

    Examples
    --------
    >>> import tempfile, os
    >>> p = Path(tempfile.mkdtemp()) / "t.csv"
    >>> _ = p.write_text('id , Name\\n1 , "A B"\\n')
    >>> read_table(p).to_dict("records")
    [{'id': '1', 'Name': 'A B'}]
    """
    if not path.is_file():
        raise ConfigError(f"catalog file {path} does not exist; check the path")
    fmt = detect_format(path)
    try:
        if fmt == "parquet":
            frame = pd.read_parquet(path)
        elif fmt == "csv":
            frame = pd.read_csv(
                path, sep=sep, skipinitialspace=True, dtype=str, keep_default_na=False
            )
            frame.columns = [str(c).strip().strip('"') for c in frame.columns]
            frame = frame.apply(lambda col: col.str.strip().str.strip('"').str.strip())
        else:
            from astropy.table import Table

            table = Table.read(path, hdu=hdu, format="fits")
            names = [n for n in table.colnames if len(table[n].shape) <= 1]
            frame = table[names].to_pandas()
    except (OSError, ValueError, pd.errors.ParserError) as exc:
        raise ConfigError(f"cannot read {path} as {fmt}: {exc}") from exc
    for name in frame.columns:
        if frame[name].dtype == object and len(frame) and isinstance(frame[name].iloc[0], bytes):
            frame[name] = frame[name].str.decode("utf-8").str.strip()
    return frame


def _column(frame: pd.DataFrame, name: str, role: str) -> pd.Series:
    if name not in frame.columns:
        raise ConfigError(
            f"{role} column {name!r} not found; the file has {list(frame.columns)[:30]}"
        )
    return frame[name]


def _text(values: pd.Series) -> np.ndarray:
    """Strip strings; missing or blank become None (object array)."""
    missing = values.isna().to_numpy()
    raw = values.to_numpy(object)
    return np.array(
        [None if gone else str(v).strip() or None for v, gone in zip(raw, missing, strict=True)],
        dtype=object,
    )


def normalize(
    frame: pd.DataFrame,
    name: str,
    *,
    ra_col: str,
    dec_col: str,
    id_col: str | None = None,
    class_col: str | None = None,
    class_value: str | None = None,
    sexagesimal: bool = False,
    drop_invalid: bool = False,
) -> pd.DataFrame:
    """Select and validate the four normalized columns.

    Parameters
    ----------
    frame
        The raw table.
    name
        Catalog name; row ids ``<name>#<row>`` (1-based) are made when
        ``id_col`` is None.
    ra_col, dec_col
        Coordinate columns: degrees, or sexagesimal strings (RA in hours) when
        ``sexagesimal``.
    id_col, class_col
        Identifier and class columns (optional).
    class_value
        Constant class when there is no class column.
    drop_invalid
        Drop rows with missing or out-of-range coordinates instead of failing.

    Returns
    -------
    pandas.DataFrame
        Columns ra, dec, id, class.

    Raises
    ------
    ConfigError
        When a column is missing or coordinates are invalid.
    """
    if len(frame) == 0:
        raise ConfigError(f"catalog {name!r} has no rows; check the file and --hdu")
    if sexagesimal:
        ra = parse_column(_column(frame, ra_col, "R.A."), "ra", ra_col)
        dec = parse_column(_column(frame, dec_col, "Dec"), "dec", dec_col)
    else:
        ra = pd.to_numeric(_column(frame, ra_col, "R.A."), errors="coerce").to_numpy(np.float64)
        dec = pd.to_numeric(_column(frame, dec_col, "Dec"), errors="coerce").to_numpy(np.float64)
    row_ids = np.array([f"{name}#{i + 1}" for i in range(len(frame))], dtype=object)
    if id_col:
        ids = _text(_column(frame, id_col, "id"))
        ids = np.where(ids == None, row_ids, ids)  # noqa: E711 (element-wise)
    else:
        ids = row_ids
    if class_col:
        classes = _text(_column(frame, class_col, "class"))
    else:
        classes = np.full(len(frame), class_value, dtype=object)
    bad = ~(np.isfinite(ra) & np.isfinite(dec) & (ra >= 0) & (ra <= 360) & (np.abs(dec) <= 90))
    if bad.any() and not drop_invalid:
        rows = np.flatnonzero(bad)[:5].tolist()
        raise ConfigError(
            f"catalog {name!r}: {int(bad.sum())} rows have missing or out-of-range coordinates "
            f"(ra in [0, 360], dec in [-90, 90] degrees; first rows {rows}); check "
            "--ra-col/--dec-col/--sexagesimal or pass --drop-invalid"
        )
    keep = ~bad
    out = pd.DataFrame(
        {
            "ra": np.mod(ra[keep], 360.0),
            "dec": dec[keep],
            "id": ids[keep],
            "class": classes[keep],
        }
    )
    if len(out) == 0:
        raise ConfigError(f"catalog {name!r}: no row has valid coordinates")
    return out.reset_index(drop=True)


def write_normalized(frame: pd.DataFrame, path: Path) -> str:
    """Write the normalized table as Parquet and return its sha256 (hex).

    The write is atomic (temporary file, then rename) and deterministic for a
    given pyarrow version.
    """
    arrays = [pa.array(frame[field.name], type=field.type, from_pandas=True) for field in SCHEMA]
    table = pa.Table.from_arrays(arrays, schema=SCHEMA)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    pq.write_table(table, tmp, compression="zstd", compression_level=9, write_statistics=False)
    tmp.replace(path)
    return sha256_file(path)


def sha256_file(path: Path) -> str:
    """Return the sha256 of a file, hex."""
    digest = hashlib.sha256()
    try:
        with path.open("rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
    except OSError as exc:
        raise InfrastructureError(f"cannot read catalog file {path}: {exc}") from exc
    return digest.hexdigest()


def read_normalized(path: Path) -> pd.DataFrame:
    """Read a normalized catalog Parquet file and check its columns."""
    try:
        table = pq.read_table(path)
    except (OSError, pa.ArrowException) as exc:
        raise InfrastructureError(f"cannot read catalog file {path}: {exc}") from exc
    if table.schema.names != SCHEMA.names:
        raise ConfigError(
            f"{path} has columns {table.schema.names}, expected {SCHEMA.names}; "
            "re-create it with `faucon catalogs add`"
        )
    return table.to_pandas()
