"""Diffusion model pieces: torch recover_from_ric, the cosine schedule, the denoiser, the config."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from text2imu.builder.diffusion.model import SIZES, DiffusionConfig, MotionDenoiser, config_for_size
from text2imu.builder.diffusion.recover import features_to_joints_torch
from text2imu.builder.diffusion.schedule import Schedule, cosine_betas
from text2imu.builder.errors import Text2ImuError, UnknownNameError
from text2imu.builder.humanml3d import features_to_joints, joints_to_features

TINY = SIZES["tiny"]


def test_torch_recover_matches_numpy_on_the_real_sample(humanml3d_sample):
    feats = np.load(humanml3d_sample / "new_joint_vecs_012314.npy")
    want = np.load(humanml3d_sample / "new_joints_012314.npy")
    got = features_to_joints_torch(torch.from_numpy(feats.astype(np.float64))).numpy()
    assert np.abs(got - features_to_joints(feats)).max() < 1e-6
    assert np.abs(got - want).max() < 1e-5


def test_torch_recover_matches_numpy_on_turning_random_features_batched():
    rng = np.random.default_rng(3)
    f = rng.normal(size=(3, 25, 263)) * 0.2
    f[..., 0] = rng.uniform(-0.3, 0.3, size=(3, 25))  # large turns exercise the yaw integration
    got = features_to_joints_torch(torch.from_numpy(f)).numpy()
    assert got.shape == (3, 25, 22, 3)
    assert np.abs(got - features_to_joints(f)).max() < 1e-5  # numpy returns float32


def test_torch_recover_round_trip_and_gradients():
    from fixtures.humanml3d_gait import gait

    feats = joints_to_features(gait(60, turn_radps=0.4), uniform_skeleton=False)
    f = torch.tensor(feats[:12], dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda x: features_to_joints_torch(x)[..., 5:9, :], (f,), eps=1e-6, atol=1e-5)


def test_cosine_schedule_matches_formula():
    n, s = 1000, 0.008
    ab = Schedule.cosine(n).alphas_cumprod

    def f(t):
        return math.cos((t / n + s) / (1 + s) * math.pi / 2) ** 2

    for t in (0, 10, 500, 900):
        assert ab[t] == pytest.approx(f(t + 1) / f(0), rel=1e-9)
    assert cosine_betas(n).max() <= 0.999 and np.all(np.diff(ab) < 0)
    with pytest.raises(Text2ImuError):
        cosine_betas(0)


def test_q_sample_and_posterior_closed_forms():
    sch = Schedule.cosine(50)
    x0 = torch.randn(4, 5, 3, dtype=torch.float64)
    t = torch.tensor([0, 1, 20, 49])
    ab = torch.tensor(sch.alphas_cumprod)[t][:, None, None]
    eps = torch.randn_like(x0)
    assert torch.allclose(sch.q_sample(x0, t, eps), ab.sqrt() * x0 + (1 - ab).sqrt() * eps)
    # noise-free x_t = sqrt(ab_t) x0 has posterior mean sqrt(ab_{t-1}) x0 (ab_{-1} = 1)
    mean, log_var = sch.posterior(x0, ab.sqrt() * x0, t)
    ab_prev = torch.tensor(np.concatenate([[1.0], sch.alphas_cumprod[:-1]]))[t][:, None, None]
    assert torch.allclose(mean, ab_prev.sqrt() * x0, atol=1e-12)
    assert torch.isfinite(log_var).all()


def test_respacing_keeps_alpha_bar():
    full = Schedule.cosine(100)
    sub = full.respaced(10)
    assert sub.n_steps == 10 and sub.timestep_map[0] == 0 and sub.timestep_map[-1] == 99
    assert np.allclose(sub.alphas_cumprod, full.alphas_cumprod[sub.timestep_map])
    assert full.respaced(100) is full
    with pytest.raises(Text2ImuError, match="sampling steps"):
        full.respaced(101)


def test_sizes_and_mdm_is_mdm():
    mdm = SIZES["mdm"]
    assert (mdm.n_layers, mdm.latent_dim, mdm.n_heads, mdm.ff_dim, mdm.diffusion_steps) == (8, 512, 4, 1024, 1000)
    assert config_for_size("tiny", n_layers=3, latent_dim=None).n_layers == 3
    with pytest.raises(UnknownNameError, match="Did you mean: small"):
        config_for_size("smal")


@pytest.mark.parametrize("bad", [{"latent_dim": 30}, {"n_layers": 0}, {"dropout": 1.5}, {"max_frames": 2.5}])
def test_config_validation(bad):
    with pytest.raises(Text2ImuError, match="model config"):
        DiffusionConfig(**{**TINY.to_dict(), **bad})


def test_config_from_dict_rejects_unknown_and_missing_keys():
    d = TINY.to_dict()
    assert DiffusionConfig.from_dict(d) == TINY
    with pytest.raises(Text2ImuError, match=r"unknown keys \['layers'\]"):
        DiffusionConfig.from_dict({**d, "layers": 3})
    d.pop("ff_dim")
    with pytest.raises(Text2ImuError, match=r"missing keys \['ff_dim'\]"):
        DiffusionConfig.from_dict(d)


def _inputs(b=2, n=10, seed=0):
    g = torch.Generator().manual_seed(seed)
    return (torch.randn(b, n, 263, generator=g), torch.randint(0, TINY.diffusion_steps, (b,), generator=g),
            torch.randn(b, 384, generator=g))


def test_denoiser_shapes_padding_and_condition_drop():
    torch.manual_seed(0)
    model = MotionDenoiser(TINY).eval()
    x, t, emb = _inputs()
    mask = torch.tensor([[True] * 10, [True] * 6 + [False] * 4])
    out = model(x, t, emb, mask)
    assert out.shape == (2, 10, 263)
    x2 = x.clone()
    x2[1, 6:] = 99.0  # padded frames do not change the valid frames' prediction
    assert torch.allclose(model(x2, t, emb, mask)[1, :6], out[1, :6], atol=1e-5)
    # dropping the caption = a zero embedding; and it changes the output
    drop = torch.tensor([True, False])
    zeroed = emb.clone()
    zeroed[0] = 0
    assert torch.allclose(model(x, t, emb, mask, drop), model(x, t, zeroed, mask), atol=1e-6)
    assert not torch.allclose(model(x, t, emb, mask, drop)[0], out[0], atol=1e-4)
    with pytest.raises(Text2ImuError, match="max_frames"):
        model(torch.zeros(1, TINY.max_frames + 1, 263), t[:1], emb[:1], torch.ones(1, TINY.max_frames + 1, dtype=bool))
