"""The command line: --version, --help everywhere, one-line user errors with exit 2, did you mean."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

import text2imu
from text2imu.cli import build_parser, main


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "text2imu", *args], capture_output=True, text=True, timeout=300)


def _all_subcommand_paths(parser, prefix=()):
    import argparse

    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield (*prefix, name)
                yield from _all_subcommand_paths(sub, (*prefix, name))


def test_version(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["--version"])
    assert exc.value.code == 0
    assert text2imu.__version__ in capsys.readouterr().out


def test_help_on_every_subcommand(capsys):
    paths = list(_all_subcommand_paths(build_parser()))
    assert ("motion", "info") in paths and ("motion", "convert") in paths
    for path in paths:
        with pytest.raises(SystemExit) as exc:
            main([*path, "--help"])
        assert exc.value.code == 0, path
        assert "usage: text2imu" in capsys.readouterr().out


def test_unknown_subcommand_did_you_mean():
    res = run_cli("motoin")
    assert res.returncode == 2
    assert "Did you mean: motion?" in res.stderr


def test_motion_info_real_sample(humanml3d_sample):
    res = run_cli("motion", "info", str(humanml3d_sample / "new_joints_012314.npy"))
    assert res.returncode == 0, res.stderr
    assert "frames      170" in res.stdout and "fps         20" in res.stdout
    assert "duration    8.45 s" in res.stdout and "verdict     valid" in res.stdout


def test_user_error_is_one_line_exit_2(tmp_path):
    missing = tmp_path / "nope.npy"
    res = run_cli("motion", "info", str(missing))
    assert res.returncode == 2
    assert "Traceback" not in res.stderr
    assert res.stderr.strip().count("\n") == 0 and "nope.npy" in res.stderr


def test_motion_info_flags_invalid_motion(tmp_path, capsys):
    bad = np.zeros((10, 22, 3), dtype=np.float32)
    bad[3, 4, 0] = np.nan
    path = tmp_path / "bad.npy"
    np.save(path, bad)
    assert main(["motion", "info", str(path)]) == 1
    assert "INVALID" in capsys.readouterr().out


def test_motion_convert_to_humanml3d_joints(humanml3d_sample, tmp_path):
    out = tmp_path / "clip.npy"
    src = humanml3d_sample / "new_joints_012314.npy"
    assert main(["motion", "convert", str(src), "--to", "humanml3d-joints", str(out)]) == 0
    got = np.load(out)
    ref = np.load(src)
    # new_joints are already in HumanML3D's canonical form: converting loses the last frame (velocities)
    # and otherwise reproduces them.
    assert got.shape == (169, 22, 3) and got.dtype == np.float32
    np.testing.assert_allclose(got, ref[:-1], atol=2e-3)
    # refuses to overwrite
    assert main(["motion", "convert", str(src), "--to", "humanml3d-joints", str(out)]) == 2


def test_motion_convert_bad_input_writes_nothing(tmp_path):
    bad = np.zeros((30, 22, 3), dtype=np.float32)
    bad[5, 0, 0] = np.inf
    src = tmp_path / "bad.npy"
    np.save(src, bad)
    out = tmp_path / "out.npy"
    assert main(["motion", "convert", str(src), "--to", "joints-npz", str(out)]) == 2
    assert not out.exists() and sorted(p.name for p in tmp_path.iterdir()) == ["bad.npy"]
