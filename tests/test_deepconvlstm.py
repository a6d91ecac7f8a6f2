"""DeepConvLSTM: shapes and parameter count against the architecture, class weights, deterministic training."""

import numpy as np
import pytest
import torch

from text2imu.benchmark.deepconvlstm import (
    DeepConvLSTM,
    TrainConfig,
    class_weights,
    n_parameters,
    predict,
    train_deepconvlstm,
)
from text2imu.builder.errors import Text2ImuError


def expected_parameters(channels: int, classes: int) -> int:
    """Counted from the paper's architecture by hand: 4 conv (64 filters, kernel 5 x 1, one input plane per
    sensor channel), 2 LSTM(128) over 64 x C features, linear 128 -> K."""
    conv = (1 * 5 * 64 + 64) + 3 * (64 * 5 * 64 + 64)  # weights + biases
    lstm1 = 4 * 128 * (64 * channels) + 4 * 128 * 128 + 2 * 4 * 128  # W_ih, W_hh, b_ih + b_hh
    lstm2 = 4 * 128 * 128 + 4 * 128 * 128 + 2 * 4 * 128
    head = 128 * classes + classes
    return conv + lstm1 + lstm2 + head


@pytest.mark.parametrize(("channels", "classes"), [(6, 8), (6, 6), (3, 4)])
def test_parameter_count_matches_the_architecture(channels, classes):
    model = DeepConvLSTM(channels, classes, 40)
    assert n_parameters(model) == expected_parameters(channels, classes)


def test_shapes_through_the_network():
    model = DeepConvLSTM(6, 8, 40).eval()
    x = torch.randn(5, 40, 6)
    conv = model.conv(x.unsqueeze(1))
    assert conv.shape == (5, 64, 24, 6)  # 40 - 4 * (5 - 1) steps, channels kept apart
    assert model.steps_out == 24
    assert model(x).shape == (5, 8)
    assert [tuple(m.weight.shape) for m in model.conv if hasattr(m, "weight")] == [
        (64, 1, 5, 1), (64, 64, 5, 1), (64, 64, 5, 1), (64, 64, 5, 1)
    ]
    assert model.lstm.num_layers == 2 and model.lstm.hidden_size == 128 and model.lstm.input_size == 64 * 6


def test_each_sensor_channel_is_convolved_separately():
    # Changing channel 2 must leave the conv features of the other channels untouched.
    model = DeepConvLSTM(6, 3, 40).eval()
    x = torch.randn(2, 40, 6)
    y = x.clone()
    y[:, :, 2] += 5.0
    a, b = model.conv(x.unsqueeze(1)), model.conv(y.unsqueeze(1))
    keep = [0, 1, 3, 4, 5]
    torch.testing.assert_close(a[..., keep], b[..., keep])
    assert not torch.allclose(a[..., 2], b[..., 2])


def test_too_short_windows_are_refused():
    with pytest.raises(Text2ImuError, match="too short"):
        DeepConvLSTM(6, 8, 16)


def test_class_weights_are_inverse_frequency():
    np.testing.assert_allclose(class_weights(np.array([0, 1, 1, 1]), 3), [2.0, 2 / 3, 0.0], rtol=1e-6)


def _toy(n, rng):
    y = rng.integers(0, 2, n)
    x = rng.standard_normal((n, 40, 6)).astype(np.float32) * 0.5
    x[:, :, 0] += np.where(y == 1, 2.0, -2.0)[:, None]
    return x, y


def test_training_is_deterministic_per_seed_and_learns_a_trivial_task():
    rng = np.random.default_rng(0)
    x, y = _toy(200, rng)
    xv, yv = _toy(60, rng)
    config = TrainConfig(epochs=3, patience=2, batch_size=32, threads=1)
    a = train_deepconvlstm(x, y, 2, seed=3, config=config, x_val=xv, y_val=yv)
    b = train_deepconvlstm(x, y, 2, seed=3, config=config, x_val=xv, y_val=yv)
    for pa, pb in zip(a.model.parameters(), b.model.parameters(), strict=True):
        torch.testing.assert_close(pa, pb)
    assert a.epochs_run >= 1 and 1 <= a.best_epoch <= a.epochs_run
    assert len(a.history) == a.epochs_run and a.history[0]["val_balanced_accuracy"] is not None
    xt, yt = _toy(100, rng)
    assert np.mean(predict(a.model, xt) == yt) > 0.9
    assert torch.get_num_threads() == config.threads
