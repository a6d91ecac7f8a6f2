"""Speed of protocol v1 training on the CPU with 2 torch threads: training and inference windows per second, and
the time of one full seed on a corpus of release-v0.1.0 size against the bundled UCI HAPT set.

Run: ``.venv/bin/python -m pytest -s -m perf tests/perf/perf_training.py`` (prints figures, asserts none).

- ``test_training_windows_per_second``: DeepConvLSTM (6 channels, 6 classes, 40-sample windows), batch 100, Adam;
  best of 3 timed epochs over 4,000 windows (the content of a window does not change the work), each setting in a
  fresh interpreter: 2 threads with libgomp's default waiting, with ``OMP_WAIT_POLICY=PASSIVE`` and with shorter
  ``GOMP_SPINCOUNT`` values, and 1 thread. Also the inference rate
  (batches of 2,048) and the estimate of a full run: a v0.1.0 site holds 800 motions x 8 shapes of 3-10 s
  (taken as evenly spread), HAPT shares 6 of the 8 activities, 20 % of the prompts are held out.
- ``test_one_full_seed``: builds a corpus of that size with ``text2imu build kinematic`` (hapt.waist, the eight
  shapes, 10 repetitions of the 80 prompts; or uses the folder in TEXT2IMU_PERF_CORPUS), then runs
  ``benchmark_corpus`` for one seed (TEXT2IMU_PERF_SEEDS to change) exactly as ``text2imu benchmark`` does
  (datasets loading, protocol v1 defaults, 2 threads) against the bundled HAPT set, and prints where the time
  went.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from text2imu.benchmark.deepconvlstm import TrainConfig, predict, train_deepconvlstm
from text2imu.benchmark.windows import n_windows

pytestmark = pytest.mark.perf

THREADS = 2
MOTIONS_PER_SHAPE = 800
SHAPES = 8
SECONDS = (3.0, 10.0)
HAPT_SHARED = 6
# OpenMP wait settings compared (libgomp: spin ~300,000 iterations at a barrier by default, then sleep)
WAIT_SETTINGS = (("OMP_WAIT_POLICY", "PASSIVE"), ("GOMP_SPINCOUNT", "10000"), ("GOMP_SPINCOUNT", "1000"))
HAPT_WINDOWS = 13_738  # bundled HAPT windows (2 s, 50 % overlap) of its six activities (test_one_full_seed prints it)


def v010_site_windows() -> int:
    """Windows of one v0.1.0 site: 800 motions x 8 shapes, durations evenly spread over 3-10 s at 20 Hz."""
    durations = np.linspace(*SECONDS, MOTIONS_PER_SHAPE)
    per_motion = sum(n_windows(int(round(20 * d)) + 1, 40, 20) for d in durations)
    return per_motion * SHAPES


def training_rate(threads: int, n: int = 4000, repeats: int = 3) -> list[float]:
    """Training windows/s of ``repeats`` one-epoch runs over ``n`` random windows (after a warm-up)."""
    torch.set_num_threads(threads)
    rng = np.random.default_rng(0)
    x = rng.standard_normal((n, 40, 6)).astype(np.float32)
    y = rng.integers(0, HAPT_SHARED, n)
    config = TrainConfig(epochs=1, threads=threads)
    train_deepconvlstm(x[:500], y[:500], HAPT_SHARED, 0, config)  # warm-up
    rates = []
    for rep in range(repeats):
        trained = train_deepconvlstm(x, y, HAPT_SHARED, rep, config)
        rates.append(trained.windows_trained / trained.train_s)
    return rates


def inference_rate(threads: int, n: int = 8192) -> float:
    """Best of 3 inference rates (windows/s) over ``n`` random windows in batches of 2,048."""
    torch.set_num_threads(threads)
    from text2imu.benchmark.deepconvlstm import DeepConvLSTM

    model = DeepConvLSTM(6, HAPT_SHARED, 40)
    x = np.random.default_rng(1).standard_normal((n, 40, 6)).astype(np.float32)
    predict(model, x[:2048])  # warm-up with the batch shape of the timed runs (oneDNN builds kernels per shape)
    best = 0.0
    for _ in range(3):
        start = time.perf_counter()
        predict(model, x)
        best = max(best, n / (time.perf_counter() - start))
    return best


def _in_subprocess(threads: int, env: dict[str, str]) -> list[float]:
    """:func:`training_rate` in a fresh interpreter (OpenMP reads its environment once, at start-up)."""
    code = (
        "import sys, json; sys.path.insert(0, sys.argv[1]); import perf_training as p; "
        "print(json.dumps(p.training_rate(int(sys.argv[2]))))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, str(Path(__file__).parent), str(threads)],
        env={**{k: v for k, v in os.environ.items() if k not in ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT")}, **env},
        capture_output=True, text=True, check=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_training_windows_per_second():
    load = os.getloadavg()[0]
    print(f"\ntorch {torch.__version__}, {os.cpu_count()} CPUs, load average {load:.2f} before the run "
          "(other processes slow these figures down; OpenMP's spinning makes 2 threads suffer most)")
    rates = {}
    settings = [("2 threads", 2, {})]
    settings += [(f"2 threads, {k}={v}", 2, {k: v}) for k, v in WAIT_SETTINGS]
    settings += [("1 thread", 1, {})]
    for label, threads, env in settings:
        rates[label] = _in_subprocess(threads, env)
        print(f"training, {label}: {max(rates[label]):,.0f} windows/s (best of 3 epochs of 4,000 windows, batch "
              f"100; all: {', '.join(f'{r:,.0f}' for r in rates[label])})")
    train_rate = max(rates["2 threads"])
    infer_rate = inference_rate(THREADS)
    print(f"inference, 2 threads: {infer_rate:,.0f} windows/s (best of 3 passes over 8,192 windows)")
    config = TrainConfig()
    site = v010_site_windows()
    shared = site * HAPT_SHARED / 8
    fit = shared * 0.8
    seed_s = config.epochs * (fit / train_rate + (shared - fit) / infer_rate) + HAPT_WINDOWS / infer_rate
    print(f"v0.1.0 site (800 motions x 8 shapes, 3-10 s): {site:,} windows; HAPT's 6 classes {shared:,.0f}, "
          f"{fit:,.0f} for fitting")
    print(f"estimate at 2 threads, {config.epochs} epochs without early stop: {seed_s:,.0f} s per seed, "
          f"{10 * seed_s / 60:,.1f} min for 10 seeds (plus loading)")


def test_one_full_seed(tmp_path):
    """Environment: TEXT2IMU_PERF_CORPUS, a corpus folder to use (default: build one here with the kinematic
    generator, hapt.waist, the eight shapes, 10 repetitions of the 80 prompts); TEXT2IMU_PERF_SEEDS (default 1)."""
    import datasets

    from text2imu.benchmark.protocol import Protocol
    from text2imu.benchmark.run import benchmark_corpus
    from text2imu.cli import main

    datasets.disable_progress_bars()
    corpus = os.environ.get("TEXT2IMU_PERF_CORPUS")
    n_seeds = int(os.environ.get("TEXT2IMU_PERF_SEEDS", "1"))
    if not corpus:
        corpus = str(tmp_path / "kinematic")
        start = time.perf_counter()
        argv = ["build", "kinematic", "--out", corpus, "--sites", "hapt.waist", "--repetitions", "10",
                "--workers", "1", "--no-progress"]
        assert main(argv) == 0
        print(f"\nbuilt {corpus} in {time.perf_counter() - start:.0f} s")
    result = benchmark_corpus(corpus, "hapt.waist", "uci_hapt", seeds=range(n_seeds), protocol=Protocol(
        train=TrainConfig(threads=THREADS)), jobs=1, progress=False)
    t = result["timings"]
    print(f"\nload average {os.getloadavg()[0]:.2f}; corpus {result['corpus']['n_recordings']:,} recordings, "
          f"{result['corpus']['n_windows']:,} windows ({len(result['corpus']['configs'])} configs), loaded in "
          f"{t['load_corpus_s']:.1f} s; HAPT {result['real']['n_windows_shared_classes']:,} windows in "
          f"{t['load_real_s']:.1f} s")
    for seed in result["scores_per_seed"]:
        print(f"seed {seed['seed']}: {seed['timings']['total_s']:.0f} s (train {seed['timings']['train_s']:.0f} s, "
              f"{seed['training']['epochs_run']} epochs of {seed['training']['n_train_windows']:,} windows, "
              f"{seed['training']['train_windows_per_s']:,.0f} windows/s incl. validation; eval "
              f"{seed['timings']['eval_s']:.1f} s); balanced accuracy {seed['balanced_accuracy']:.3f}")
    print(f"{n_seeds} seed(s): {t['total_s'] / 60:.1f} min in all; 10 seeds ~ "
          f"{(t['total_s'] - t['seeds_s'] + 10 * t['mean_seed_s']) / 60:.1f} min")
