"""`xornet sweep`: many seeds and settings of one experiment, on an Optuna study."""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import List, Optional

import typer

from xornet.cli.app import _err, _load_config, app, friendly_errors
from xornet.errors import InputError, XornetError


@app.command()
@friendly_errors
def sweep(
    config: Path = typer.Argument(..., help="The experiment config (YAML)."),
    seeds: int = typer.Option(0, "--seeds", show_default=False, help="Train every setting with seeds 0 .. N-1. Default: 0, only the config's seed."),
    grid: List[str] = typer.Option([], "--grid", help="Values to try: --grid training.learning_rate=0.05,0.1,0.5 (repeatable)."),
    overrides: List[str] = typer.Option([], "--set", help="Override a key for every run: --set training.epochs=100"),
    target_loss: Optional[float] = typer.Option(None, "--target-loss", help="Loss that counts as converged [default: training.target_loss, else 0.1]."),
    jobs: int = typer.Option(1, "--jobs", "-j", min=1, help="Worker processes on this machine."),
    storage: Optional[str] = typer.Option(None, "--storage", help="Optuna storage shared by all workers: a journal file path, or a PostgreSQL/MySQL/SQLite URL [default: <out>/study.log]."),
    study_name: Optional[str] = typer.Option(None, "--study", help="Optuna study name [default: the experiment name]."),
    out: Optional[Path] = typer.Option(None, "--out", help="The sweep directory [default: sweeps/<experiment>]."),
    worker: bool = typer.Option(False, "--worker", hidden=True, help="Only run queued trials (used by --jobs)."),
):
    """Train many seeds and settings; report how often and how fast each setting converges."""
    import subprocess

    from xornet.files.safe_write import atomic_write_text
    from xornet.sweep import enqueue, format_report, parse_grid, plan_sweep, plot_convergence, report, report_csv, work

    cfg = _load_config(config, overrides)
    if target_loss is not None and target_loss <= 0:
        raise InputError(f"--target-loss: expected a number greater than 0, received {target_loss:g}")
    plan = plan_sweep(cfg, range(seeds), parse_grid(grid), target_loss)
    directory = out or Path("sweeps") / cfg.name
    directory.mkdir(parents=True, exist_ok=True)
    url = storage or str(directory / "study.log")
    if jobs > 1 and url.startswith("sqlite:"):
        raise InputError("--jobs with SQLite storage: SQLite cannot hand trials to parallel workers safely",
                         hint="leave --storage out (a journal file), or use PostgreSQL or MySQL")
    name = study_name or cfg.name
    if worker:
        work(plan, url, name)
        return
    queued = enqueue(plan, url, name)
    total = len(plan.trials())
    _err(f"Sweep {name}: {total} runs ({len(plan.settings())} settings x {len(plan.seeds)} seeds), "
         f"{queued} to run, {jobs} worker{'s' if jobs > 1 else ''}, storage {url}")
    started = time.perf_counter()
    if jobs == 1:
        work(plan, url, name)
    else:
        command = [sys.executable, "-m", "xornet", "sweep", str(config), "--seeds", str(seeds), "--storage", url,
                   "--study", name, "--out", str(directory), "--worker"]
        command += [a for g in grid for a in ("--grid", g)] + [a for o in overrides for a in ("--set", o)]
        if target_loss is not None:
            command += ["--target-loss", str(target_loss)]
        workers = [subprocess.Popen(command) for _ in range(jobs)]
        codes = [w.wait() for w in workers]
        if any(codes):
            raise XornetError(f"a sweep worker failed (exit codes {codes}); run the sweep again to resume it")
    reports = report(plan, url, name)
    summary_csv = directory / "summary.csv"
    picture = directory / "convergence.png"
    atomic_write_text(summary_csv, report_csv(plan, reports))
    plot_convergence(plan, reports, picture)
    typer.echo(format_report(plan, reports))
    typer.echo(f"\n{sum(r.runs for r in reports)} of {total} runs done in {time.perf_counter() - started:.1f} s; "
               f"wrote {summary_csv}, {picture}")
