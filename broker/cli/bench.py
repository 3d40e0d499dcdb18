"""``faucon bench``: speed and memory on real alerts, as ratios to a same-run baseline.

Examples
--------
>>> import inspect
>>> "cluster" in inspect.signature(bench).parameters
True
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from broker.cli.support import err_console, setup_logging
from broker.core.config import load_settings

console = Console(soft_wrap=True)


def bench(
    quick: Annotated[bool, typer.Option("--quick", help="smaller run, under 3 minutes")] = False,
    cluster: Annotated[
        bool,
        typer.Option(
            "--cluster",
            help="throughput on a 3-node Kafka cluster with 1 and 2 Spark standalone workers",
        ),
    ] = False,
    output: Annotated[Path | None, typer.Option(help="JSON result file")] = None,
    markdown: Annotated[
        Path | None,
        typer.Option(
            help="Markdown report (docs/benchmarks.md, --cluster docs/benchmarks-cluster.md)"
        ),
    ] = None,
) -> None:
    """Measure throughput, latency and memory on real alerts (ratios to a same-run baseline)."""
    from broker.bench.run import run_bench, write_report

    setup_logging()
    logging.getLogger("faucon.stream").setLevel(logging.WARNING)
    settings = load_settings()
    log = lambda m: err_console.print(f"[bold]bench[/] {m}")  # noqa: E731
    if cluster:
        from broker.bench.cluster import markdown as cluster_markdown
        from broker.bench.cluster import run_cluster_bench

        res = run_cluster_bench(settings, quick=quick, log=log)
        out = output or settings.state_dir / "bench" / "cluster.json"
        md = markdown or Path("docs/benchmarks-cluster.md")
        write_report(res, out, md, render=cluster_markdown)
        console.print(
            f"local {res['local']['alerts_per_s']:,.0f} alerts/s, 1 worker "
            f"{res['workers_1']['alerts_per_s']:,.0f}, 2 workers "
            f"{res['workers_2']['alerts_per_s']:,.0f} (decode floor "
            f"{res['decode_floor_alerts_per_s']:,.0f}); written {out} and {md}"
        )
        return
    result = run_bench(settings, quick=quick, log=log)
    out = output or settings.state_dir / "bench" / "result.json"
    write_report(result, out, markdown or Path("docs/benchmarks.md"))
    console.print(
        f"throughput {result['throughput_alerts_per_s']:,.0f} alerts/s "
        f"({result['ratio_to_decode_floor']:.2f} x decode floor "
        f"{result['decode_floor_alerts_per_s']:,.0f}); latency p99 at 333/s "
        f"{result['latency_p99_s_at_333']:.2f} s; peak RSS "
        f"{result['peak_rss_gb']['total']:.2f} GB; written {out} and "
        f"{markdown or 'docs/benchmarks.md'}"
    )
