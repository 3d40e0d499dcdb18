"""Faucon's own Avro schemas: loading, output profiles and Arrow/Spark types.

The enriched alert schema lives in ``schemas/faucon/alert/<MAJOR.MINOR>/``;
the newest directory is the one the stream writes.  Output profiles select
what a filter topic carries:

* ``full``: every field, cutouts included;
* ``lite``: the same schema with the three cutouts set to null;
* ``thin``: a smaller schema (``faucon.alert_thin``) with identifiers,
  position, time, photometry (current and history), scores and the anomaly score.

Examples
--------
>>> s = alert_schema()
>>> s["name"], s["doc"].startswith("Faucon")
('alert', True)
>>> "cutout_science" in [f["name"] for f in profile_schema("thin")["fields"]]
False
"""

from __future__ import annotations

import copy
import json
from functools import cache
from pathlib import Path
from typing import Any

import pyarrow as pa

from broker.core.config import REPO_ROOT

PROFILES = ("full", "lite", "thin")
CUTOUT_FIELDS = ("cutout_science", "cutout_template", "cutout_difference")
THIN_FIELDS = (
    "schema_version", "survey", "alert_id", "object_id", "ra", "dec", "mjd_tai", "band",
    "flux_njy", "flux_err_njy", "mag", "mag_err", "is_positive", "snr", "reliability",
    "n_detections", "first_detection_mjd_tai", "history", "scores", "anomaly", "context",
)  # fmt: skip
# Fields never handed to SQL filters (heavy, opaque bytes).
NOT_FILTERABLE = (*CUTOUT_FIELDS,)


def _version_key(path: Path) -> tuple[int, ...]:
    return tuple(int(p) for p in path.name.split("."))


def schema_dir(kind: str = "alert", version: str | None = None) -> Path:
    """Directory of a Faucon schema (newest version when ``version`` is None)."""
    root = REPO_ROOT / "schemas" / "faucon" / kind
    if version:
        return root / version
    return max((p for p in root.iterdir() if p.is_dir()), key=_version_key)


@cache
def alert_schema(version: str | None = None) -> dict[str, Any]:
    """The enriched alert schema as a JSON dict."""
    path = schema_dir("alert", version) / "faucon.alert.avsc"
    return dict(json.loads(path.read_text()))


@cache
def deadletter_schema() -> dict[str, Any]:
    """The dead-letter record schema as a JSON dict."""
    return dict(json.loads((schema_dir("deadletter") / "faucon.deadletter.avsc").read_text()))


@cache
def schema_version() -> str:
    """Version of the alert schema the stream writes, e.g. ``1.1``."""
    return schema_dir("alert").name


@cache
def deadletter_schema_version() -> str:
    """Version of the dead-letter schema the stream writes."""
    return schema_dir("deadletter").name


@cache
def profile_schema(profile: str) -> dict[str, Any]:
    """Avro schema written for an output profile (``full``, ``lite`` or ``thin``)."""
    if profile not in PROFILES:
        raise ValueError(f"unknown profile {profile!r}; choose one of {PROFILES}")
    full = alert_schema()
    if profile in ("full", "lite"):
        return full
    thin = copy.deepcopy(full)
    thin["name"] = "alert_thin"
    thin["doc"] = "Thin profile of " + full["doc"]
    thin["fields"] = [f for f in thin["fields"] if f["name"] in THIN_FIELDS]
    return thin


_PRIMITIVES: dict[str, pa.DataType] = {
    "string": pa.string(),
    "bytes": pa.binary(),
    "long": pa.int64(),
    "int": pa.int32(),
    "double": pa.float64(),
    "float": pa.float32(),
    "boolean": pa.bool_(),
}


def _arrow_type(avro_type: Any) -> tuple[pa.DataType, bool]:
    """Arrow type and nullability of an Avro type (records, arrays, maps, unions with null)."""
    if isinstance(avro_type, list):
        others = [t for t in avro_type if t != "null"]
        if len(others) != 1:
            raise ValueError(f"unsupported union {avro_type}")
        return _arrow_type(others[0])[0], True
    if isinstance(avro_type, str):
        return _PRIMITIVES[avro_type], False
    kind = avro_type["type"]
    if kind == "record":
        return pa.struct([avro_field_to_arrow(f) for f in avro_type["fields"]]), False
    if kind == "array":
        return pa.list_(_arrow_type(avro_type["items"])[0]), False
    if kind == "map":
        return pa.map_(pa.string(), _arrow_type(avro_type["values"])[0]), False
    if kind in _PRIMITIVES:
        return _PRIMITIVES[kind], False
    raise ValueError(f"unsupported Avro type {avro_type}")


def avro_field_to_arrow(field: dict[str, Any]) -> pa.Field:
    """Arrow field for one Avro record field."""
    dtype, _nullable = _arrow_type(field["type"])
    return pa.field(field["name"], dtype)  # Spark columns are nullable either way


@cache
def filter_view_schema() -> pa.Schema:
    """Arrow schema of the alert columns visible to SQL filters (no cutouts)."""
    return pa.schema(
        [
            avro_field_to_arrow(f)
            for f in alert_schema()["fields"]
            if f["name"] not in NOT_FILTERABLE
        ]
    )


def _type_name(avro_type: Any) -> str:
    if isinstance(avro_type, list):
        return " or ".join(_type_name(t) for t in avro_type)
    if isinstance(avro_type, dict):
        kind = avro_type["type"]
        if kind == "array":
            return "array of " + _type_name(avro_type["items"])
        if kind == "map":
            return "map of " + _type_name(avro_type["values"])
        if kind == "record":
            return "record " + avro_type["name"]
        return str(kind)
    return str(avro_type)


def field_reference(version: str | None = None) -> str:
    """Markdown table documenting every field of the alert schema (nested ones too).

    Examples
    --------
    >>> "| `mjd_tai` | double |" in field_reference()
    True
    """
    lines = ["| field | type | meaning and source |", "|---|---|---|"]

    def walk(fields: list[dict[str, Any]], prefix: str) -> None:
        for f in fields:
            lines.append(
                f"| `{prefix}{f['name']}` | {_type_name(f['type'])} | {f.get('doc', '')} |"
            )
            t = f["type"]
            if isinstance(t, list):  # a nullable record is documented like a record
                t = next((x for x in t if isinstance(x, dict)), t)
            if isinstance(t, dict) and t["type"] == "record":
                walk(t["fields"], f"{prefix}{f['name']}.")
            elif isinstance(t, dict) and t["type"] == "array" and isinstance(t["items"], dict):
                walk(t["items"]["fields"], f"{prefix}{f['name']}[].")
            elif isinstance(t, dict) and t["type"] == "map" and isinstance(t["values"], dict):
                walk(t["values"]["fields"], f"{prefix}{f['name']}[key].")

    walk(alert_schema(version)["fields"], "")
    return "\n".join(lines) + "\n"
