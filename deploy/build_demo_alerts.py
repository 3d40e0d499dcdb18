"""Rebuild deploy/demo-alerts from ../shared/data (run once by a maintainer).

Groups real alerts by source and writer schema into deflate-compressed Avro
container files (one record per alert; `faucon replay` sends one alert per
message).  Cutouts are kept for the first KEEP_CUTOUTS alerts of each group
and set to null for the rest, to keep the repository small; photometry and
every other field are unchanged.

Usage: python deploy/build_demo_alerts.py [SHARED_DATA_DIR]
"""

from __future__ import annotations

import glob
import hashlib
import json
import shutil
import sys
from pathlib import Path

import fastavro

KEEP_CUTOUTS = 4
OUT = Path(__file__).resolve().parent / "demo-alerts"
GROUPS = {
    "ztf/fink-datasim": ("ztf", 1265),
    "ztf/kowalski": ("ztf", 36),
    "ztf/alerce": ("ztf", 121),
    "lsst/v7_4": ("lsst", 100),
    "lsst/commissioning-v9_0": ("lsst", 288),
    "other-surveys/atlas": ("other", 4),
    "other-surveys/decam": ("other", 4),
}
CUTOUTS = ("cutoutScience", "cutoutTemplate", "cutoutDifference")


def main(shared: Path) -> None:
    if OUT.exists():
        shutil.rmtree(OUT)
    for src, (dest, limit) in GROUPS.items():
        by_schema: dict[str, tuple[dict, list[dict]]] = {}
        for path in sorted(glob.glob(str(shared / src / "*.avro")))[:limit]:
            with open(path, "rb") as fh:
                reader = fastavro.reader(fh)
                schema, records = reader.writer_schema, list(reader)
            key = hashlib.sha1(json.dumps(schema, sort_keys=True).encode()).hexdigest()[:8]
            by_schema.setdefault(key, (schema, []))[1].extend(records)
        for key, (schema, records) in by_schema.items():
            for i, rec in enumerate(records):
                if i >= KEEP_CUTOUTS:
                    for name in CUTOUTS:
                        if name in rec:
                            rec[name] = None
            name = src.split("/")[-1]
            version = records[0].get("schemavsn") or records[0].get("lsst_schema_version") or key
            target = OUT / dest / f"{name}-{version}-{key}.avro"
            target.parent.mkdir(parents=True, exist_ok=True)
            with open(target, "wb") as fh:
                fastavro.writer(fh, schema, records, codec="deflate")
            print(f"{target.relative_to(OUT)}: {len(records)} alerts")
    wire = OUT / "lsst" / "wire"
    wire.mkdir(parents=True, exist_ok=True)
    for path in sorted(glob.glob(str(shared / "lsst/wire-format/*.avro"))):
        shutil.copy(path, wire / Path(path).name)
    print(f"lsst/wire: {len(list(wire.iterdir()))} messages")


if __name__ == "__main__":
    main(
        Path(sys.argv[1])
        if len(sys.argv) > 1
        else Path(__file__).resolve().parents[2] / "shared" / "data"
    )
