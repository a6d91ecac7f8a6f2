"""HumanML3D Mean/Std and the folder reader/writer (official layout, FORMATS.md 4.1-4.6)."""

from __future__ import annotations

import numpy as np
import pytest
from fixtures.humanml3d_gait import gait

from text2imu.builder import humanml3d as h
from text2imu.builder.errors import FormatError, MotionError, Text2ImuError, UnknownNameError
from text2imu.builder.humanml3d import (
    FEATURE_SLICES,
    Caption,
    HumanML3DFolder,
    HumanML3DItem,
    feature_mean_std,
    features_to_joints,
    joints_to_features,
    write_humanml3d_folder,
)

# ------------------------------------------------------------------------------------------ Mean/Std


def test_mean_std_flattens_std_per_group_and_skips_nan():
    rng = np.random.default_rng(1)
    scales = rng.uniform(0.1, 2.0, size=263)
    arrays = [rng.normal(size=(200, 263)) * scales + 3.0 for _ in range(3)]
    with_nan = arrays[0].copy()
    with_nan[5, 100] = np.nan
    mean, std = feature_mean_std(arrays + [with_nan * 1000])
    pooled = np.concatenate(arrays)
    np.testing.assert_allclose(mean, pooled.mean(axis=0), rtol=1e-6)
    raw = pooled.std(axis=0)
    for sl in FEATURE_SLICES.values():
        np.testing.assert_allclose(std[sl], raw[sl].mean(), rtol=1e-6)
    assert mean.dtype == std.dtype == np.float32
    # groups really differ (a single global flattening would fail this)
    assert np.ptp([std[sl][0] for sl in FEATURE_SLICES.values()]) > 0.05
    with pytest.raises(MotionError):
        feature_mean_std([np.zeros((3, 260))])


# ------------------------------------------------------------------------------------- folder layout

CAPS = [
    Caption("a person walks forward.", ("a/DET", "person/NOUN", "walk/VERB", "forward/ADV")),
    Caption("someone strolls ahead", ("someone/PRON", "stroll/VERB", "ahead/ADV"), 0.5, 3.0),
]


@pytest.fixture()
def folder(tmp_path):
    items = [
        HumanML3DItem("000001", CAPS, joints_m=gait(n=60), split="train"),
        HumanML3DItem("M000001", CAPS[:1], joints_m=gait(n=50, turn_radps=-0.5), split="train"),
        HumanML3DItem("000002", CAPS[1:], joints_m=gait(n=45, twist_rad=0.3), split="val"),
        HumanML3DItem(
            "000003", CAPS, features=joints_to_features(gait(n=70)).astype(np.float64), split="test"
        ),
    ]
    root = write_humanml3d_folder(tmp_path / "HumanML3D", items)
    return root, items


def test_written_folder_has_the_official_layout(folder):
    root, items = folder
    for sub in ("new_joints", "new_joint_vecs", "texts"):
        assert sorted(p.stem for p in (root / sub).iterdir()) == sorted(it.id for it in items)
    assert (root / "train.txt").read_text() == "000001\nM000001\n"
    assert (root / "all.txt").read_text().split() == [it.id for it in items]
    assert (root / "train_val.txt").read_text().split() == ["000001", "M000001", "000002"]
    line = (root / "texts" / "000002.txt").read_text()
    assert line == "someone strolls ahead#someone/PRON stroll/VERB ahead/ADV#0.5#3.0\n"
    assert np.load(root / "new_joint_vecs" / "000003.npy").dtype == np.float32


def test_folder_reader_round_trip(folder):
    root, items = folder
    ds = HumanML3DFolder(root)
    assert ds.split("test") == ["000003"] and ds.split("val") == ["000002"]
    assert ds.captions("000001") == CAPS
    m = ds.motion("000002")
    assert m.fps == 20 and m.prompt == "someone strolls ahead" and m.n_frames == 44
    np.testing.assert_allclose(m.joints_m, h.to_humanml3d_joints(items[2].joints_m), atol=1e-6)
    f = ds.features("M000001")
    assert f.shape == (49, 263) and f.dtype == np.float32
    np.testing.assert_allclose(features_to_joints(f), ds.joints("M000001"), atol=1e-6)
    mean, std = feature_mean_std([ds.features(i) for i in ds.split("all")])
    np.testing.assert_array_equal(ds.mean(), mean)
    np.testing.assert_array_equal(ds.std(), std)


def test_caption_parsing_nan_and_segments(folder):
    root, _ = folder
    (root / "texts" / "000001.txt").write_text(
        "a man kicks.#a/DET man/NOUN kick/VERB#nan#nan\n\nhe jumps#he/PRON jump/VERB#1.5#4.25\n"
    )
    caps = HumanML3DFolder(root).captions("000001")
    assert caps == [
        Caption("a man kicks.", ("a/DET", "man/NOUN", "kick/VERB"), 0.0, 0.0),
        Caption("he jumps", ("he/PRON", "jump/VERB"), 1.5, 4.25),
    ]
    assert caps[0].whole_clip and not caps[1].whole_clip


def write_bad(root, rel, content):
    path = root / rel
    if isinstance(content, np.ndarray):
        np.save(path, content)
    else:
        path.write_text(content)
    return path


@pytest.mark.parametrize(
    "rel, content, call, needle",
    [
        ("texts/000001.txt", "a person walks forward/ADV 0.0 0.0\n", "captions", "4 '#'-separated"),
        ("texts/000001.txt", "walks#walk/VERB#soon#0.0\n", "captions", "not a number"),
        ("texts/000001.txt", "\n\n", "captions", "no caption"),
        ("new_joints/000001.npy", np.zeros((10, 21, 3), np.float32), "joints", "expected (T, 22, 3)"),
        ("new_joints/000001.npy", np.zeros((0, 22, 3), np.float32), "joints", "expected (T, 22, 3)"),
        ("new_joint_vecs/000001.npy", np.zeros((10, 262), np.float32), "features", "expected (T, 263)"),
        ("new_joint_vecs/000001.npy", np.full((10, 263), np.nan, np.float32), "features", "NaN"),
        ("new_joints/000001.npy", "not numpy", "joints", "readable .npy"),
    ],
)
def test_malformed_files_raise_format_error_naming_the_file(folder, rel, content, call, needle):
    root, _ = folder
    path = write_bad(root, rel, content)
    with pytest.raises(FormatError) as err:
        getattr(HumanML3DFolder(root), call)("000001")
    assert str(path) in str(err.value) and needle in str(err.value)


def test_missing_files_raise_format_error(folder, tmp_path):
    root, _ = folder
    with pytest.raises(FormatError, match="folder not found"):
        HumanML3DFolder(tmp_path / "nowhere")
    (root / "texts" / "000002.txt").unlink()
    ds = HumanML3DFolder(root)
    with pytest.raises(FormatError, match=r"000002\.txt: caption file missing"):
        ds.motion("000002")
    with pytest.raises(FormatError, match="motion file missing"):
        ds.joints("999999")
    (root / "val.txt").unlink()
    with pytest.raises(FormatError, match=r"val\.txt: split file missing"):
        ds.split("val")
    with pytest.raises(UnknownNameError, match="Did you mean: test"):
        ds.split("tset")
    (root / "Mean.npy").unlink()
    with pytest.raises(FormatError, match="Mean.npy"):
        ds.mean()
    np.save(root / "Std.npy", np.ones(262, np.float32))
    with pytest.raises(FormatError, match=r"shape \(262,\)"):
        ds.std()
    for p in (root / "new_joint_vecs").iterdir():
        p.unlink()
    (root / "new_joint_vecs").rmdir()
    with pytest.raises(FormatError, match="new_joint_vecs: folder missing"):
        ds.features("000001")


def test_writer_rejects_bad_items(tmp_path):
    p = gait(n=20)
    with pytest.raises(Text2ImuError, match="repeated"):
        write_humanml3d_folder(
            tmp_path, [HumanML3DItem("a", CAPS, joints_m=p), HumanML3DItem("a", CAPS, joints_m=p)]
        )
    with pytest.raises(Text2ImuError, match="exactly one"):
        write_humanml3d_folder(tmp_path, [HumanML3DItem("a", CAPS, joints_m=p, features=np.zeros((3, 263)))])
    with pytest.raises(UnknownNameError):
        write_humanml3d_folder(tmp_path, [HumanML3DItem("a", CAPS, joints_m=p, split="dev")])
    with pytest.raises(Text2ImuError, match="'#'"):
        write_humanml3d_folder(tmp_path, [HumanML3DItem("a", [Caption("walk #1")], joints_m=p)])
