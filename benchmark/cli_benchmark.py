"""``text2imu benchmark``: protocol v1 of a corpus against a real dataset, the other training modes, or the
reference rows of a dataset.

    text2imu benchmark CORPUS --real uci-hapt --site hapt.waist [--seeds 10] --out results.json
    text2imu benchmark CORPUS --real uci-hapt --site hapt.waist --mode mixed --model rf-ecdf --real-fraction 0.5 \
        --calibration-subjects 1,5,9 --folds loso --seeds 3 --out DIR
    text2imu benchmark --reference --real uci-hapt [--folds 5|loso] --out reference.json

``--calibration-subjects``: a comma list of subject ids (``1,5,9``; one subject: ``5``) or ``random:K`` (K
subjects drawn with a fixed seed, :data:`text2imu.benchmark.modes.CALIBRATION_SEED`). It is needed by mode
calibrated; in the other modes it is allowed and recorded: those subjects are then never tested (real and mixed
may train on them), so that every row of a table is scored on the same subjects.
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from text2imu.builder.errors import Text2ImuError

log = logging.getLogger(__name__)


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "benchmark",
        help="train DeepConvLSTM (or rf-ecdf) on a synthetic corpus (or real / mixed / calibrated), test on real "
        "data",
        description="Protocol v1: 2 s windows (40 samples at 20 Hz, 50 % overlap) of acc + gyro at one site; "
        "DeepConvLSTM trained on the corpus only (early stopping on held-out prompts, standardised with synthetic "
        "statistics), tested on every real window of the shared activities; N seeds; balanced accuracy, macro-F1, "
        "per-class recall, confusion matrices. With --reference: chance and the ceiling (DeepConvLSTM trained on "
        "the real data in folds grouped by subject). --mode real|mixed|calibrated and --model rf-ecdf: the IMUGPT "
        "evaluation (see text2imu.benchmark.modes); calibration subjects are never tested. Writes one results JSON "
        "(schema v1).",
    )
    p.add_argument("corpus", nargs="?", help="corpus folder written by `text2imu build` (or a Hub dataset repo id); "
                   "optional in --mode real, where it only chooses the classes (those it shares with the real data)")
    p.add_argument("--real", required=True, help="real dataset: uci-hapt, realworld, pamap2 or usc-had")
    p.add_argument("--data", type=Path, help="real dataset path in its official layout (default for uci-hapt: "
                   "the bundled HAPT waist set)")
    p.add_argument("--site", help="corpus site, e.g. hapt.waist (all its <site>-<shape> configs are pooled)")
    p.add_argument("--real-site", help="site of the real data (default: --site if the dataset has it, else its "
                   "only site)")
    p.add_argument("--revision", help="corpus revision (Hub tag or commit; recorded for a folder)")
    p.add_argument("--reference", action="store_true", help="compute the reference rows of --real instead")
    p.add_argument("--mode", help="training mode: synthetic (protocol v1, default), real, mixed or calibrated")
    p.add_argument("--model", help="classifier: deepconvlstm (default) or rf-ecdf (random forest on ECDF features)")
    p.add_argument("--real-fraction", help="share in (0, 1] of each fold's real training subjects used (modes real "
                   "and mixed; default 1)")
    p.add_argument("--calibration-subjects", help="real subjects for calibration, never tested: a comma list of "
                   "ids (1,5,9; one subject: 5) or random:K (K subjects drawn with a fixed seed)")
    p.add_argument("--test-subjects", help="comma list of the real subjects to test (default: every subject that is "
                   "not a calibration subject)")
    p.add_argument("--folds", help="subject folds of --reference and of modes real and mixed: a number k (grouped "
                   "k-fold by subject) or loso (default: 5 for deepconvlstm and --reference, loso for rf-ecdf)")
    p.add_argument("--seeds", type=int, default=10, help="number of seeds 0..N-1 (default 10)")
    p.add_argument("--epochs", type=int, help="maximum training epochs (default: the protocol's, 8)")
    p.add_argument("--patience", type=int, help="early-stopping patience in epochs (default 3)")
    p.add_argument("--batch-size", type=int, help="mini-batch size (default 100)")
    p.add_argument("--threads", type=int, default=2, help="torch threads per seed (default 2; waiting OpenMP "
                   "threads spin briefly: GOMP_SPINCOUNT=1000 unless it or OMP_WAIT_POLICY is set)")
    p.add_argument("--backend", choices=("local", "dask"), default="local", help="where seeds run (default local)")
    p.add_argument("--scheduler", help="Dask scheduler address for --backend dask")
    p.add_argument("--jobs", type=int, help="seeds at once on the local backend (default cpu_count // threads)")
    p.add_argument("--out", type=Path, required=True, help="results JSON (or an existing folder: default name)")
    p.add_argument("--force", action="store_true", help="overwrite an existing results file")
    p.set_defaults(func=cmd_benchmark)


def protocol_of(threads: int, epochs: int | None = None, patience: int | None = None,
                batch_size: int | None = None):
    """Protocol v1 with ``threads`` and the training options that were given (None: the protocol's)."""
    from dataclasses import replace

    from .deepconvlstm import TrainConfig
    from .protocol import Protocol

    changes = {k: v for k, v in (("epochs", epochs), ("patience", patience), ("batch_size", batch_size))
               if v is not None}
    return Protocol(train=replace(TrainConfig(), threads=threads, **changes))


def _protocol(args: argparse.Namespace):
    return protocol_of(args.threads, args.epochs, args.patience, args.batch_size)


def _subject_list(text: str, option: str) -> tuple[str, ...]:
    items = tuple(t.strip() for t in text.split(",") if t.strip())
    if not items:
        raise Text2ImuError(f"{option} needs subject ids, got {text!r}")
    return items


def parse_calibration_subjects(text: str) -> tuple[str, ...] | int:
    """``--calibration-subjects``: ``random:K`` -> K (an int >= 1: draw K subjects); else the comma list of ids."""
    value = text.strip()
    if value.lower().startswith("random:"):
        k = value.split(":", 1)[1].strip()
        if not k.isdigit() or int(k) < 1:
            raise Text2ImuError(f"--calibration-subjects random:K needs a whole number K >= 1, got {text!r}")
        return int(k)
    return _subject_list(value, "--calibration-subjects")


def _setup(args: argparse.Namespace):
    """The :class:`~text2imu.benchmark.modes.ModeSetup` of the options (names checked, "did you mean")."""
    from .modes import ModeSetup, check_fraction

    cal: tuple[str, ...] | int = ()
    text = args.calibration_subjects
    if text is not None:
        cal = parse_calibration_subjects(text)
    fraction = 1.0 if args.real_fraction is None else check_fraction(args.real_fraction)
    return ModeSetup(
        mode=args.mode or "synthetic",
        model=args.model or "deepconvlstm",
        real_fraction=fraction,
        calibration_subjects=cal,
        test_subjects=_subject_list(args.test_subjects, "--test-subjects") if args.test_subjects else None,
        folds=args.folds,
    )


def _check_args(args: argparse.Namespace) -> None:
    if args.seeds < 1:
        raise Text2ImuError(f"--seeds must be at least 1, got {args.seeds}")
    if args.threads < 1:
        raise Text2ImuError(f"--threads must be at least 1, got {args.threads}")
    if args.jobs is not None and args.jobs < 1:
        raise Text2ImuError(f"--jobs must be at least 1, got {args.jobs}")
    if args.backend == "dask" and not args.scheduler:
        raise Text2ImuError("--backend dask needs --scheduler ADDRESS")
    if args.backend == "local" and args.scheduler:
        raise Text2ImuError("--scheduler is only used with --backend dask")
    mode_options = ("mode", "model", "real_fraction", "calibration_subjects", "test_subjects")
    if args.reference:
        if args.corpus:
            raise Text2ImuError("--reference computes rows of the real dataset alone; leave out CORPUS")
        given = [f"--{o.replace('_', '-')}" for o in mode_options if getattr(args, o) is not None]
        if given:
            raise Text2ImuError(f"--reference takes no {', '.join(given)} (use --mode real for a real-data row)")
    else:
        if not args.corpus and args.mode != "real":
            raise Text2ImuError("CORPUS is required (or pass --reference)")
        if args.corpus and not args.site:
            raise Text2ImuError("--site is required, e.g. --site hapt.waist")


def _out_path(out: Path, task: dict, force: bool) -> Path:
    from .results import default_file_name

    path = out / default_file_name(task) if out.is_dir() else out
    if path.exists() and not force:
        raise Text2ImuError(f"{path} exists; pass --force to overwrite it")
    return path


def short_openmp_spin() -> bool:
    """Let waiting OpenMP threads spin briefly, then sleep (``GOMP_SPINCOUNT=1000``; libgomp's default spins
    about 300,000 times), unless the user set ``GOMP_SPINCOUNT`` or ``OMP_WAIT_POLICY``. Effective only before torch
    is first imported (OpenMP reads it once); returns whether it was set.

    Why (tests/perf/perf_training.py, 2 cores, 2 threads, training windows/s): idle machine 1,455 with the default
    spin, 1,265 with 1,000, 982 passive; with other processes on the cores (load average 4-7) the default collapses
    to about 60 (a spinning thread starves the one holding the work) against about 440 with 1,000.
    """
    import os
    import sys

    if "torch" in sys.modules or "OMP_WAIT_POLICY" in os.environ or "GOMP_SPINCOUNT" in os.environ:
        return False
    os.environ["GOMP_SPINCOUNT"] = "1000"
    return True


def cmd_benchmark(args: argparse.Namespace) -> int:
    short_openmp_spin()
    from .inputs import real_dataset_name
    from .results import write_results
    from .run import benchmark_corpus, default_jobs, reference_rows

    _check_args(args)
    dataset = real_dataset_name(args.real)
    import datasets

    datasets.disable_progress_bars()  # its per-config bars would bury our output; we log instead
    if args.site:
        from text2imu.builder.vocab import check_site

        check_site(args.site)
    if not args.out.is_dir() and args.out.exists() and not args.force:
        raise Text2ImuError(f"{args.out} exists; pass --force to overwrite it")
    protocol = _protocol(args)
    setup = None if args.reference else _setup(args)
    jobs = args.jobs or default_jobs(args.threads)
    common = dict(
        seeds=range(args.seeds), protocol=protocol, backend=args.backend, scheduler=args.scheduler, jobs=jobs
    )
    if args.reference:
        results = reference_rows(dataset, args.data, args.real_site or args.site, folds=args.folds or "5", **common)
    else:
        results = benchmark_corpus(
            args.corpus, args.site, dataset, args.data, args.real_site, args.revision, **common, setup=setup
        )
    path = write_results(_out_path(args.out, results["task"], args.force), results)
    bacc = results["summary"]["balanced_accuracy"]
    chance = results["reference"]["chance"]["balanced_accuracy"]
    label = "ceiling" if args.reference else (results["task"]["generator"] or "real data")
    if setup is not None and not setup.is_protocol_v1:
        label = f"{label} ({setup.mode}, {setup.model})"
    lo, hi = bacc["ci95"]
    print(
        f"{label} on {dataset} ({results['task']['real_site']}), {len(results['classes'])} classes: balanced "
        f"accuracy {bacc['mean']:.3f} +- {bacc['std']:.3f} (95% CI {lo:.3f}-{hi:.3f}, {bacc['n']} seeds; "
        f"chance {chance:.3f}); wrote {path}"
    )
    return 0
