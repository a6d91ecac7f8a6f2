"""MDM results.npy, MoMask and T2M-GPT output readers, on files written in the official layouts."""

from __future__ import annotations

import numpy as np
import pytest
from fixtures.motion_files import walking, write_mdm_results, write_momask_generation, write_t2m_gpt_outputs

from text2imu.builder.errors import FormatError, MotionError
from text2imu.builder.formats import detect_format, read_motions

TEXTS = ["a person walks forward", "a person jumps in place", "someone runs"]


# --------------------------------------------------------------------------------------------------- MDM


def test_results_npy_as_generate_py_writes_it(tmp_path):
    lengths = [48, 40, 44, 48, 36, 48]
    path, expected = write_mdm_results(
        tmp_path / "samples", TEXTS, num_repetitions=2, n_frames=48, lengths=lengths
    )
    assert detect_format(path).name == "mdm-results"
    assert detect_format(path.parent).name == "mdm-results"
    motions = read_motions(path)
    assert len(motions) == 6
    for index, (m, exp) in enumerate(zip(motions, expected, strict=True)):
        rep, sample = divmod(index, 3)  # repetition-major
        assert (m.metadata["sample"], m.metadata["repetition"], m.metadata["index"]) == (sample, rep, index)
        assert m.prompt == TEXTS[sample]
        assert m.n_frames == lengths[index]  # cut to its length
        np.testing.assert_array_equal(m.joints_m, exp)
        assert m.fps == 20.0
    # the folder reads the same
    again = read_motions(path.parent)
    assert [m.metadata["index"] for m in again] == list(range(6))
    assert read_motions(path, fps=12.5)[0].fps == 12.5


def _save_dict(path, **entries):
    np.save(path, entries)
    return path


def test_action_model_smpl_24_joints_keeps_the_first_22(tmp_path):
    joints = walking(30)
    smpl = np.concatenate([joints, joints[:, 20:22] + 0.08], axis=1)  # + hands (SMPL joints 22, 23)
    path = _save_dict(tmp_path / "results.npy", motion=smpl.transpose(1, 2, 0)[None], text=["jump"],
                      lengths=np.array([30]), num_samples=1, num_repetitions=1)  # fmt: skip
    (m,) = read_motions(path)
    np.testing.assert_array_equal(m.joints_m, joints)
    assert m.prompt == "jump"


def test_dip_text_lists_are_joined_like_results_txt(tmp_path):
    path = _save_dict(tmp_path / "results.npy", motion=walking(30).transpose(1, 2, 0)[None],
                      text=[["walk", "turn left"]], lengths=np.array([30]), num_samples=1, num_repetitions=1)  # fmt: skip
    assert read_motions(path)[0].prompt == "walk#turn left"


@pytest.mark.parametrize(
    "entries, needle",
    [
        (dict(text=["x"], lengths=np.array([30])), "no 'motion' key"),
        (dict(motion=np.zeros((1, 21, 3, 30), np.float32), text=["x"]), "KIT"),
        (dict(motion=np.zeros((1, 22, 4, 30), np.float32), text=["x"]), "shape"),
        (dict(motion=np.zeros((2, 22, 3, 30), np.float32), text=["x"]), "'text'"),
        (dict(motion=np.zeros((2, 22, 3, 30), np.float32), lengths=np.array([30, 31])), "lengths[1] = 31"),
        (dict(motion=np.zeros((4, 22, 3, 30), np.float32), num_samples=3, num_repetitions=2), "3 x 2"),
    ],
)
def test_malformed_results_dict(tmp_path, entries, needle):
    path = _save_dict(tmp_path / "results.npy", **entries)
    with pytest.raises(FormatError) as err:
        read_motions(path, format="mdm-results")
    assert str(path) in str(err.value) and needle in str(err.value)


def test_non_dict_pickle_is_refused(tmp_path):
    path = tmp_path / "results.npy"
    box = np.empty((), dtype=object)
    box[()] = ["not", "a", "dict"]
    np.save(path, box)
    with pytest.raises(FormatError, match="holds a list, not MDM's results dict") as err:
        read_motions(path)
    assert str(path) in str(err.value)
    np.save(path, np.array([{"motion": 1}, {"motion": 2}], dtype=object))  # an object array, not one dict
    with pytest.raises(FormatError, match=r"shape \(2,\)"):
        read_motions(path, format="mdm-results")


def test_numeric_npy_is_not_unpickled_and_points_to_joints(tmp_path):
    path = tmp_path / "results.npy"
    np.save(path, walking(30))
    with pytest.raises(FormatError, match="format 'joints'") as err:
        read_motions(path, format="mdm-results")
    assert str(path) in str(err.value)


def test_nan_motion_names_file_and_sample(tmp_path):
    motion = walking(30).transpose(1, 2, 0)[None].repeat(2, axis=0)
    motion[1, 5, 1, 7] = np.nan
    path = _save_dict(tmp_path / "results.npy", motion=motion, text=["a", "b"], lengths=np.array([30, 30]),
                      num_samples=2, num_repetitions=1)  # fmt: skip
    with pytest.raises(MotionError) as err:
        read_motions(path)
    assert str(path) in str(err.value) and "sample 1" in str(err.value) and "NaN" in str(err.value)
    assert len(read_motions(path, validate=False)) == 2


def test_missing_counts_are_inferred(tmp_path):
    path = _save_dict(tmp_path / "results.npy", motion=walking(30).transpose(1, 2, 0)[None].repeat(2, axis=0),
                      text=["a", "b"], lengths=np.array([30, 20]))  # fmt: skip
    motions = read_motions(path)
    assert [(m.metadata["sample"], m.metadata["repetition"], m.n_frames) for m in motions] == [
        (0, 0, 30),
        (1, 0, 20),
    ]


# --------------------------------------------------------------------------------------------------- MoMask


def test_momask_generation_folder(tmp_path):
    root = tmp_path / "generation" / "demo"
    expected = write_momask_generation(root, ["a man walks", "a man waves"], repeats=2)
    for p in (root, root / "joints", root / "joints" / "1"):
        assert detect_format(p).name == "momask"
    motions = read_motions(root, text_path=root / "prompts.txt")
    assert [(m.metadata["sample"], m.metadata["repetition"]) for m in motions] == [
        (0, 0),
        (0, 1),
        (1, 0),
        (1, 1),
    ]
    assert [m.prompt for m in motions] == ["a man walks", "a man walks", "a man waves", "a man waves"]
    for m in motions:
        np.testing.assert_allclose(
            m.joints_m, expected[(m.metadata["sample"], m.metadata["repetition"], False)]
        )
        assert not m.metadata["foot_ik"] and m.fps == 20.0
    ik = read_motions(root, foot_ik=True, text_prompt="walk")
    assert len(ik) == 4 and all(m.metadata["foot_ik"] and m.prompt == "walk" for m in ik)
    np.testing.assert_allclose(ik[3].joints_m, expected[(1, 1, True)], atol=1e-6)
    assert read_motions(root)[0].prompt is None


def test_momask_prompt_file_too_short(tmp_path):
    root = tmp_path / "gen"
    write_momask_generation(root, ["a", "b"], repeats=1)
    short = tmp_path / "short.txt"
    short.write_text("a#40\n")
    with pytest.raises(FormatError, match="1 prompts") as err:
        read_motions(root, text_path=short)
    assert str(short) in str(err.value)


# --------------------------------------------------------------------------------------------------- T2M-GPT


def test_t2m_gpt_pred_files(tmp_path):
    expected = write_t2m_gpt_outputs(tmp_path / "eval", ["000021", "M001234"])
    assert detect_format(tmp_path / "eval").name == "t2m-gpt"
    motions = read_motions(tmp_path / "eval")
    assert [m.metadata["id"] for m in motions] == ["000021", "M001234"]
    for m in motions:
        np.testing.assert_array_equal(m.joints_m, expected[m.metadata["id"]])
        assert m.prompt is None and m.metadata["kind"] == "pred"
    gt = read_motions(tmp_path / "eval", which="gt")
    assert len(gt) == 2 and all(m.n_frames == 40 for m in gt)
    with pytest.raises(FormatError, match="which"):
        read_motions(tmp_path / "eval", which="both")


def test_t2m_gpt_demo_motion_npy_is_a_joints_file(tmp_path):
    path = tmp_path / "motion.npy"
    np.save(path, walking(48)[None])  # (1, T, 22, 3)
    assert detect_format(path).name == "joints"
    np.testing.assert_array_equal(read_motions(path)[0].joints_m, walking(48))
