"""Held-out splits: seeded, stratified for classification, recorded by a hash of their rows (and values).

Example:
    >>> parts = split_rows(10, validation=0.2, test=0.1, seed=1)
    >>> [len(parts[name]) for name in ("train", "validation", "test")]
    [7, 2, 1]
"""

from __future__ import annotations

import hashlib

import numpy as np


def split_rows(rows: int, validation: float | None, test: float | None, seed: int,
               classes: np.ndarray | None = None) -> dict[str, np.ndarray]:
    """Row indices of the train, validation and test parts (each sorted).

    With `classes` (one class index per row) each class is split in the same
    proportions; the fractions are rounded per class, so tiny classes keep at
    least one training row.
    """
    rng = np.random.default_rng(seed)
    groups = [np.arange(rows)] if classes is None else [np.flatnonzero(classes == c) for c in np.unique(classes)]
    parts: dict[str, list] = {"train": [], "validation": [], "test": []}
    for group in groups:
        order = rng.permutation(group)
        n_test = int(round(len(order) * (test or 0)))
        n_val = int(round(len(order) * (validation or 0)))
        if n_test + n_val >= len(order):  # keep a training row in every class
            n_val = max(0, len(order) - 1 - n_test)
        parts["test"].append(order[:n_test])
        parts["validation"].append(order[n_test:n_test + n_val])
        parts["train"].append(order[n_test + n_val:])
    return {name: np.sort(np.concatenate(chunks)) for name, chunks in parts.items()}


def rows_hash(rows: np.ndarray) -> str:
    """SHA-256 of row numbers (as little-endian int64), to check a split is re-derived exactly.

    Example:
        >>> rows_hash(np.array([0, 1]))[:12]
        '9d34149fbd1f'
    """
    return hashlib.sha256(np.asarray(rows, dtype="<i8").tobytes()).hexdigest()


def values_hash(x: np.ndarray, y: np.ndarray) -> str:
    """SHA-256 of a split's inputs and labels (as little-endian float32), to check a file did not change since.

    Example:
        >>> values_hash(np.zeros((1, 2)), np.ones((1, 1)))[:12]
        'caccb9a8fbd2'
    """
    digest = hashlib.sha256()
    for array in (x, y):
        digest.update(np.ascontiguousarray(array, dtype="<f4").tobytes())
    return digest.hexdigest()
