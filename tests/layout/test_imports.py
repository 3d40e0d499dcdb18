"""The house has no import loops, and each room imports only the rooms below it.

The rooms and their order are written down in ARCHITECTURE.md ("Map of the
code"); this test reads the source (function-level imports included).
"""

from __future__ import annotations

from tests.layout.imports import REPO, ROOMS, cycles, module_graph, room_of


def test_no_import_cycle_between_modules() -> None:
    assert cycles(module_graph()) == []


def test_rooms_import_only_rooms_below_them() -> None:
    order = {room: i for i, room in enumerate(ROOMS)}
    upward = []
    for module, deps in sorted(module_graph().items()):
        for dep in sorted(deps):
            here, there = room_of(module), room_of(dep)
            assert here in order, f"{module} is in no room of tests/layout/imports.py:ROOMS"
            if here != there and order[there] > order[here]:
                upward.append(f"{module} -> {dep}")
    assert upward == []


def test_room_graph_has_no_cycle() -> None:
    graph: dict[str, set[str]] = {}
    for module, deps in module_graph().items():
        graph.setdefault(room_of(module), set()).update(
            room_of(d) for d in deps if room_of(d) != room_of(module)
        )
    assert cycles(graph) == []
    assert set(graph) == set(ROOMS)


def test_pipeline_stages_do_not_import_the_spark_job() -> None:
    graph = module_graph()
    for module, deps in graph.items():
        if module.startswith(
            (
                "broker.pipeline",
                "broker.filters",
                "broker.kafka",
                "broker.archive",
                "broker.portal",
                "classifiers",
            )
        ):
            assert not {d for d in deps if d.startswith("streams")}, module


def test_every_room_is_in_the_architecture_map() -> None:
    text = (REPO / "ARCHITECTURE.md").read_text()
    for room in ROOMS:
        folder = room.replace(".", "/") + (
            "/" if (REPO / room.replace(".", "/")).is_dir() else ".py"
        )
        assert f"`{folder}`" in text, f"{folder} is missing from ARCHITECTURE.md's map"


def test_tests_mirror_the_package_tree() -> None:
    for folder in sorted((REPO / "tests" / "broker").iterdir()):
        if folder.is_dir() and folder.name != "__pycache__":
            assert (REPO / "broker" / folder.name).is_dir(), f"tests/broker/{folder.name}"
