"""deploy/Dockerfile and .dockerignore, checked statically (no Docker engine).

The Dockerfile is parsed into stages; the tests check pinned base images,
versions that match the project's (Python 3.11, pyspark, Airflow 3), non-root
runtime users, the ``faucon`` entry point against the real CLI, and that every
file the images copy exists and is not excluded from the build context.
"""

from __future__ import annotations

import fnmatch
import importlib.metadata
import re

from broker.core.config import REPO_ROOT
from tests.deploy.helpers import (
    DOCKERFILE,
    DOCKERIGNORE,
    Dockerfile,
    faucon_invocations,
    parse_faucon,
    split_image,
)

RUNTIME_STAGES = ("faucon", "spark-worker", "airflow")


def test_stages(dockerfile: Dockerfile) -> None:
    names = dockerfile.stage_names()
    assert {"base", "build", "spark-worker", "airflow", "faucon"} <= set(names)
    assert names[-1] == "faucon", "the broker must be the default (last) target"


def test_base_images_pinned(dockerfile: Dockerfile) -> None:
    stages: set[str] = set()
    for stage in dockerfile.stages:
        if stage.image in stages:
            pass  # built on an earlier stage
        else:
            assert "$" not in stage.image, f"line {stage.line}: unresolved {stage.image}"
            _, tag = split_image(stage.image)
            assert tag and tag != "latest" and re.search(r"\d", tag), (
                f"line {stage.line}: FROM {stage.image} is not pinned to a version"
            )
        if stage.name:
            stages.add(stage.name)


def test_python_is_311(dockerfile: Dockerfile) -> None:
    _, tag = split_image(dockerfile.stage("base").image)
    assert tag and tag.startswith("3.11") and "slim" in tag, tag
    _, airflow_tag = split_image(dockerfile.stage("airflow").image)
    assert airflow_tag and airflow_tag.endswith("python3.11"), "faucon needs Python 3.11"


def test_spark_version_is_pyspark(dockerfile: Dockerfile) -> None:
    pyspark = importlib.metadata.version("pyspark")
    assert dockerfile.args["SPARK_VERSION"] == pyspark
    spark = [s.image for s in dockerfile.stages if s.image.startswith("apache/spark:")]
    assert spark == [f"apache/spark:{pyspark}"], spark


def test_airflow_is_3(dockerfile: Dockerfile) -> None:
    repo, tag = split_image(dockerfile.stage("airflow").image)
    assert repo == "apache/airflow" and tag and tag.split(".")[0] == "3", (repo, tag)
    run = " ".join(i.value for i in dockerfile.stage("airflow").all("RUN"))
    assert "apache-airflow==${AIRFLOW_VERSION}" in run, "pin Airflow while installing faucon"
    assert "/opt/faucon" in run


def test_java_17(dockerfile: Dockerfile) -> None:
    for name in ("base", "airflow"):
        run = " ".join(i.value for i in dockerfile.stage(name).all("RUN"))
        assert "openjdk-17-jre-headless" in run, name


def test_runtime_users_are_not_root(dockerfile: Dockerfile) -> None:
    for name in RUNTIME_STAGES:
        user = dockerfile.stage(name).last("USER")
        assert user is not None, f"stage {name} runs as root (no USER)"
        assert user.value.split(":")[0] not in ("root", "0"), f"stage {name}: USER {user.value}"


def test_entrypoint_is_faucon(dockerfile: Dockerfile) -> None:
    stage = dockerfile.stage("faucon")
    entrypoint, cmd = stage.last("ENTRYPOINT"), stage.last("CMD")
    assert entrypoint is not None and entrypoint.value.startswith("["), "exec-form ENTRYPOINT"
    assert entrypoint.exec_form() == ["faucon"]
    argv = entrypoint.exec_form() + (cmd.exec_form() if cmd else [])
    (args,) = faucon_invocations(argv)
    parse_faucon(args or ["--help"])


def test_faucon_commands_in_run_steps_exist(dockerfile: Dockerfile) -> None:
    for stage in dockerfile.stages:
        for run in stage.all("RUN"):
            for args in faucon_invocations(run.value.replace(";", " ; ").split()):
                parse_faucon(args)


def test_package_installed_and_jars_fetched(dockerfile: Dockerfile) -> None:
    build = dockerfile.stage("build")
    runs = [i.value for i in build.all("RUN")]
    assert any("maven" in r for r in runs), "Maven fetches the connector jars"
    assert any(re.search(r"pip install (-e )?\.", r) for r in runs), "pip install the package"
    assert any("python -m broker.kafka.jars" in r for r in runs), "jars fetched at build time"
    env = " ".join(i.value for i in build.all("ENV"))
    assert "FAUCON_CACHE_DIR=/opt/faucon/.cache" in env
    for name in ("faucon", "spark-worker", "airflow"):
        stage_env = " ".join(i.value for i in dockerfile.stage(name).all("ENV"))
        assert "FAUCON_CACHE_DIR=/opt/faucon/.cache" in stage_env, f"{name} must find the jars"


def _copy_sources(dockerfile: Dockerfile) -> list[str]:
    """Sources of the COPY instructions that read the build context."""
    sources = []
    for stage in dockerfile.stages:
        for copy in stage.all("COPY"):
            words = [w for w in copy.value.split() if not w.startswith("--")]
            if "--from=" not in copy.value:
                sources.extend(words[:-1])
    return sources


def test_copies_what_the_runtime_reads(dockerfile: Dockerfile) -> None:
    sources = {s.rstrip("/") for s in _copy_sources(dockerfile)}
    wanted = {"pyproject.toml", "README.md", "broker", "streams", "classifiers", "schemas"}
    wanted |= {"deploy/maven", "deploy/demo-alerts"}
    assert wanted <= sources, f"not copied: {wanted - sources}"
    for source in sources:
        assert (REPO_ROOT / source).exists(), f"COPY {source}: no such file in the repository"
    assert (REPO_ROOT / "classifiers" / "models").is_dir()


def _ignore_patterns() -> list[str]:
    lines = [ln.strip() for ln in DOCKERIGNORE.read_text().splitlines()]
    return [ln for ln in lines if ln and not ln.startswith("#")]


def test_dockerignore_keeps_secrets_and_state_out() -> None:
    patterns = _ignore_patterns()
    excluded = [p for p in patterns if not p.startswith("!")]
    for path in (".env", ".venv", ".venv-other", ".git", ".state", "**/__pycache__", "x.egg-info"):
        assert any(fnmatch.fnmatch(path, p) for p in excluded), f".dockerignore must exclude {path}"
    assert "!.env.example" in patterns


def test_dockerignore_keeps_what_the_images_copy(dockerfile: Dockerfile) -> None:
    excluded = [p for p in _ignore_patterns() if not p.startswith("!")]
    for source in _copy_sources(dockerfile):
        parts = source.rstrip("/").split("/")
        prefixes = ["/".join(parts[: i + 1]) for i in range(len(parts))]
        hits = [p for p in excluded for x in prefixes if fnmatch.fnmatch(x, p.lstrip("/"))]
        assert not hits, f"COPY {source} is excluded by .dockerignore {hits}"


def test_dockerfile_has_no_secret(dockerfile: Dockerfile) -> None:
    text = DOCKERFILE.read_text()
    assert not re.search(r"(?i)(password|secret|token)\s*=", text), "no secret in the image"
    for stage in dockerfile.stages:
        for copy in stage.all("COPY"):
            assert ".env" not in copy.value.split(), f"line {copy.line} copies .env"
