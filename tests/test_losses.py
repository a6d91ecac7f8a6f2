"""The masked diffusion losses against values computed by hand (reductions as stated in losses.py)."""

from __future__ import annotations

import pytest
import torch

from text2imu.builder.diffusion.losses import (
    FOOT_CONTACT_M,
    LACC_REDUCTION,
    REDUCTIONS,
    frame_mask,
    l_acc,
    l_foot,
    l_pos,
    l_simple,
    l_vel,
    masked_mse,
)

J, A = 22, 3  # joints, axes: mean over J * A = 66 entries per frame


def _joints(b, t):
    return torch.zeros(b, t, J, A, dtype=torch.float64)


def test_frame_mask():
    assert frame_mask(torch.tensor([2, 0, 3]), 3).tolist() == [[True, True, False], [False] * 3, [True] * 3]


def test_masked_mse_by_hand_ignores_padding():
    pred = torch.zeros(2, 3, 2)
    target = torch.tensor([[[1.0, 1.0]] * 3, [[2.0, 2.0], [0.0, 0.0], [5.0, 5.0]]])
    mask = frame_mask(torch.tensor([3, 2]), 3)
    # sample 0: 6 entries of 1 -> 1; sample 1: frames 0-1 only: (4 + 4 + 0 + 0) / 4 = 2 (the 5s are padding)
    assert masked_mse(pred, target, mask).tolist() == pytest.approx([1.0, 2.0])
    assert l_simple(pred, target, mask).tolist() == pytest.approx([1.0, 2.0])
    target[1, 2] = 1e6  # padded content never matters
    assert masked_mse(pred, target, mask)[1].item() == pytest.approx(2.0)


def test_l_pos_mean_over_joints_and_axes():
    pred, target = _joints(1, 4), _joints(1, 4)
    target[0, :, 5, 1] = 0.3  # one joint, one axis, off by 0.3 m on all 4 frames
    assert l_pos(pred, target, frame_mask(torch.tensor([4]), 4)).item() == pytest.approx(0.09 / 66)


def test_l_vel_by_hand():
    pred, target = _joints(1, 6), _joints(1, 6)
    target[0, :, 0, 2] = 0.1 * torch.arange(6)  # pelvis moves 0.1 m/frame along z, prediction stands still
    target[0, 4:, 0, 2] = 50.0  # frames past the length (4) are garbage
    mask = frame_mask(torch.tensor([4]), 6)
    # 3 valid pairs, each with one entry of squared error 0.01 among 66
    assert l_vel(pred, target, mask).item() == pytest.approx(0.01 / 66)


def test_l_foot_counts_only_contact_frames():
    pred, target = _joints(1, 5), _joints(1, 5)
    pred[0, :, 7, 0] = 0.02 * torch.arange(5)  # left ankle slides 0.02 m/frame in the prediction
    pred[0, :, 11, 0] = 0.5 * torch.arange(5)  # right foot moves in the prediction ...
    target[0, :, 11, 0] = 0.5 * torch.arange(5)  # ... and in the target too: no contact, no penalty
    mask = frame_mask(torch.tensor([5]), 5)
    # 4 pairs x 4 foot joints x 3 axes = 48 entries; the ankle's 4 x-entries are 0.0004 each
    assert l_foot(pred, target, mask).item() == pytest.approx(0.0004 / 12)
    target[0, :, 7, 0] = (FOOT_CONTACT_M * 1.5) * torch.arange(5)  # the target ankle moves: not in contact
    assert l_foot(pred, target, mask).item() == pytest.approx(0.0)


def test_l_acc_by_hand_paper_normalisation():
    b, t = 2, 7
    pred, target = _joints(b, t), _joints(b, t)
    i = torch.arange(t, dtype=torch.float64)
    target[:, :, 3, 0] = 0.5 * i**2  # constant second difference 1.0 on one joint and axis
    lengths = torch.tensor([5, 7])
    target[0, 5:] = 123.0  # padding of sample 0
    mask = frame_mask(lengths, t)
    got = l_acc(pred, target, mask)
    # per interior frame: mean over 66 entries of 1.0^2 = 1/66; N-2 interior frames; divided by N-1
    assert got.tolist() == pytest.approx([3 / 66 / 4, 5 / 66 / 6])
    assert "divided by N-1" in LACC_REDUCTION and "22 joints and 3 axes" in LACC_REDUCTION
    assert REDUCTIONS["acc"] == LACC_REDUCTION


def test_l_acc_by_hand_nonuniform():
    pred, target = _joints(1, 4), _joints(1, 4)
    target[0, :, 0, 1] = torch.tensor([0.0, 1.0, 0.0, 2.0])  # second differences: -2, 3
    pred[0, :, 0, 1] = torch.tensor([0.0, 0.0, 1.0, 1.0])  # second differences: 1, -1
    # squared errors (-2 - 1)^2 = 9 and (3 + 1)^2 = 16 over 66 entries, summed, / (4 - 1)
    assert l_acc(pred, target, frame_mask(torch.tensor([4]), 4)).item() == pytest.approx((9 + 16) / 66 / 3)


def test_l_acc_zero_for_identical_and_short_samples():
    x = torch.randn(3, 6, J, A, dtype=torch.float64)
    mask = frame_mask(torch.tensor([6, 2, 1]), 6)
    assert torch.all(l_acc(x, x, mask) == 0)
    y = x + torch.randn_like(x)
    got = l_acc(y, x, mask)
    assert got[0] > 0 and got[1] == 0 and got[2] == 0  # fewer than 3 frames: no interior frame


def test_l_acc_is_blind_to_constant_velocity_offsets_and_has_gradients():
    x = torch.randn(2, 8, J, A, dtype=torch.float64)
    drift = 0.3 * torch.arange(8, dtype=torch.float64)[None, :, None, None] + 1.0
    mask = frame_mask(torch.tensor([8, 6]), 8)
    assert l_acc(x + drift, x, mask).abs().max() < 1e-12  # a linear path has no acceleration
    pred = torch.randn(2, 8, J, A, dtype=torch.float64, requires_grad=True)
    l_acc(pred, x, mask).sum().backward()
    assert torch.isfinite(pred.grad).all() and pred.grad[1, 6:].abs().max() == 0  # padding gets no gradient


def test_shape_errors():
    with pytest.raises(ValueError, match="differ in shape"):
        masked_mse(torch.zeros(1, 2, 3), torch.zeros(1, 2, 4), torch.ones(1, 2, dtype=torch.bool))
    with pytest.raises(ValueError, match="mask"):
        masked_mse(torch.zeros(1, 2, 3), torch.zeros(1, 2, 3), torch.ones(1, 3, dtype=torch.bool))
