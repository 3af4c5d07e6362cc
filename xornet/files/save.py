"""Saving a trained run: architecture, weights, history and run record, together.

Example:
    >>> check_can_write(Path("models"), "basic_model.json", "basic_weights.h5", config.resolved(), force=False)
    >>> save_run(model, Path("models"), "basic_model.json", "basic_weights.h5", record, history)
"""

from __future__ import annotations

import json
from pathlib import Path

from xornet.errors import InputError, XornetError
from xornet.files.names import history_path, journal_path, record_path
from xornet.files.record import history_csv, read_record
from xornet.files.safe_write import (
    discard,
    finish_interrupted_save,
    finish_interrupted_save_locked,
    remove_orphan_temps,
    replace_together,
    save_lock,
    sha256_of,
    stage,
)
from xornet.files.weights_h5 import write_weights_h5
from xornet.files.writable import check_writable

# Config keys a re-run of the same experiment may change without making it another experiment:
# the seed (initial weights), the training budget (epochs, target_loss, restarts), where TensorBoard
# scalars go, the engine and the devices (proven to give the same numbers), checkpoints, and where the files go.
RERUN_KEYS = ("seed", "training.epochs", "training.target_loss", "training.restarts", "training.tensorboard",
              "training.engine", "training.devices", "training.checkpoint_every", "output.dir")


def model_paths(directory: Path, model_file: str, weights_file: str) -> dict[str, Path]:
    """The four files a run writes: model, weights, history, record."""
    directory = Path(directory)
    return {
        "model": directory / model_file,
        "weights": directory / weights_file,
        "history": history_path(directory / model_file),
        "record": record_path(directory / model_file),
    }


def check_can_write(directory: Path, model_file: str, weights_file: str, config: dict, force: bool) -> None:
    """Refuse to write where files cannot be written, or over another experiment's model without `force`.

    `config` is the resolved config of the new run (`Config.resolved()`).
    The rule: existing files (model, weights, history or record) may be replaced when the
    `config` in their run record equals the new one, key by key, except
    `seed`, `training.epochs`, `training.target_loss`, `training.restarts`,
    `training.tensorboard`, `training.engine`, `training.devices`, `training.checkpoint_every` and
    `output.dir` (`RERUN_KEYS`:
    what a re-run of the same experiment changes). A recorded config from an
    older xornet is completed with today's defaults first. Otherwise an
    `InputError` names up to three differing keys ("key: old -> new"); files
    with no readable run record, or a record without its config, are refused
    too. `force` skips the comparison. Checked before training starts, and
    again under the save lock in `save_run`.

    Example:
        >>> check_can_write(Path("models"), "basic_model.json", "basic_weights.h5", Config().resolved(), False)
    """
    paths = model_paths(directory, model_file, weights_file)
    for path in paths.values():
        check_writable(path, "output.dir")
    finish_interrupted_save(paths["model"], weights_file)
    _check_same_experiment(paths, config, force)


def _check_same_experiment(paths: dict[str, Path], config: dict, force: bool) -> None:
    existing = [p for p in paths.values() if p.exists()]  # a history or record of no model is somebody's too
    if force or not existing:
        return
    hint = "pass --force to replace it, or --output-dir DIR to write elsewhere"
    try:
        record = read_record(paths["model"])
    except RecursionError:
        record = None
    except InputError as exc:  # a damaged record: whatever it belongs to is not this run's to replace
        raise InputError(f"{exc.message}; refusing to overwrite it", hint=hint) from None
    if not isinstance(record, dict):
        what = "a model" if existing[0] in (paths["model"], paths["weights"]) else "a file"
        raise InputError(f"{existing[0]} already holds {what} with no run record (origin unknown); refusing to "
                         f"overwrite it with experiment {config.get('name')!r}", hint=hint)
    old = record.get("config")
    if not isinstance(old, dict):
        raise InputError(f"{existing[0]} already holds a model whose run record {paths['record']} does not say "
                         "which config made it; refusing to overwrite it", hint=hint)
    differences = config_differences(old, config)
    if differences:
        shown = "; ".join(differences[:3]) + (f"; and {len(differences) - 3} more" if len(differences) > 3 else "")
        raise InputError(f"{existing[0]} already holds a model of a different experiment ({shown}); "
                         "refusing to overwrite it", hint=hint)


def config_differences(old: dict, new: dict) -> list[str]:
    """What differs between two resolved configs, ignoring `RERUN_KEYS`, as "key: old -> new" lines.

    A config from an older xornet is first completed with today's defaults.

    Example:
        >>> config_differences({"model": {"units": 10}}, {"model": {"units": 3}})
        ['model.units: 10 -> 3']
    """
    from xornet.config import Config

    try:
        old = Config.model_validate(old).resolved() | {"seed": old.get("seed")}
    except (ValueError, RecursionError):
        pass  # compared as it is
    try:
        before, after = dict(_flatten(old)), dict(_flatten(new))
    except RecursionError:
        return ["the recorded config is nested too deeply to compare"]
    missing = object()
    lines = []
    for key in dict.fromkeys([*before, *after]):
        if any(key == k or key.startswith(k + ".") for k in RERUN_KEYS):
            continue
        was, now = before.get(key, missing), after.get(key, missing)
        if not (was == now and isinstance(was, bool) == isinstance(now, bool)):
            lines.append(f"{key}: {_show(was, missing)} -> {_show(now, missing)}")
    return lines


def _flatten(value, prefix: str = ""):
    if isinstance(value, dict) and value:
        for key, item in value.items():
            yield from _flatten(item, f"{prefix}{key}.")
    elif isinstance(value, list) and value and all(isinstance(item, dict) for item in value):
        for index, item in enumerate(value):
            yield from _flatten(item, f"{prefix}{index}.")
    else:
        yield prefix[:-1], value


def _show(value, missing) -> str:
    if value is missing:
        return "(absent)"
    if isinstance(value, list):
        text = "[" + ", ".join(_show(item, missing) for item in value) + "]"
    else:
        text = repr(value) if isinstance(value, str) else json.dumps(value)
    return text if len(text) <= 40 else text[:37] + "..."


def save_run(model, directory: Path, model_file: str, weights_file: str, record: dict,
             history: dict[str, list[float]], force: bool = False) -> dict[str, Path]:
    """Write architecture, weights, history CSV and run record; return the paths written.

    Holds the model's save lock (`save_lock`) while it completes an
    interrupted save, removes temporary files a killed save left, checks again
    that the files may be replaced (`record["config"]`, unless `force`), writes
    all four files to temporary names and renames them together
    (`replace_together`). The record holds the SHA-256 of the architecture and
    weights it describes.
    """
    paths = model_paths(directory, model_file, weights_file)
    for path in paths.values():
        check_writable(path, "output.dir")
    try:
        paths["model"].parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise XornetError(f"{paths['model'].parent}: cannot create the directory: {exc.strerror}") from exc
    with save_lock(paths["model"]):
        finish_interrupted_save_locked(paths["model"], weights_file)
        remove_orphan_temps(paths["model"], [p.name for p in paths.values()])
        if isinstance(record.get("config"), dict):
            _check_same_experiment(paths, record["config"], force)
        staged = _stage_run(model, paths, record, history)
        replace_together(journal_path(paths["model"]), staged)
    return paths


def _stage_run(model, paths: dict[str, Path], record: dict, history: dict[str, list[float]]) -> list:
    """Stage all four files; the record first in the list, so it is renamed first and names the new weights."""
    staged = stage({
        paths["weights"]: lambda temp: write_weights_h5(model, temp),
        paths["model"]: lambda temp: temp.write_text(model.to_json(), encoding="utf-8"),
        paths["history"]: lambda temp: temp.write_text(history_csv(history), encoding="utf-8"),
    })
    try:
        record = dict(record)
        record["files"] = {
            "model": {"name": paths["model"].name, "sha256": sha256_of(staged[1][0])},
            "weights": {"name": paths["weights"].name, "sha256": sha256_of(staged[0][0])},
            "history": paths["history"].name,
        }
        text = json.dumps(record, indent=2) + "\n"
        staged = stage({paths["record"]: lambda temp: temp.write_text(text, encoding="utf-8")}) + staged
    except BaseException:
        discard(staged)
        raise
    return staged
