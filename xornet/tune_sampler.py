"""The tune sampler: TPE whose randomness is the config's seed for one worker, and each trial's own for several.

A TPE sampler seeded from the config draws the same values in every process
that starts from that seed: two workers of one study (or a search run again
after its worker was killed) would repeat each other's random-start trials.
`TrialSeededSampler` keeps the seed's stream while one worker runs
consecutive trials (0, 1, 2, ...: a single worker draws exactly what
`TPESampler(seed=seed)` draws), and gives a trial that does not follow this
worker's previous one (another worker ran that one, or the search resumed)
a stream of its own, seeded from (seed, trial number). Trial numbers are
unique in a study, whichever worker runs a trial, so no two trials share a
stream.

Example:
    >>> sampler = TrialSeededSampler(42, n_startup_trials=5, multivariate=True, constant_liar=True)
    >>> trial_seed(42, 3) == trial_seed(42, 3) != trial_seed(42, 4)
    True
"""

from __future__ import annotations

import hashlib

import optuna


def trial_seed(seed: int, number: int) -> int:
    """The seed (below 2**32, as numpy's RandomState takes) of trial `number` started by a fresh stream."""
    return int(hashlib.sha256(f"{seed}:{number}".encode()).hexdigest()[:8], 16)


class TrialSeededSampler(optuna.samplers.BaseSampler):
    """`optuna.samplers.TPESampler(seed=..., **options)`, started again from `trial_seed(seed, n)` before a trial
    n that does not follow the previous trial this sampler drew (a new TPESampler: public API only)."""

    def __init__(self, seed: int | None, **options):
        self._seed = seed
        self._options = options
        self._tpe = optuna.samplers.TPESampler(seed=seed, **options)
        self._next = 0  # the trial number that continues this sampler's stream

    def before_trial(self, study, trial) -> None:
        if trial.number != self._next and self._seed is not None:
            self._tpe = optuna.samplers.TPESampler(seed=trial_seed(self._seed, trial.number), **self._options)
        self._next = trial.number + 1
        self._tpe.before_trial(study, trial)

    def infer_relative_search_space(self, study, trial):
        return self._tpe.infer_relative_search_space(study, trial)

    def sample_relative(self, study, trial, search_space):
        return self._tpe.sample_relative(study, trial, search_space)

    def sample_independent(self, study, trial, param_name, param_distribution):
        return self._tpe.sample_independent(study, trial, param_name, param_distribution)

    def after_trial(self, study, trial, state, values) -> None:
        self._tpe.after_trial(study, trial, state, values)

    def reseed_rng(self) -> None:
        self._tpe.reseed_rng()
