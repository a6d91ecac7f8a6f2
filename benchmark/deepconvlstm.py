"""DeepConvLSTM (Ordóñez and Roggen, Sensors 16(1):115, 2016) and its training loop for protocol v1.

Architecture, as in the paper (and its Lasagne code): the window (B, T, C) is treated as a one-channel image of
T x C; four convolutions of 64 filters with 1-D kernels of 5 samples along time (kernel (5, 1), stride 1, no
padding, ReLU) process every sensor channel separately with shared weights, so T shrinks by 4 per layer
(40 -> 24) and the C channels stay apart; the (64 filters x C channels) features of each time step feed two
LSTM layers of 128 units; a linear layer on the LSTM output of the last time step gives the class scores.
Dropout 0.5 on the LSTM input and on the last step before the linear layer.

Training: Adam (lr 1e-3), cross-entropy weighted by inverse class frequency of the training windows
(weight_k = N / (K n_k)), mini-batches shuffled with a seeded generator, a fixed number of epochs with early
stopping on a held-out validation set (best validation balanced accuracy, ties to the lower validation loss;
training stops after ``patience`` epochs without improvement and the best weights are restored).
"""

from __future__ import annotations

import copy
import logging
import time
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn

from text2imu.builder.errors import Text2ImuError

log = logging.getLogger(__name__)


class DeepConvLSTM(nn.Module):
    """(B, T, C) float32 windows (standardised) -> (B, n_classes) logits.

    Args:
        n_channels: sensor channels C (6 for protocol v1: acc + gyro of one site).
        n_classes: output classes K.
        window_samples: T, only checked (T must exceed n_conv * (kernel_size - 1)).
        n_filters, kernel_size, n_conv: the convolutions (64, 5, 4).
        lstm_units, lstm_layers: the recurrent part (128, 2).
        dropout: dropout probability (0.5).
    """

    def __init__(
        self,
        n_channels: int = 6,
        n_classes: int = 8,
        window_samples: int = 40,
        n_filters: int = 64,
        kernel_size: int = 5,
        n_conv: int = 4,
        lstm_units: int = 128,
        lstm_layers: int = 2,
        dropout: float = 0.5,
    ):
        super().__init__()
        if window_samples <= n_conv * (kernel_size - 1):
            raise Text2ImuError(
                f"DeepConvLSTM: windows of {window_samples} samples are too short for {n_conv} convolutions "
                f"of kernel {kernel_size}"
            )
        layers: list[nn.Module] = []
        for i in range(n_conv):
            layers += [nn.Conv2d(1 if i == 0 else n_filters, n_filters, (kernel_size, 1)), nn.ReLU()]
        self.conv = nn.Sequential(*layers)
        self.dropout = nn.Dropout(dropout)
        self.lstm = nn.LSTM(n_filters * n_channels, lstm_units, num_layers=lstm_layers, batch_first=True)
        self.head = nn.Linear(lstm_units, n_classes)
        self.n_channels, self.n_classes = n_channels, n_classes
        self.steps_out = window_samples - n_conv * (kernel_size - 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, t, c = x.shape
        h = self.conv(x.unsqueeze(1))  # (B, F, T', C)
        h = h.permute(0, 2, 1, 3).reshape(b, h.shape[2], -1)  # (B, T', F * C)
        out, _ = self.lstm(self.dropout(h))
        return self.head(self.dropout(out[:, -1]))


def n_parameters(model: nn.Module) -> int:
    """Number of trainable parameters."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


@dataclass(frozen=True)
class TrainConfig:
    """Training settings (protocol v1 defaults).

    Attributes:
        epochs: maximum epochs.
        patience: epochs without a better validation score before stopping (0: never stop early).
        batch_size: windows per mini-batch.
        lr: Adam learning rate.
        dropout: dropout probability.
        threads: torch intra-op threads (``torch.set_num_threads``).
    """

    epochs: int = 8
    patience: int = 3
    batch_size: int = 100
    lr: float = 1e-3
    dropout: float = 0.5
    threads: int = 2

    def __post_init__(self) -> None:
        if self.epochs < 1 or self.patience < 0 or self.batch_size < 1 or not self.lr > 0 or self.threads < 1:
            raise Text2ImuError(f"invalid training settings: {self}")


@dataclass
class TrainedModel:
    """A trained network and how training went.

    Attributes:
        model: the network (eval mode, best validation weights).
        history: per epoch dict(epoch, train_loss, val_loss, val_balanced_accuracy) (val entries None without
            validation data).
        best_epoch: 1-based epoch whose weights were kept.
        epochs_run: epochs trained.
        train_s: wall-clock seconds of training (validation passes included).
        windows_trained: training windows processed (epochs_run x N).
    """

    model: DeepConvLSTM
    history: list[dict] = field(default_factory=list)
    best_epoch: int = 0
    epochs_run: int = 0
    train_s: float = 0.0
    windows_trained: int = 0


def class_weights(y: np.ndarray, n_classes: int) -> np.ndarray:
    """(K,) float32 inverse-frequency weights N / (K n_k) of labels y (N,) in 0..K-1; 0 for an absent class."""
    counts = np.bincount(np.asarray(y, dtype=np.int64), minlength=n_classes).astype(np.float64)
    present = counts > 0
    weights = np.zeros(n_classes)
    weights[present] = counts.sum() / (present.sum() * counts[present])
    return weights.astype(np.float32)


def predict_logits(model: nn.Module, x: np.ndarray, batch_size: int = 2048) -> np.ndarray:
    """(N, T, C) windows -> (N, K) float32 logits, in eval mode without gradients."""
    model.eval()
    out = []
    with torch.inference_mode():
        for i in range(0, len(x), batch_size):
            out.append(model(torch.from_numpy(np.ascontiguousarray(x[i : i + batch_size]))).numpy())
    k = getattr(model, "n_classes", 0)
    return np.concatenate(out) if out else np.empty((0, k), np.float32)


def predict(model: nn.Module, x: np.ndarray, batch_size: int = 2048) -> np.ndarray:
    """(N, T, C) windows -> (N,) int64 predicted class indices."""
    return predict_logits(model, x, batch_size).argmax(axis=1).astype(np.int64)


def _balanced_accuracy(y: np.ndarray, pred: np.ndarray) -> float:
    recalls = [float(np.mean(pred[y == k] == k)) for k in np.unique(y)]
    return float(np.mean(recalls)) if recalls else float("nan")


def train_deepconvlstm(
    x_train: np.ndarray,
    y_train: np.ndarray,
    n_classes: int,
    seed: int,
    config: TrainConfig = TrainConfig(),
    x_val: np.ndarray | None = None,
    y_val: np.ndarray | None = None,
    progress: bool = False,
) -> TrainedModel:
    """Train a :class:`DeepConvLSTM` on standardised windows.

    Args:
        x_train: (N, T, C) float32 standardised windows; y_train: (N,) int64 in 0..n_classes-1.
        n_classes: K.
        seed: seeds the weights, dropout and shuffling (``torch.manual_seed`` and a torch Generator).
        config: :class:`TrainConfig`; ``torch.set_num_threads(config.threads)`` is called here.
        x_val, y_val: held-out validation windows for early stopping (never real test data); without them the
            model trains ``config.epochs`` epochs and keeps the last weights.
        progress: show a tqdm bar over epochs.

    Returns:
        :class:`TrainedModel`.
    """
    from tqdm.auto import tqdm

    if len(x_train) == 0:
        raise Text2ImuError("no training windows")
    torch.set_num_threads(config.threads)
    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    _, t, c = x_train.shape
    model = DeepConvLSTM(c, n_classes, t, dropout=config.dropout)
    weights = torch.from_numpy(class_weights(y_train, n_classes))
    loss_fn = nn.CrossEntropyLoss(weight=weights)
    opt = torch.optim.Adam(model.parameters(), lr=config.lr)
    xt = torch.from_numpy(np.ascontiguousarray(x_train, dtype=np.float32))
    yt = torch.from_numpy(np.asarray(y_train, dtype=np.int64))
    has_val = x_val is not None and y_val is not None and len(x_val) > 0
    result = TrainedModel(model)
    best_key, best_state, stale = None, None, 0
    start = time.perf_counter()
    for epoch in tqdm(range(1, config.epochs + 1), desc="epochs", disable=not progress, leave=False):
        model.train()
        order = torch.randperm(len(xt), generator=gen)
        total = 0.0
        for i in range(0, len(order), config.batch_size):
            idx = order[i : i + config.batch_size]
            opt.zero_grad(set_to_none=True)
            loss = loss_fn(model(xt[idx]), yt[idx])
            loss.backward()
            opt.step()
            total += float(loss.detach()) * len(idx)
        entry = {"epoch": epoch, "train_loss": total / len(xt), "val_loss": None, "val_balanced_accuracy": None}
        result.epochs_run, result.windows_trained = epoch, epoch * len(xt)
        if has_val:
            logits = predict_logits(model, x_val)
            with torch.inference_mode():
                val_loss = float(loss_fn(torch.from_numpy(logits), torch.from_numpy(np.asarray(y_val, np.int64))))
            val_bacc = _balanced_accuracy(np.asarray(y_val), logits.argmax(axis=1))
            entry.update(val_loss=val_loss, val_balanced_accuracy=val_bacc)
            key = (val_bacc, -val_loss)
            if best_key is None or key > best_key:
                best_key, best_state, stale = key, copy.deepcopy(model.state_dict()), 0
                result.best_epoch = epoch
            else:
                stale += 1
        result.history.append(entry)
        log.debug("epoch %d: %s", epoch, entry)
        if has_val and config.patience and stale >= config.patience:
            break
    if best_state is not None:
        model.load_state_dict(best_state)
    else:
        result.best_epoch = result.epochs_run
    model.eval()
    result.train_s = time.perf_counter() - start
    return result
