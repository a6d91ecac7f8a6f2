"""Readers of real IMU datasets in their official layouts, giving one common :class:`Recording` type.

``REAL_DATASETS[name].read(path)`` for ``uci_hapt``, ``realworld``, ``pamap2`` and ``usc_had``; acc in m/s^2,
gyro in rad/s, labels mapped onto the eight activities (``label_maps.toml``), native rates;
:func:`resample_recording` brings a recording to 20 Hz.
"""

from .datasets import REAL_DATASETS, RealDataset
from .label_maps import LabelMap, label_map
from .pamap2 import read_pamap2
from .realworld import read_realworld
from .recording import (
    ACTIVITIES,
    G_MPS2,
    RAD_PER_DEG,
    REAL_SITES,
    Recording,
    Recordings,
    resample_recording,
    resample_recordings,
)
from .uci_hapt import read_uci_hapt
from .usc_had import read_usc_had

__all__ = [
    "ACTIVITIES",
    "G_MPS2",
    "RAD_PER_DEG",
    "REAL_DATASETS",
    "REAL_SITES",
    "LabelMap",
    "RealDataset",
    "Recording",
    "Recordings",
    "label_map",
    "read_pamap2",
    "read_realworld",
    "read_uci_hapt",
    "read_usc_had",
    "resample_recording",
    "resample_recordings",
]
