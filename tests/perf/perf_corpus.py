"""Corpus build speed (2 workers) and peak memory at two corpus sizes, through the ``text2imu build`` command.

Run: ``make perf`` or ``.venv/bin/python -m pytest -s -m perf tests/perf/perf_corpus.py`` (prints, asserts nothing).

- Speed: the v0.1.0-sized corpus of the kinematic generator (80 prompts x 10 repetitions x 8 shapes x the seven
  RealWorld sites + hapt.waist = 51,200 recordings) with ``--workers 2``: wall time, recordings per second, the
  time in units and in shards + card, size on disk. ``TEXT2IMU_PERF_REPETITIONS`` (default 10) sets the
  repetitions (1 gives a tenth of the corpus).
- Memory: peak resident memory (RSS) of the build's main process and of the whole process tree (main + pool
  workers, sampled every 20 ms with psutil) for 1 and 4 repetitions (5,120 and 20,480 recordings), 2 workers.
  Flat memory means the peaks barely move while the corpus grows fourfold.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

pytestmark = pytest.mark.perf


def build(out: Path, repetitions: int, workers: int = 2) -> dict:
    """Run ``text2imu build kinematic`` (v0.1.0 shapes and sites) and sample its memory; returns figures."""
    cmd = [sys.executable, "-m", "text2imu", "build", "kinematic", "--repetitions", str(repetitions),
           "--shapes", "all", "--sites", "realworld,hapt.waist", "--workers", str(workers), "--no-progress",
           "--out", str(out)]
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    main = psutil.Process(proc.pid)
    peak_main = peak_tree = 0
    while proc.poll() is None:
        try:
            procs = [main, *main.children(recursive=True)]
            rss = []
            for p in procs:
                try:
                    rss.append(p.memory_info().rss)
                except psutil.Error:
                    rss.append(0)
            peak_main, peak_tree = max(peak_main, rss[0]), max(peak_tree, sum(rss))
        except psutil.Error:
            pass
        time.sleep(0.02)
    stdout, stderr = proc.communicate()
    wall_s = time.perf_counter() - start
    if proc.returncode != 0:
        raise RuntimeError(f"build failed: {stderr[-2000:]}")
    manifest = json.loads((out / "manifest.json").read_text())
    split = re.search(r"units ([\d.]+) s, shards and card ([\d.]+) s", stderr)
    size = sum(p.stat().st_size for p in out.rglob("*") if p.is_file())
    return {"recordings": manifest["recordings"], "wall_s": wall_s, "units_s": float(split.group(1)),
            "assemble_s": float(split.group(2)), "bytes": size, "files": len(manifest["files"]) + 1,
            "peak_main_mib": peak_main / 2**20, "peak_tree_mib": peak_tree / 2**20}


def test_build_speed_two_workers(tmp_path):
    reps = int(os.environ.get("TEXT2IMU_PERF_REPETITIONS", "10"))
    r = build(tmp_path / "corpus", reps)
    print(f"\ncorpus build, kinematic, 80 prompts x {reps} repetitions x 8 shapes x 8 sites, 2 workers "
          f"(CPUs here: {os.cpu_count()}):")
    print(f"  recordings        {r['recordings']}")
    print(f"  wall time         {r['wall_s']:.1f} s (units {r['units_s']:.1f} s, shards + card {r['assemble_s']:.1f} s,"
          f" rest is start-up)")
    print(f"  recordings/s      {r['recordings'] / r['wall_s']:.0f}")
    print(f"  size on disk      {r['bytes'] / 2**20:.1f} MiB in {r['files']} files")
    print(f"  peak RSS          main {r['peak_main_mib']:.0f} MiB, all processes {r['peak_tree_mib']:.0f} MiB")


def test_peak_memory_is_flat_in_corpus_size(tmp_path):
    print("\npeak RSS of `text2imu build kinematic` (8 shapes x 8 sites, 2 workers):")
    print("  recordings   main MiB   all processes MiB   wall s")
    for reps in (1, 4):
        r = build(tmp_path / f"corpus-{reps}", reps)
        print(f"  {r['recordings']:>10}   {r['peak_main_mib']:>8.0f}   {r['peak_tree_mib']:>17.0f}   "
              f"{r['wall_s']:>6.1f}")
