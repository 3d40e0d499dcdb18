"""Python-worker set-up: zip importers re-read an archive only when it changed."""

from __future__ import annotations

import os
import sys
import zipfile
import zipimport
from pathlib import Path

from broker.pipeline.worker import skip_unchanged_zip_rescans


def _zip(path: Path, names: dict[str, str]) -> None:
    with zipfile.ZipFile(path, "w") as zf:
        for name, text in names.items():
            zf.writestr(name, text)


def test_unchanged_archive_is_not_reread_and_a_changed_one_is(tmp_path: Path) -> None:
    archive = tmp_path / "lib.zip"
    _zip(archive, {"faucon_zip_probe_a.py": "VALUE = 1\n"})
    importer = zipimport.zipimporter(str(archive))
    skip_unchanged_zip_rescans()
    importer.invalidate_caches()  # first call: read
    reads: list[str] = []
    original = zipimport._read_directory  # type: ignore[attr-defined]

    def counting(path: str) -> object:
        reads.append(path)
        return original(path)

    zipimport._read_directory = counting  # type: ignore[attr-defined]
    try:
        importer.invalidate_caches()
        assert reads == []  # unchanged: skipped
        _zip(archive, {"faucon_zip_probe_a.py": "VALUE = 1\n", "faucon_zip_probe_b.py": "B = 2\n"})
        stat = archive.stat()
        os.utime(archive, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))
        importer.invalidate_caches()
        assert reads == [str(archive)]  # changed: re-read, the new module is importable
        assert importer.find_spec("faucon_zip_probe_b") is not None
    finally:
        zipimport._read_directory = original  # type: ignore[attr-defined]
        sys.modules.pop("faucon_zip_probe_b", None)
