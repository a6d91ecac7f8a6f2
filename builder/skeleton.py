"""The 22-joint HumanML3D skeleton as data (``data/skeleton.toml``), loaded once."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from functools import cache
from importlib import resources

import numpy as np


@dataclass(frozen=True)
class Skeleton:
    """Joint names and parents in HumanML3D order, with HumanML3D's rest directions and target bone lengths.

    Attributes:
        names: (22,) joint names.
        parents: (22,) parent index per joint, -1 for the pelvis.
        rest_directions: (22, 3) unit rest direction of the bone ending at each joint (zero for the pelvis).
        bone_lengths_m: (22,) HumanML3D target bone length in metres of the bone ending at each joint.
        chains: kinematic chains as joint-index lists.
        face_joints: indices (right_hip, left_hip, right_shoulder, left_shoulder).
        mirror_pairs: left/right joint pairs.
    """

    names: tuple[str, ...]
    parents: tuple[int, ...]
    rest_directions: np.ndarray
    bone_lengths_m: np.ndarray
    chains: tuple[tuple[int, ...], ...]
    face_joints: tuple[int, int, int, int]
    foot_joints_left: tuple[int, int]
    foot_joints_right: tuple[int, int]
    mirror_pairs: tuple[tuple[int, int], ...]

    @property
    def n_joints(self) -> int:
        return len(self.names)

    def index(self, name: str) -> int:
        from .errors import UnknownNameError

        try:
            return self.names.index(name)
        except ValueError:
            raise UnknownNameError("joint", name, self.names) from None

    def mirror_permutation(self) -> np.ndarray:
        """(22,) joint permutation that swaps left and right."""
        perm = np.arange(self.n_joints)
        for a, b in self.mirror_pairs:
            perm[a], perm[b] = b, a
        return perm


@cache
def skeleton() -> Skeleton:
    """The HumanML3D 22-joint skeleton (cached)."""
    raw = tomllib.loads(resources.files(__package__).joinpath("data/skeleton.toml").read_text("utf-8"))
    joints = raw["joints"]
    face = raw["face_joints"]
    return Skeleton(
        names=tuple(j["name"] for j in joints),
        parents=tuple(int(j["parent"]) for j in joints),
        rest_directions=np.array([j["rest_direction"] for j in joints], dtype=np.float64),
        bone_lengths_m=np.array([j["bone_length_m"] for j in joints], dtype=np.float64),
        chains=tuple(tuple(c) for c in raw["chains"]),
        face_joints=(face["right_hip"], face["left_hip"], face["right_shoulder"], face["left_shoulder"]),
        foot_joints_left=tuple(raw["foot_joints"]["left"]),
        foot_joints_right=tuple(raw["foot_joints"]["right"]),
        mirror_pairs=tuple(tuple(p) for p in raw["mirror_pairs"]),
    )


JOINT_NAMES: tuple[str, ...] = skeleton().names
N_JOINTS: int = len(JOINT_NAMES)
