"""Running the benchmark: seeds as units on a local process pool (joblib) or a Dask cluster, and the results.

:func:`run_units` maps ``fn(task, seed)`` over seeds on the chosen backend; :func:`benchmark_corpus` (synthetic
corpus -> real dataset) and :func:`reference_rows` (chance and the subject-fold ceiling) return results
dictionaries of schema v1 (:mod:`text2imu.benchmark.results`).

Backends are the build's (:mod:`text2imu.builder.corpus_backends`): ``local`` runs ``jobs`` seeds at a time in a
joblib (loky) process pool (``jobs`` = 1 runs them one after another in this process; the CLI's default is
cpu_count // threads, so that jobs x threads does not exceed the cores); ``dask`` submits the same units to the
scheduler at ``scheduler`` (the task data is scattered to the workers once). Each unit sets its own torch
threads.
"""

from __future__ import annotations

import logging
import os
import platform
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from text2imu.builder.errors import Text2ImuError

from .inputs import (
    check_real_data,
    choose_real_site,
    corpus_calibration,
    load_corpus_site,
    load_real,
    resolve_corpus,
)
from .metrics import chance_scores, summarise_seeds
from .modes import ModeSetup, guard_calibrated_corpus, prepare_mode_task, run_mode_seed
from .protocol import (
    PROTOCOL_V1,
    CeilingTask,
    Protocol,
    SyntheticTask,
    restrict,
    run_ceiling_seed,
    run_synthetic_seed,
    shared_classes,
    subject_folds,
)
from .results import SCHEMA_VERSION, now_utc, versions

log = logging.getLogger(__name__)

BACKENDS = ("local", "dask")
DEFAULT_FOLDS = "5"


def mode_task(setup: ModeSetup, mode_info: dict | None) -> dict:
    """The ``task`` keys of a training mode: mode, model, real_fraction (real / mixed, else None),
    calibration_subjects (list, empty when none)."""
    info = mode_info or {}
    return {
        "mode": setup.mode,
        "model": setup.model,
        "real_fraction": info.get("real_fraction"),
        "calibration_subjects": info.get("calibration_subjects", []),
    }


def default_jobs(threads: int) -> int:
    """Seeds run at once on the local backend: max(1, cpu_count // threads)."""
    return max(1, (os.cpu_count() or 1) // max(1, threads))


def run_units(
    fn: Callable,
    task: object,
    seeds: Sequence[int],
    backend: str = "local",
    scheduler: str | None = None,
    jobs: int | None = None,
    progress: bool = True,
) -> list[dict]:
    """``[fn(task, seed) for seed in seeds]`` on the build's backends (:mod:`text2imu.builder.corpus_backends`),
    returned in the order of ``seeds`` (each result is a dict with its ``seed``)."""
    from tqdm.auto import tqdm

    from text2imu.builder.corpus_backends import run_units as run_build_units

    seeds = [int(s) for s in seeds]
    if len(set(seeds)) != len(seeds):
        raise Text2ImuError(f"seeds must differ from one another, got {seeds}")
    if backend not in BACKENDS:
        raise Text2ImuError(f"unknown backend {backend!r}; use one of {', '.join(BACKENDS)}")
    workers = min(jobs or 1, len(seeds)) if backend == "local" else 1
    results = run_build_units(
        fn, task, seeds, backend=backend, workers=workers, scheduler=scheduler if backend == "dask" else None
    )
    by_seed = {r["seed"]: r for r in tqdm(results, total=len(seeds), desc="seeds", disable=not progress)}
    return [by_seed[s] for s in seeds]


def _environment(protocol: Protocol, backend: str, scheduler: str | None, jobs: int | None) -> dict:
    return {
        "backend": backend,
        "scheduler": scheduler,
        "jobs": jobs if backend == "local" else None,
        "torch_threads": protocol.train.threads,
        "cpu_count": os.cpu_count(),
        "machine": platform.machine(),
        "processor": platform.processor() or None,
    }


def benchmark_corpus(
    corpus: str,
    site: str,
    real_dataset: str,
    data: Path | None = None,
    real_site: str | None = None,
    revision: str | None = None,
    seeds: Sequence[int] = range(10),
    protocol: Protocol = PROTOCOL_V1,
    backend: str = "local",
    scheduler: str | None = None,
    jobs: int | None = None,
    progress: bool = True,
    setup: ModeSetup | None = None,
) -> dict:
    """Protocol v1 of one corpus site against one real dataset (or another training mode): a results dict of
    schema v1.

    Args:
        corpus: corpus folder or Hub dataset repo id; ``site``: the corpus site (configs ``<site>-*`` pooled).
        real_dataset: registry name (``uci_hapt``, ...); ``data``: its path (None: the bundled HAPT set).
        real_site: the real site (default: ``site`` if the dataset has it, else its only site).
        revision: the corpus revision (Hub tag or commit; recorded for a folder).
        seeds: the seeds, each a unit. protocol, backend, scheduler, jobs: see the module docstring.
        setup: the training mode and model (:class:`~text2imu.benchmark.modes.ModeSetup`; default protocol v1:
            synthetic, DeepConvLSTM, runs :func:`run_synthetic_seed` as before). ``corpus`` may be None in mode
            real (then every real class is used; with a corpus, the classes it shares with the real data).
    """
    setup = setup or ModeSetup()
    t0 = time.perf_counter()
    check_real_data(real_dataset, data)
    real_site = choose_real_site(real_dataset, site, real_site)
    if corpus is None and setup.mode != "real":
        raise Text2ImuError(f"mode {setup.mode} needs a CORPUS")
    corpus_info, synth = None, None
    if corpus is not None:
        folder, corpus_info = resolve_corpus(corpus, revision)
        synth, synth_info = load_corpus_site(folder, site, protocol.window)
        corpus_info.update(synth_info)
        if corpus_info.get("revision") is None:  # a local build of a release names its version in manifest.json
            corpus_info["revision"] = (corpus_info.get("manifest") or {}).get("version")
        setup = guard_calibrated_corpus(setup, corpus_calibration(folder), real_dataset)
    t1 = time.perf_counter()
    real, real_info = load_real(real_dataset, data, real_site, protocol.window)
    t2 = time.perf_counter()
    classes = shared_classes(synth.counts() if synth is not None else real.counts(), real.counts())
    if not classes:
        raise Text2ImuError(
            f"corpus {corpus} (site {site}) and {real_dataset} share no activity: the corpus has "
            f"{', '.join(synth.counts()) or 'no window'}, {real_dataset} has {', '.join(real.counts()) or 'no window'}"
        )
    train, y_train = restrict(synth, classes) if synth is not None else (None, None)
    test, y_test = restrict(real, classes)
    mode_info = None
    if setup.is_protocol_v1:
        task = SyntheticTask(train, y_train, test, y_test, classes, protocol)
        unit = run_synthetic_seed
    else:
        task, mode_info = prepare_mode_task(setup, train, y_train, test, y_test, classes, real_dataset, protocol)
        unit = run_mode_seed
        y_test = y_test[np.isin(test.groups.astype(str), task.test_subjects)]
    log.info(
        "%s %s -> %s %s (mode %s, model %s): %d classes, %d synthetic and %d real windows, %d seeds",
        corpus, site, real_dataset, real_site, setup.mode, setup.model, len(classes),
        len(train) if train is not None else 0, len(test), len(list(seeds)),
    )
    t3 = time.perf_counter()
    per_seed = run_units(unit, task, list(seeds), backend, scheduler, jobs, progress)
    t4 = time.perf_counter()
    generators = (corpus_info or {}).get("generators") or []
    extra = {"mode": mode_info} if mode_info is not None else {}
    protocol_dict = setup.spec.protocol_dict(protocol, setup.rf)
    if setup.mode in ("real", "mixed") and "standardisation" in protocol_dict and setup.model == "deepconvlstm":
        protocol_dict["standardisation"] = (
            "per channel, mean and std of each fold's fitting windows (training minus validation; real"
            + (" and synthetic)" if setup.mode == "mixed" else ")")
        )
    return {
        "schema_version": SCHEMA_VERSION,
        "kind": "benchmark",
        "task": {
            "generator": generators[0] if len(generators) == 1 else ",".join(generators) or None,
            "corpus_revision": (corpus_info or {}).get("revision"),
            "real_dataset": real_dataset,
            "site": site,
            "real_site": real_site,
            **mode_task(setup, mode_info),
        },
        "protocol": protocol_dict,
        "classes": list(classes),
        "seeds": [int(s) for s in seeds],
        "scores_per_seed": per_seed,
        "summary": summarise_seeds(per_seed, classes),
        "reference": chance_scores(y_test, classes),
        **extra,
        "corpus": corpus_info,
        "real": {**real_info, "n_windows_shared_classes": len(test), "n_test_windows": len(y_test)},
        "timings": {
            "load_corpus_s": t1 - t0,
            "load_real_s": t2 - t1,
            "seeds_s": t4 - t3,
            "mean_seed_s": float(np.mean([s["timings"]["total_s"] for s in per_seed])),
            "total_s": time.perf_counter() - t0,
        },
        "environment": _environment(protocol, backend, scheduler, jobs),
        "versions": versions(),
        "created_utc": now_utc(),
    }


def reference_rows(
    real_dataset: str,
    data: Path | None = None,
    real_site: str | None = None,
    classes: Sequence[str] | None = None,
    folds: str | int = DEFAULT_FOLDS,
    seeds: Sequence[int] = range(10),
    protocol: Protocol = PROTOCOL_V1,
    backend: str = "local",
    scheduler: str | None = None,
    jobs: int | None = None,
    progress: bool = True,
) -> dict:
    """Reference rows of a real dataset: chance, majority, and the ceiling (DeepConvLSTM trained on the real data
    with folds grouped by subject, ``folds`` = "loso" or a number k), as a results dict of schema v1.

    ``classes`` restricts the activities (default: all the dataset has); the ceiling's training standardises with
    the training subjects and stops early on held-out training subjects, never on the test fold.
    """
    t0 = time.perf_counter()
    real_site = choose_real_site(real_dataset, None, real_site)
    real, real_info = load_real(real_dataset, data, real_site, protocol.window)
    t1 = time.perf_counter()
    wanted = list(real.counts()) if classes is None else list(classes)
    chosen = shared_classes(wanted, real.counts())
    if not chosen:
        raise Text2ImuError(f"{real_dataset} has no window of {', '.join(wanted)}")
    windows, y = restrict(real, chosen)
    fold_subjects = subject_folds(np.unique(windows.groups), folds)
    task = CeilingTask(windows, y, chosen, tuple(tuple(f) for f in fold_subjects), protocol)
    scheme = "leave-one-subject-out" if str(folds).lower() == "loso" else f"grouped {len(fold_subjects)}-fold by subject"
    log.info("%s ceiling: %s, %d classes, %d windows, %d seeds", real_dataset, scheme, len(chosen), len(y), len(list(seeds)))
    per_seed = run_units(run_ceiling_seed, task, list(seeds), backend, scheduler, jobs, progress)
    t2 = time.perf_counter()
    return {
        "schema_version": SCHEMA_VERSION,
        "kind": "reference",
        "task": {
            "generator": None,
            "corpus_revision": None,
            "real_dataset": real_dataset,
            "site": None,
            "real_site": real_site,
        },
        "protocol": protocol.to_dict(),
        "classes": list(chosen),
        "seeds": [int(s) for s in seeds],
        "scores_per_seed": per_seed,
        "summary": summarise_seeds(per_seed, chosen),
        "reference": chance_scores(y, chosen),
        "folds": {
            "scheme": scheme,
            "test_subjects": [list(f) for f in fold_subjects],
            "assignment": "subjects sorted numerically and dealt round-robin" if scheme.startswith("grouped") else "one per subject",
            "validation": f"{protocol.val_fraction:g} of the training subjects per fold, seeded, for early stopping",
        },
        "corpus": None,
        "real": {**real_info, "n_windows_shared_classes": len(y)},
        "timings": {"load_real_s": t1 - t0, "seeds_s": t2 - t1, "total_s": time.perf_counter() - t0},
        "environment": _environment(protocol, backend, scheduler, jobs),
        "versions": versions(),
        "created_utc": now_utc(),
    }
