"""`xornet sweep`: many seeds and settings of one experiment, on an Optuna study."""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import List, Optional

import typer

from xornet.cli.app import _err, _load_config, app, friendly_errors
from xornet.errors import InputError, Interrupted


@app.command()
@friendly_errors
def sweep(
    config: Path = typer.Argument(..., metavar="CONFIG", help="The experiment config (YAML)."),
    seeds: Optional[int] = typer.Option(None, "--seeds", min=1, metavar="<int>", show_default=False,
                                        help="Train every setting from seeds 0 .. N-1 (default: the config's seed only)."),
    grid: List[str] = typer.Option([], "--grid", metavar="<key=v1,v2,...>", help="Values to try: --grid training.learning_rate=0.05,0.1,0.5 (repeatable)."),
    overrides: List[str] = typer.Option([], "--set", metavar="<key=value>", help="Override a key for every run: --set training.epochs=100"),
    target_loss: Optional[float] = typer.Option(None, "--target-loss", help="Loss that counts as converged (default: training.target_loss, else 0.1)."),
    jobs: int = typer.Option(1, "--jobs", "-j", min=1, help="Worker processes on this machine."),
    storage: Optional[str] = typer.Option(None, "--storage", help="Optuna storage shared by all workers: a journal file path, or a PostgreSQL/MySQL URL (default: OUT/study.log)."),
    study_name: Optional[str] = typer.Option(None, "--study", help="Optuna study name (default: the experiment name and the first 8 hex digits of the config fingerprint)."),
    out: Optional[Path] = typer.Option(None, "--out", help="The sweep directory (default: sweeps/<experiment>); each report is written into OUT/<study>/, its file names ending in its own id."),
    grace: int = typer.Option(60, "--grace", min=2, help="Seconds without a heartbeat after which a worker's trials run again (RDB storage)."),
    force: bool = typer.Option(False, "--force", help="Add this config's runs to a --study made for another config."),
    worker: bool = typer.Option(False, "--worker", hidden=True, help="Only run queued trials (used by --jobs)."),
    share: int = typer.Option(1, "--share", hidden=True, min=1, help="Workers splitting each setting (used by --jobs)."),
):
    """Train many seeds and settings; report how often and how fast each setting converges."""
    from xornet.sweep import check_sweep_size, parse_grid, plan_sweep

    if target_loss is not None and target_loss <= 0:
        raise InputError(f"--target-loss: expected a number greater than 0, received {target_loss:g}")
    values = parse_grid(grid)
    check_sweep_size(seeds or 0, values)
    cfg = _load_config(config, overrides)
    plan = plan_sweep(cfg, range(seeds or 0), values, target_loss, grid)
    directory = out or Path("sweeps") / cfg.name
    if directory.exists() and not directory.is_dir():
        raise InputError(f"--out {directory}: expected a directory, found a file")
    directory.mkdir(parents=True, exist_ok=True)
    url = storage or str(directory / "study.log")
    if jobs > 1 and url.startswith("sqlite:"):
        raise InputError("--jobs with SQLite storage: SQLite cannot hand trials to parallel workers safely",
                         hint="leave --storage out (a journal file), or use PostgreSQL or MySQL")
    name = study_name or plan.default_study_name
    for note in [] if worker else plan.notes:
        _err(f"note: {note}")
    if worker:
        from xornet.sweep import open_study, work

        try:
            work(plan, open_study(url, name, grace), share)
        except KeyboardInterrupt:
            raise typer.Exit(130) from None  # its trials are back in the queue; the command that started it says so
        return
    _sweep(plan, config, grid, overrides, seeds, target_loss, jobs, url, name, directory / name, grace, force)


def _sweep(plan, config, grid, overrides, seeds, target_loss, jobs, url, name, folder: Path, grace, force) -> None:
    import yaml

    from xornet.cli.workers import run_workers
    from xornet.files.safe_write import atomic_write_text
    from xornet.sweep import (Progress, check_study_config, count_done, counted, enqueue, format_report,
                              interrupted_message, open_study, plot_convergence, report, report_csv, shown_storage,
                              work)

    study = open_study(url, name, grace)
    check_study_config(study, plan, force)
    counts = enqueue(plan, study)
    total = len(plan.trials)
    _err(f"Sweep {name}: {counted(total, 'run')} ({counted(len(plan.settings()), 'setting')} x "
         f"{counted(len(plan.seeds), 'seed')}), {counts.queued + counts.added} to run, {counted(jobs, 'worker')}, "
         f"storage {shown_storage(url)}")
    _err(f"reused {counted(counts.reused, 'finished run')}: same fingerprint "
         f"(SHA-256 of the resolved config with its setting and seed, and of the data) as a planned run"
         if counts.reused else "reused 0 finished runs: no finished run in the study trains the same resolved config")
    started = time.perf_counter()
    progress = Progress(total)
    progress.update(count_done(plan, study))
    try:
        if jobs == 1:
            work(plan, study, on_progress=progress.update)
        else:
            command = [sys.executable, "-m", "xornet", "sweep", str(config), "--storage", url,
                       "--study", name, "--grace", str(grace), "--worker", "--share", str(jobs)]
            command += ["--seeds", str(seeds)] if seeds else []
            command += [a for g in grid for a in ("--grid", g)] + [a for o in overrides for a in ("--set", o)]
            if target_loss is not None:
                command += ["--target-loss", str(target_loss)]
            run_workers(command, jobs, lambda: progress.update(count_done(plan, study)), "a sweep worker",
                        "run the sweep again to resume it")
    except KeyboardInterrupt:
        progress.close()
        raise Interrupted(interrupted_message(plan, study, url),
                          hint="run the same command again to continue; it reuses the finished runs") from None
    progress.close()
    reports = report(plan, study)
    folder.mkdir(parents=True, exist_ok=True)
    summary_csv, picture, base = (folder / f"{stem}-{plan.report_id}{suffix}" for stem, suffix in
                                  [("summary", ".csv"), ("convergence", ".png"), ("config", ".yaml")])
    atomic_write_text(base, yaml.safe_dump(plan.config.resolved(), sort_keys=False))
    atomic_write_text(summary_csv, report_csv(plan, reports))
    wrote = [summary_csv, base]
    if reports:
        plot_convergence(plan, reports, picture)
        wrote.insert(1, picture)
    typer.echo(format_report(plan, reports))
    typer.echo(f"\n{sum(r.runs for r in reports)} of {total} runs done in {time.perf_counter() - started:.1f} s; "
               f"wrote {', '.join(map(str, wrote))}")

