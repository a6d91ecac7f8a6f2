"""Anny's rig as the 22 HumanML3D joints in SMPL's joint convention (``data/anny_skeleton.toml``).

Pure functions of Anny's rest bone heads; no Anny import (``compile_anny`` builds the model and calls these).

Two steps:

1. :func:`bone_head_joints`: each joint at the (mean) rest head of the Anny bones named by ``at``.
2. :func:`smpl_convention_joints`: pelvis, both hips and both collars moved to SMPL's places. Motions arrive in
   SMPL's convention (HumanML3D joints are SMPL joints on one target skeleton). The fit keeps every observed bone
   direction at the body's bone length, so where a joint sits along a single-child chain does not change the fit;
   but two segments carry three joints rigidly, the pelvis (pelvis joint, hips, spine1) and spine3 (spine3 joint,
   neck, collars), and their *shape* is part of the convention: no rotation of Anny's shape can reproduce SMPL's.
   Anny's bone heads put the hips 24 cm apart and 1.5 cm below the root bone, the collars on the sternal ends
   of the clavicles 4.6 cm apart; SMPL's hips are 12 cm apart and 8.4 cm below its pelvis joint, its collars
   14 cm apart. The rule hangs SMPL's shape of these two segments (``[smpl_convention]`` in the toml, in metres
   of the HumanML3D template) on Anny's bones, scaled by ``s`` = the body's leg length / the template's:

   - segment frame of joint o towards joint t: x = body left (+x), y = the direction o -> t made orthogonal to
     x, z = x cross y (forward).
   - pelvis: the hips keep the midpoint H of Anny's hip line (heads of upperleg01.L/R) and move along it to
     ``x = +-s hip_offset_m[0]`` from H; the pelvis joint is the point P whose frame towards spine1 (spine03's
     head, unchanged) holds the hips at ``s * (+-hx, hy, hz)``, i.e. ``P = H - s (hy y + hz z)``: raised above
     the hip line by ``-s hy`` along the pelvis axis and moved ``-s hz`` forward (closed form in
     :func:`pelvis_frame`).
   - spine3: spine3 (spine01's head) and the neck (neck01's head) stay; the collars are at
     ``spine3 + s * frame @ (+-cx, cy, cz)`` in spine3's frame towards the neck.

   ``s`` uses the leg length of the result (hip->knee + knee->ankle, mean of both legs, as the fit's root scale
   does), found by a few fixed-point steps from the bone-head joints.

Conventions: metres, the project's rest frame (y up, facing +z, left +x); every joint array is (22, 3) in
HumanML3D order.
"""

from __future__ import annotations

import fnmatch
import tomllib
from functools import cache
from importlib import resources

import numpy as np

from ..errors import FormatError
from ..skeleton import skeleton

RIG_FILE = "data/anny_skeleton.toml"
_X = np.array([1.0, 0.0, 0.0])
_LEGS = ((1, 4, 7), (2, 5, 8))  # hip, knee, ankle
_SCALE_STEPS = 5  # fixed-point steps for s (the hips' move changes the leg ~1 %; each step shrinks it ~60x)


@cache
def rig_table() -> dict:
    """The parsed ``anny_skeleton.toml``: ``joints`` (per joint ``at`` and ``bones``) and ``smpl_convention``."""
    text = resources.files("text2imu.builder").joinpath(RIG_FILE).read_text("utf-8")
    table = tomllib.loads(text)
    for key in ("joints", "smpl_convention"):
        if key not in table:
            raise FormatError(f"{RIG_FILE}: missing table [{key}]")
    return table


def convention_offsets() -> tuple[np.ndarray, np.ndarray]:
    """SMPL's left hip from the pelvis joint and left collar from spine3, each (3,) m in its segment frame."""
    conv = rig_table()["smpl_convention"]
    try:
        hip, collar = (np.asarray(conv[k], dtype=np.float64) for k in ("hip_offset_m", "collar_offset_m"))
    except KeyError as err:
        raise FormatError(f"{RIG_FILE}: [smpl_convention] lacks {err}") from err
    if hip.shape != (3,) or collar.shape != (3,) or hip[0] <= 0 or collar[0] <= 0:
        raise FormatError(
            f"{RIG_FILE}: [smpl_convention] offsets must be 3 numbers with x > 0 (the left side)"
        )
    return hip, collar


def template_leg_length_m() -> float:
    """Leg length (m) of the HumanML3D template skeleton: hip->knee + knee->ankle, mean of both legs."""
    lengths = skeleton().bone_lengths_m
    return float(np.mean([lengths[k] + lengths[a] for _, k, a in _LEGS]))


def leg_length_m(joints: np.ndarray) -> float:
    """Leg length (m) of (22, 3) joints: hip->knee + knee->ankle, mean of both legs."""
    j = np.asarray(joints, dtype=np.float64)
    return float(np.mean([np.linalg.norm(j[k] - j[h]) + np.linalg.norm(j[a] - j[k]) for h, k, a in _LEGS]))


def bone_segments(bone_labels: tuple[str, ...]) -> np.ndarray:
    """(B,) HumanML3D segment (joint index) of each Anny bone; every bone must match exactly one segment."""
    names = skeleton().names
    table = rig_table()["joints"]
    seg = np.full(len(bone_labels), -1)
    for b, label in enumerate(bone_labels):
        hits = [
            j for j, n in enumerate(names) if any(fnmatch.fnmatchcase(label, p) for p in table[n]["bones"])
        ]
        if len(hits) != 1:
            raise FormatError(f"{RIG_FILE}: Anny bone {label} matches segments {[names[h] for h in hits]}")
        seg[b] = hits[0]
    return seg


def bone_head_joints(bone_heads_m: np.ndarray, bone_labels: tuple[str, ...]) -> np.ndarray:
    """(22, 3) joints at the mean rest head of each joint's ``at`` bones, from (B, 3) heads and (B,) labels."""
    table = rig_table()["joints"]
    index = {label: i for i, label in enumerate(bone_labels)}
    joints = np.empty((len(skeleton().names), 3))
    for j, name in enumerate(skeleton().names):
        try:
            joints[j] = np.asarray(bone_heads_m)[[index[b] for b in table[name]["at"]]].mean(axis=0)
        except KeyError as err:
            raise FormatError(f"{RIG_FILE}: joint {name} names unknown Anny bone {err}") from err
    return joints


def segment_frame(origin: np.ndarray, toward: np.ndarray) -> np.ndarray:
    """(3, 3) frame, columns (x, y, z): x = body left, y = unit(toward - origin) made orthogonal to x, z = x cross y."""
    y = np.asarray(toward, dtype=np.float64) - np.asarray(origin, dtype=np.float64)
    y = y - (y @ _X) * _X
    norm = np.linalg.norm(y)
    if norm < 1e-9:
        raise FormatError("segment frame: the two joints lie on one left-right line")
    y = y / norm
    return np.stack([_X, y, np.cross(_X, y)], axis=1)


def pelvis_frame(
    hip_mid: np.ndarray, spine1: np.ndarray, mid_offset: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Pelvis joint P and its frame F (towards spine1) with ``P + F @ mid_offset = hip_mid``.

    Args:
        hip_mid: (3,) the hips' midpoint H, m. spine1: (3,) the spine1 joint S, m.
        mid_offset: (3,) the hips' midpoint from the pelvis joint in the pelvis frame, ``(0, -a, -b)``, m.
    Returns:
        P (3,) m and F (3, 3) columns (x, y, z).

    With D = S - H (orthogonal to x), S - P = D + a y + b z must lie along y: D = (|S - P| + a) y + b z, so y is
    D's direction turned backwards by phi, sin(phi) = b / |D|, and ``P = H + a y + b z``.
    """
    a, b = -float(mid_offset[1]), -float(mid_offset[2])
    d = np.asarray(spine1, dtype=np.float64) - np.asarray(hip_mid, dtype=np.float64)
    d = d - (d @ _X) * _X
    length = np.linalg.norm(d)
    if length <= abs(b) or np.sqrt(length**2 - b**2) <= a:
        raise FormatError(
            f"{RIG_FILE}: the SMPL pelvis does not fit below spine1 (|spine1 - hips| = {length:.3f} m)"
        )
    u = d / length
    phi = np.arcsin(b / length)
    y = np.cos(phi) * u - np.sin(phi) * np.cross(_X, u)
    frame = np.stack([_X, y, np.cross(_X, y)], axis=1)
    return np.asarray(hip_mid, dtype=np.float64) - frame @ mid_offset, frame


def smpl_convention_joints(head_joints: np.ndarray) -> tuple[np.ndarray, float]:
    """Move pelvis, hips and collars of (22, 3) bone-head joints to SMPL's places (module docstring).

    Returns:
        (22, 3) joints in metres, and the scale s (body leg length / template leg length) used.
    """
    names = skeleton().names
    ix = {n: i for i, n in enumerate(names)}
    hip, collar = convention_offsets()
    j0 = np.asarray(head_joints, dtype=np.float64)
    hip_mid = 0.5 * (j0[ix["left_hip"]] + j0[ix["right_hip"]])
    mirror = np.array([-1.0, 1.0, 1.0])
    joints = j0.copy()
    scale = leg_length_m(j0) / template_leg_length_m()
    for step in range(_SCALE_STEPS + 1):
        pelvis, _ = pelvis_frame(hip_mid, j0[ix["spine1"]], scale * hip * [0.0, 1.0, 1.0])
        joints[ix["pelvis"]] = pelvis
        joints[ix["left_hip"]] = hip_mid + scale * hip[0] * _X
        joints[ix["right_hip"]] = hip_mid - scale * hip[0] * _X
        if step < _SCALE_STEPS:
            scale = leg_length_m(joints) / template_leg_length_m()
    spine3 = j0[ix["spine3"]]
    frame3 = segment_frame(spine3, j0[ix["neck"]])
    joints[ix["left_collar"]] = spine3 + frame3 @ (scale * collar)
    joints[ix["right_collar"]] = spine3 + frame3 @ (scale * collar * mirror)
    return joints, float(scale)


def anny_joints(bone_heads_m: np.ndarray, bone_labels: tuple[str, ...]) -> np.ndarray:
    """(22, 3) rest joints of an Anny body in SMPL's convention from its (B, 3) rest bone heads and (B,) labels."""
    return smpl_convention_joints(bone_head_joints(bone_heads_m, bone_labels))[0]
