"""Distributed and interrupted builds: a real Dask LocalCluster, and a build killed midway then resumed."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from fixtures.corpus import TINY, assert_same_tree, tiny

from text2imu.builder.corpus import STAGING, build_corpus

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[1]


@pytest.mark.filterwarnings("ignore::DeprecationWarning", "ignore::ResourceWarning")
def test_dask_local_cluster_gives_the_local_bytes(tmp_path):
    from distributed import LocalCluster

    local = tmp_path / "local"
    build_corpus(TINY, local, workers=1, progress=False)
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None,
                      worker_dashboard_address=None) as cluster:
        out = tmp_path / "dask"
        result = build_corpus(TINY, out, backend="dask", scheduler=cluster.scheduler_address, progress=False)
    assert result.units_run == 4
    assert_same_tree(out, local)


def test_unreachable_scheduler_is_a_clear_error_and_writes_nothing(tmp_path, monkeypatch):
    import socket

    from text2imu.builder import corpus_backends
    from text2imu.builder.errors import Text2ImuError

    monkeypatch.setattr(corpus_backends, "DASK_CONNECT_TIMEOUT", "1s")
    with socket.socket() as s:  # a port that nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    out = tmp_path / "never"
    with pytest.raises(Text2ImuError, match="cannot reach the Dask scheduler"):
        build_corpus(TINY, out, backend="dask", scheduler=f"tcp://127.0.0.1:{port}", progress=False)
    assert not out.exists()


# 8 prompts x 4 repetitions = 32 units of ~25 ms each: a build long enough to be killed midway
KILL_PROMPTS = ("climbingdown-01", "climbingup-01", "jumping-01", "lying-01", "running-01", "sitting-01",
                "standing-01", "walking-01")
KILL_SPEC = tiny(prompt_ids=KILL_PROMPTS, repetitions=4, shapes=("male_average",),
                 sites=("realworld.waist", "realworld.shin"))


def _start(out: Path, *extra: str) -> subprocess.Popen:
    cmd = [sys.executable, "-m", "text2imu", "build", "kinematic", "--prompts", ",".join(KILL_PROMPTS),
           "--repetitions", "4", "--shapes", "male_average", "--sites", "realworld.waist,realworld.shin",
           "--workers", "1", "--no-progress", "--out", str(out), *extra]
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=REPO)


def test_killed_build_resumes_to_the_same_bytes(tmp_path):
    reference = tmp_path / "reference"
    build_corpus(KILL_SPEC, reference, progress=False)
    out = tmp_path / "killed"
    parts = out / STAGING / "parts"
    proc = _start(out)
    staged = 0
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None:
        staged = len(list(parts.glob("*.arrow"))) if parts.is_dir() else 0
        if staged >= 3:
            os.kill(proc.pid, signal.SIGKILL)
            break
        time.sleep(0.002)
    proc.communicate(timeout=60)
    assert proc.returncode == -signal.SIGKILL, "the build ended before it could be killed"
    staged = len(list(parts.glob("*.arrow")))
    assert 3 <= staged < 32
    assert not (out / "manifest.json").exists() and not (out / "README.md").exists()
    resumed = _start(out, "--resume")
    _, err = resumed.communicate(timeout=300)
    assert resumed.returncode == 0, err
    assert f"{staged} already staged, {32 - staged} to run" in err
    assert_same_tree(out, reference)
