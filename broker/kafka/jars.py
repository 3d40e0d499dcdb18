"""Fetch the Java jars Faucon needs, with Maven, into the user cache.

Two sets, each in a versioned directory under ``settings.cache_dir / "jars"``:

* ``kafka-<version>``: the Apache Kafka broker (``kafka.Kafka``) and its
  storage tool (``kafka.tools.StorageTool``), from ``deploy/maven/kafka``.
* ``spark-kafka-<pyspark version>``: Spark's Kafka source/sink and its
  runtime dependencies, minus every jar pyspark already bundles, from
  ``deploy/maven/spark-kafka``.

A directory is complete only once its marker file exists (written last, and
recording the pom's digest), so a second call costs one small file read.
``python -m broker.kafka.jars`` fetches both (``make setup``).

Examples
--------
>>> from broker.core.config import load_settings
>>> sorted(pinned_versions())
['kafka', 'scala', 'spark']
>>> kafka_dir = ensure_kafka_jars(load_settings())  # doctest: +SKIP
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import logging
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

from broker.core.config import REPO_ROOT, Settings, load_settings
from broker.core.errors import FauconError, InfrastructureError

KAFKA_VERSION = "4.3.1"
SCALA_BINARY = "2.13"
MAVEN_DIR = REPO_ROOT / "deploy" / "maven"
MARKER = ".faucon-complete"
SPARK_KAFKA_REQUIRED = (
    "spark-sql-kafka-0-10",
    "spark-token-provider-kafka-0-10",
    "kafka-clients",
    "commons-pool2",
)
_MVN_TIMEOUT_S = 1800
_ANSI = re.compile(r"\x1b\[[0-9;]*m")
_MVN_NOISE = re.compile(
    r"^\[ERROR\]\s*$|-e switch|-X switch|errors and possible|^\[ERROR\] \[Help 1\]"
)
_JAR_VERSION = re.compile(r"-\d[^_/]*\.jar$")
log = logging.getLogger(__name__)


def pinned_versions() -> dict[str, str]:
    """Return the pinned versions of the Java components.

    Returns
    -------
    dict[str, str]
        ``kafka`` (broker), ``spark`` (= installed pyspark, the connector's
        version) and ``scala`` (binary version of both).

    Examples
    --------
    >>> pinned_versions()["kafka"]
    '4.3.1'
    """
    return {"kafka": KAFKA_VERSION, "spark": pyspark_version(), "scala": SCALA_BINARY}


def pyspark_version() -> str:
    """Return the version of the installed pyspark (without importing it)."""
    try:
        return importlib.metadata.version("pyspark")
    except importlib.metadata.PackageNotFoundError as exc:
        raise InfrastructureError(
            "pyspark is not installed in this Python environment; run `make setup`"
        ) from exc


def ensure_kafka_jars(settings: Settings) -> Path:
    """Return the directory holding the Kafka broker jars, fetching them once.

    Parameters
    ----------
    settings
        Faucon settings; jars go to ``settings.cache_dir / "jars"``.

    Returns
    -------
    Path
        Directory to use as ``java -cp 'DIR/*'``.

    Raises
    ------
    InfrastructureError
        If java or mvn is missing, or Maven fails (its output's tail is included).

    Examples
    --------
    >>> d = ensure_kafka_jars(load_settings())  # doctest: +SKIP
    >>> d.name  # doctest: +SKIP
    'kafka-4.3.1'
    """
    pom = MAVEN_DIR / "kafka" / "pom.xml"
    target = settings.cache_dir / "jars" / f"kafka-{KAFKA_VERSION}"
    _fetch(pom, target, {"kafka.version": KAFKA_VERSION})
    return target


def ensure_spark_kafka_jars(settings: Settings, spark_version: str | None = None) -> list[Path]:
    """Return the jars of Spark's Kafka connector for pyspark, fetching them once.

    Parameters
    ----------
    settings
        Faucon settings; jars go to ``settings.cache_dir / "jars"``.
    spark_version
        Connector version; defaults to (and should equal) the installed pyspark's.

    Returns
    -------
    list[Path]
        Jars to add to ``spark.jars``; none duplicates a jar of ``pyspark/jars``.

    Raises
    ------
    InfrastructureError
        If java or mvn is missing, Maven fails, or a required jar is absent.

    Examples
    --------
    >>> jars = ensure_spark_kafka_jars(load_settings())  # doctest: +SKIP
    >>> ",".join(str(j) for j in jars)  # for spark.jars  # doctest: +SKIP
    """
    version = spark_version or pyspark_version()
    pom = MAVEN_DIR / "spark-kafka" / "pom.xml"
    target = settings.cache_dir / "jars" / f"spark-kafka-{version}"
    _fetch(pom, target, {"spark.version": version}, prune=_pyspark_jar_names())
    jars = sorted(target.glob("*.jar"))
    names = {_artifact(j.name) for j in jars}
    missing = [r for r in SPARK_KAFKA_REQUIRED if not any(n.startswith(r) for n in names)]
    if missing:
        raise InfrastructureError(
            f"{target} lacks {', '.join(missing)}; delete that directory and run "
            "`python -m broker.kafka.jars` again"
        )
    return jars


def _fetch(pom: Path, target: Path, props: dict[str, str], prune: set[str] | None = None) -> None:
    """Run ``mvn dependency:copy-dependencies`` into ``target`` unless already complete."""
    digest = hashlib.sha256(pom.read_bytes()).hexdigest()[:16]
    stamp = f"{digest} {sorted(props.items())}\n"
    marker = target / MARKER
    if marker.is_file() and marker.read_text() == stamp:
        return
    mvn = _require_tools()
    staging = target.with_name(f"{target.name}.partial-{os.getpid()}")
    shutil.rmtree(staging, ignore_errors=True)
    cmd = [
        mvn,
        "-q",
        "-B",
        "-U",
        "-Dstyle.color=never",
        "-f",
        str(pom),
        "dependency:copy-dependencies",
        "-DincludeScope=runtime",
        f"-DoutputDirectory={staging}",
        *(f"-D{k}={v}" for k, v in props.items()),
    ]
    log.info("fetching %s jars with Maven into %s (first time only)", pom.parent.name, target)
    started = time.monotonic()
    try:
        proc = subprocess.run(
            cmd, capture_output=True, text=True, timeout=_MVN_TIMEOUT_S, check=False
        )
    except subprocess.TimeoutExpired as exc:
        raise InfrastructureError(
            f"mvn did not finish in {_MVN_TIMEOUT_S} s fetching {pom}; check network access "
            "to the Maven repository and retry"
        ) from exc
    if proc.returncode != 0 or not any(staging.glob("*.jar")):
        shutil.rmtree(staging, ignore_errors=True)
        lines = _ANSI.sub("", proc.stdout + proc.stderr).splitlines()
        tail = "\n".join([ln for ln in lines if not _MVN_NOISE.search(ln)][-15:])
        hint = ""
        if "Could not find artifact" in tail or "Could not resolve" in tail:
            hint = (
                f" An artifact is not published in the Maven repository mvn uses (versions: "
                f"{props}); pick versions that are, e.g. a pyspark whose Spark release is "
                "published, or fix ~/.m2/settings.xml."
            )
        raise InfrastructureError(
            f"mvn failed (exit {proc.returncode}) fetching jars from {pom}.{hint}\n"
            f"command: {' '.join(cmd)}\n--- mvn output (tail) ---\n{tail}"
        )
    for jar in staging.glob("*.jar"):
        if prune and _artifact(jar.name) in prune:
            jar.unlink()
    shutil.rmtree(target, ignore_errors=True)
    staging.rename(target)
    marker.write_text(stamp)
    log.info("fetched %s in %.0f s", target.name, time.monotonic() - started)


def _require_tools() -> str:
    """Return the mvn executable, or explain which of java/mvn is missing."""
    if shutil.which("java") is None:
        raise InfrastructureError(
            "java not found on PATH; install a Java 17+ runtime (e.g. the openjdk-17-jdk-headless "
            "package) and retry"
        )
    mvn = shutil.which("mvn")
    if mvn is None:
        raise InfrastructureError(
            "mvn (Apache Maven) not found on PATH; it is needed once to fetch jars: install it "
            "(e.g. the maven package) and retry"
        )
    return mvn


def _artifact(jar_name: str) -> str:
    """Return a jar's artifact name without its version: ``kafka-clients-4.1.0.jar`` →
    ``kafka-clients``."""
    return _JAR_VERSION.sub("", jar_name)


def _pyspark_jar_names() -> set[str]:
    """Artifact names of the jars bundled in pyspark/jars (empty if not found)."""
    try:
        files = importlib.metadata.files("pyspark") or []
    except importlib.metadata.PackageNotFoundError:
        return set()
    return {_artifact(Path(str(f)).name) for f in files if str(f).startswith("pyspark/jars/")}


def main() -> int:
    """Fetch both jar sets; print where they are. Used by ``make setup``."""
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    settings = load_settings()
    try:
        print(f"kafka jars: {ensure_kafka_jars(settings)}")
        jars = ensure_spark_kafka_jars(settings)
        print(f"spark-kafka jars: {jars[0].parent} ({len(jars)} jars)")
    except FauconError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
