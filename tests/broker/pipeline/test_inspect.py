"""``inspect_paths`` and ``faucon inspect`` on folders of real good and bad alert files."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from broker.cli.main import app
from broker.core.errors import ConfigError
from broker.core.schema import profile_schema
from broker.pipeline.decode import Decoder
from broker.pipeline.encode import ContainerEncoder
from broker.pipeline.inspect import Inspected, inspect_paths
from broker.pipeline.normalize import normalize
from tests.broker.pipeline.datafiles import (
    DEMO_ALERTS,
    SAMPLE_PROVENANCE,
    canonical,
    ocf_layout,
    raw_bytes,
    raw_record,
    read_ocf,
    shared,
    with_defaults,
)

ZTF = shared("ztf", "kowalski", "2475433850215010008.avro")
ZTF_SNAPPY = shared("ztf", "alerce", "000010510092392116.avro")
RUBIN_WIRE = shared("lsst", "wire-format", "message_0.avro")
RUBIN_SPARK = shared("lsst", "commissioning-v9_0", "169298432598474793_169298432598474793.avro")
ATLAS = shared("other-surveys", "atlas", "02a59543o0040o_006230.avro")
EMPTY = shared("ztf", "fink-datasim", "part-00000-37cd0039-b99f-4557-b3dc-0ad3bb2e0c92-c000.avro")
PRESURVEY = shared("ztf", "ztf-avro-alert", "1726958725155000.avro")
BUNDLE = next(DEMO_ALERTS.glob("ztf/kowalski-4.01-*.avro"))
CLI_ENV = {"COLUMNS": "1000"}  # no line wrapping of paths and reasons

# file name in the folder: alerts expected (good files) or error reason expected (bad files)
GOOD = {
    "a_ztf.avro": 1,
    "b_ztf_spark_snappy.avro": 1,
    "c_rubin_wire.avro": 1,
    "nested/d_rubin_spark.avro": 1,
    "e_bundle.avro": len(read_ocf(raw_bytes(BUNDLE))[0]),
    "f_faucon_output.avro": 1,
}
BAD = {
    "g_truncated.avro": "truncated_avro",
    "h_atlas.avro": "unsupported_survey",
    "i_empty.avro": "empty_container",
    "j_ztf_2016.avro": "unsupported_schema_version",
}


def _faucon_output() -> tuple[bytes, dict[str, object]]:
    """A Faucon output message (``faucon consume --save``) of a real ZTF alert.

    Returns
    -------
    tuple of (bytes, dict)
        The container file and the record it holds.
    """
    record, name = Decoder().decode(raw_bytes(ZTF))
    alert = normalize(record, name)
    alert["provenance"] = dict(SAMPLE_PROVENANCE)
    schema = profile_schema("full")
    return ContainerEncoder(schema).encode(alert), with_defaults(schema, alert)


def _write(folder: Path, name: str, data: bytes) -> Path:
    """Write ``data`` to ``folder/name`` (creating sub-folders)."""
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def _fill_good(folder: Path) -> None:
    """Copy the good real files into ``folder``."""
    _write(folder, "a_ztf.avro", raw_bytes(ZTF))
    _write(folder, "b_ztf_spark_snappy.avro", raw_bytes(ZTF_SNAPPY))
    _write(folder, "c_rubin_wire.avro", raw_bytes(RUBIN_WIRE))
    _write(folder, "nested/d_rubin_spark.avro", raw_bytes(RUBIN_SPARK))
    shutil.copyfile(BUNDLE, folder / "e_bundle.avro")
    _write(folder, "f_faucon_output.avro", _faucon_output()[0])
    _write(folder, "notes.txt", b"not an alert file; inspect of a folder takes *.avro only")


@pytest.fixture
def good_folder(tmp_path: Path) -> Path:
    """A folder of real alert files that all decode."""
    folder = tmp_path / "good"
    _fill_good(folder)
    return folder


@pytest.fixture
def mixed_folder(tmp_path: Path) -> Path:
    """The good files plus a truncated copy, ATLAS, an empty container and a 2016 packet."""
    folder = tmp_path / "mixed"
    _fill_good(folder)
    data = raw_bytes(ZTF)
    _write(folder, "g_truncated.avro", data[: len(data) // 2])
    _write(folder, "h_atlas.avro", raw_bytes(ATLAS))
    _write(folder, "i_empty.avro", raw_bytes(EMPTY))
    _write(folder, "j_ztf_2016.avro", raw_bytes(PRESURVEY))
    return folder


def _by_name(folder: Path) -> dict[str, Inspected]:
    """``inspect_paths`` results of a folder, keyed by path relative to it."""
    return {Path(r.path).relative_to(folder).as_posix(): r for r in inspect_paths([str(folder)])}


def test_inspect_mixed_folder(mixed_folder: Path) -> None:
    results = inspect_paths([str(mixed_folder)])
    names = [Path(r.path).relative_to(mixed_folder).as_posix() for r in results]
    assert sorted(names) == sorted([*GOOD, *BAD])  # notes.txt is not an alert file
    by_name = dict(zip(names, results, strict=True))
    for name, n_alerts in GOOD.items():
        assert by_name[name].error is None, name
        assert len(by_name[name].alerts) == n_alerts, name
    for name, reason in BAD.items():
        error = by_name[name].error
        assert error is not None and error.startswith(f"{reason}: "), (name, error)
        assert len(error) > len(reason) + 10, "the reason comes with a detail"
        assert by_name[name].alerts == []
    assert sum(len(r.alerts) for r in results) == sum(GOOD.values())


def test_inspect_alert_values(good_folder: Path) -> None:
    """Each file's alerts are its raw alerts normalized; Faucon output is shown as is."""
    by_name = _by_name(good_folder)
    ztf = by_name["a_ztf.avro"].alerts[0]
    assert ztf["alert_id"] == raw_record(ZTF)["candid"]
    assert ztf["object_id"] == raw_record(ZTF)["objectId"]
    rubin = by_name["c_rubin_wire.avro"].alerts[0]
    assert rubin["survey"] == "LSST" and rubin["survey_schema"] == "lsst-7.4"
    assert rubin["alert_id"] == raw_record(RUBIN_WIRE)["alertId"]
    bundle = by_name["e_bundle.avro"].alerts
    raw_ids = [r["candid"] for r in read_ocf(raw_bytes(BUNDLE))[0]]
    assert [a["alert_id"] for a in bundle] == raw_ids
    output = by_name["f_faucon_output.avro"].alerts[0]
    assert canonical(output) == canonical(_faucon_output()[1])


def test_inspect_glob_is_not_recursive(good_folder: Path) -> None:
    results = inspect_paths([str(good_folder / "*.avro")])
    assert len(results) == len(GOOD) - 1  # nested/ is not matched by *.avro
    assert all(r.error is None for r in results)


def test_inspect_missing_path(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no alert file or folder"):
        inspect_paths([str(tmp_path / "nowhere")])


def test_inspect_folder_without_alerts(tmp_path: Path) -> None:
    _write(tmp_path, "notes.txt", b"nothing here")
    with pytest.raises(ConfigError, match=r"no \.avro file"):
        inspect_paths([str(tmp_path)])


def test_inspect_damaged_bundle_is_an_error_not_a_crash(tmp_path: Path) -> None:
    data = bytearray(raw_bytes(BUNDLE))
    data[ocf_layout(bytes(data)).data_start] |= 0x06  # reserved deflate block type
    path = _write(tmp_path, "damaged.avro", bytes(data))
    (result,) = inspect_paths([str(path)])
    assert result.error is not None and result.error.startswith("corrupt_avro: ")


# --- the CLI -----------------------------------------------------------------------------


def test_cli_inspect_fails_when_a_file_fails(mixed_folder: Path) -> None:
    result = CliRunner().invoke(app, ["inspect", str(mixed_folder)], env=CLI_ENV)
    assert result.exit_code == 1, result.output
    for name, reason in BAD.items():
        line = next(x for x in result.stderr.splitlines() if name in x)
        assert line.startswith("cannot decode ") and f"{name}: {reason}: " in line, line
    n_files = len(GOOD) + len(BAD)
    summary = f"{sum(GOOD.values())} alerts from {n_files - len(BAD)} files; {len(BAD)} failed"
    assert summary in result.stderr
    assert "a_ztf.avro" in result.stdout  # good files are still listed


def test_cli_inspect_succeeds_when_all_files_decode(good_folder: Path) -> None:
    result = CliRunner().invoke(app, ["inspect", str(good_folder)], env=CLI_ENV)
    assert result.exit_code == 0, result.output
    assert "cannot decode" not in result.output
    assert f"{sum(GOOD.values())} alerts from {len(GOOD)} files; 0 failed" in result.stderr


def test_cli_inspect_json(good_folder: Path) -> None:
    args = ["inspect", "--format", "json", str(good_folder / "a_ztf.avro")]
    result = CliRunner().invoke(app, args, env=CLI_ENV)
    assert result.exit_code == 0, result.output
    (line,) = [x for x in result.stdout.splitlines() if x.strip()]
    alert = json.loads(line)
    assert alert["object_id"] == raw_record(ZTF)["objectId"]
    assert alert["cutout_science"].endswith(" bytes>")


def test_cli_inspect_single_bad_file(tmp_path: Path) -> None:
    path = _write(tmp_path, "atlas.avro", raw_bytes(ATLAS))
    result = CliRunner().invoke(app, ["inspect", str(path)], env=CLI_ENV)
    assert result.exit_code == 1
    assert f"cannot decode {path}: unsupported_survey: " in result.stderr
