"""Inspect alert files of any supported format, normalized.

Accepts ZTF and Rubin container files (one or many alerts), Rubin Confluent
wire-format messages, and Faucon's own output files (``faucon consume
--save``).  Every file gets either its normalized alerts or a clear reason.

Examples
--------
>>> results = inspect_paths(["deploy/demo-alerts/lsst/wire/message_0.avro"])
>>> results[0].alerts[0]["survey"], results[0].error
('LSST', None)
"""

from __future__ import annotations

import glob
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from broker.core.errors import ConfigError, DeserializeError
from broker.pipeline.decode import OCF_MAGIC, Decoder
from broker.pipeline.normalize import normalize


@dataclass
class Inspected:
    """Result for one file."""

    path: str
    alerts: list[dict[str, Any]] = field(default_factory=list)
    error: str | None = None


def expand_paths(paths: Iterable[str]) -> list[Path]:
    """Files named by paths, folders (recursively, ``*.avro``) and globs, sorted."""
    files: list[Path] = []
    for raw in paths:
        matches = [Path(p) for p in sorted(glob.glob(raw, recursive=True))] or [Path(raw)]
        for path in matches:
            if path.is_dir():
                files.extend(sorted(p for p in path.rglob("*.avro") if p.is_file()))
            elif path.is_file():
                files.append(path)
            else:
                raise ConfigError(
                    f"no alert file or folder at {raw!r}; give .avro files, folders or globs"
                )
    return files


def _is_faucon(record: dict[str, Any]) -> bool:
    return "schema_version" in record and "survey" in record and "provenance" in record


def inspect_file(path: Path, decoder: Decoder) -> Inspected:
    """Decode and normalize every alert in one file."""
    result = Inspected(str(path))
    try:
        data = path.read_bytes()
        if data[:4] == OCF_MAGIC:
            records, name = decoder.decode_container(data)
            if not records:
                raise DeserializeError("empty_container", "Avro container holds no record")
        else:
            record, name = decoder.decode(data)
            records = [record]
        result.alerts = [r if _is_faucon(r) else normalize(r, name) for r in records]
    except DeserializeError as exc:
        result.error = f"{exc.reason}: {exc.detail}"
    except OSError as exc:
        result.error = f"unreadable: {exc}"
    except Exception as exc:  # any other failure is this file's, not the command's
        result.error = f"invalid_alert: {exc!r}"
    return result


def inspect_paths(paths: list[str]) -> list[Inspected]:
    """Inspect files, folders and globs."""
    files = expand_paths(paths)
    if not files:
        raise ConfigError(f"no .avro file found in {paths}")
    decoder = Decoder(max_records=1_000_000, max_block_bytes=1 << 31)
    return [inspect_file(p, decoder) for p in files]
