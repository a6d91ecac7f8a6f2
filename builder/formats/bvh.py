"""BVH (Biovision hierarchy) files: parser, forward kinematics, mapping onto the 22 HumanML3D joints, writer.

Conventions (the ones Blender's importer and Holden's ``BVH.py``, used by MoMask and IMUGPT, share):

* Column vectors, right-handed axes. A joint's local rotation is the product of its rotation channels in the
  order listed: ``CHANNELS 3 Zrotation Yrotation Xrotation`` gives R = Rz(z) @ Ry(y) @ Rx(x). Angles in degrees.
* A joint's local translation is its OFFSET; position channels, when present, replace the matching OFFSET
  components (so a root with ``Xposition Yposition Zposition`` sits at the channel values; its OFFSET is ignored,
  which is what MoMask's and IMUGPT's files need: they write the frame-0 pelvis position as the root OFFSET).
* global_rotation[j] = global_rotation[parent] @ R_j; position[j] = position[parent] + global_rotation[parent] @ t_j.
* ``Frame Time`` is the frame period in seconds; fps = 1 / Frame Time, snapped to the nearest integer when
  within 0.02 % of it (files print 6 decimals: 0.033333 s -> 30 fps; 29.97 fps stays 29.97).

Skeletons mapped onto the 22 HumanML3D joints by joint name (case, ``_``/spaces and ``namespace:`` prefixes are
ignored; extra joints such as fingers are ignored):

* ``humanml3d``: the names of ``data/skeleton.toml`` (pelvis, left_hip, ...), as :func:`write_bvh` writes them;
  also IMUGPT's ``motion2bvh_ik`` names (Pelvis, Left_hip, ..., ZikangLeng/IMUGPT ``data_generation.py``).
* ``smpl``: SMPL joint names (Pelvis, L_Hip, R_Hip, Spine1, ..., L_Wrist, R_Wrist).
* ``mixamo``: MoMask ``joints2bvh`` / Mixamo names (Hips, LeftUpLeg, LeftLeg, LeftFoot, LeftToe[Base], Spine,
  Spine1, Spine2, Neck, Head, LeftShoulder, LeftArm, LeftForeArm, LeftHand, ...; FORMATS.md 5.4).

Units: option ``units`` ("m", "cm", "mm", "in"; default "auto" decides from the rest-pose leg length: 0.2-3 ->
m, 20-200 -> cm, 200-3000 -> mm). MoMask and IMUGPT write metres (IMUGPT's ``bvh_resized`` files are scaled by
1.7/1.55, still metres). Up axis: option ``up``, "y" (the BVH convention and HumanML3D's, the default) or "z"
(z-up files are turned to y-up by (x, y, z) -> (x, z, -y)). Positions are otherwise kept as stored (no floor or
heading change).
"""

from __future__ import annotations

import logging
import re
import warnings
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
from scipy.spatial.transform import Rotation

from ..errors import FormatError, MotionError
from ..motion import Motion
from ..rotations import quat_between, quat_to_matrix
from ..skeleton import N_JOINTS, skeleton
from . import MotionFormat, register_format
from .joints import make_motion, path_kind

log = logging.getLogger(__name__)

NAME = "bvh"
UNIT_SCALE_M = {"m": 1.0, "cm": 0.01, "mm": 0.001, "in": 0.0254}
CHANNEL_NAMES = {f"{a}{k}": (i, k) for i, a in enumerate("xyz") for k in ("position", "rotation")}

# Joint names per skeleton family, in HumanML3D order; "|" separates accepted aliases.
NAME_SCHEMES: dict[str, tuple[str, ...]] = {
    "humanml3d": skeleton().names,
    "smpl": (
        "Pelvis", "L_Hip", "R_Hip", "Spine1", "L_Knee", "R_Knee", "Spine2", "L_Ankle", "R_Ankle", "Spine3",
        "L_Foot", "R_Foot", "Neck", "L_Collar", "R_Collar", "Head", "L_Shoulder", "R_Shoulder", "L_Elbow",
        "R_Elbow", "L_Wrist", "R_Wrist",
    ),
    "mixamo": (
        "Hips", "LeftUpLeg", "RightUpLeg", "Spine", "LeftLeg", "RightLeg", "Spine1", "LeftFoot", "RightFoot",
        "Spine2", "LeftToe|LeftToeBase", "RightToe|RightToeBase", "Neck", "LeftShoulder", "RightShoulder", "Head",
        "LeftArm", "RightArm", "LeftForeArm", "RightForeArm", "LeftHand", "RightHand",
    ),
}  # fmt: skip


@dataclass(frozen=True)
class BvhData:
    """A parsed BVH file.

    Attributes:
        names: (J,) joint names in file order (End Sites are not joints).
        parents: (J,) parent index per joint, -1 for a root.
        offsets: (J, 3) OFFSET of each joint, in file units.
        channels: per joint, its channel names lower-cased ("xposition", "zrotation", ...).
        frame_time_s: the Frame Time in seconds.
        values: (T, C) channel values per frame, in file order (positions in file units, angles in degrees).
    """

    names: tuple[str, ...]
    parents: tuple[int, ...]
    offsets: np.ndarray
    channels: tuple[tuple[str, ...], ...]
    frame_time_s: float
    values: np.ndarray

    @property
    def n_frames(self) -> int:
        return int(self.values.shape[0])


def _float(token: str, what: str, source: object) -> float:
    try:
        return float(token)
    except ValueError:
        raise FormatError(f"{source}: {what} must be a number, got {token!r}") from None


def parse_bvh(text: str, source: object = "<bvh>") -> BvhData:
    """Parse BVH text (``source`` names the file in errors). FormatError for anything malformed or truncated."""
    match = re.search(r"^\s*MOTION\s*$", text, flags=re.MULTILINE)
    if not match:
        raise FormatError(f"{source}: no MOTION section (not a BVH file, or truncated)")
    tokens = text[: match.start()].split()
    if not tokens or tokens[0].upper() != "HIERARCHY":
        raise FormatError(f"{source}: does not start with HIERARCHY")
    names: list[str] = []
    parents: list[int] = []
    offsets: list[list[float]] = []
    channels: list[tuple[str, ...]] = []
    stack: list[int] = []  # open blocks: joint index, or -1 for an End Site
    i = 1

    def need(n: int) -> list[str]:
        if i + n > len(tokens):
            raise FormatError(f"{source}: hierarchy ends early (after {tokens[-1]!r})")
        return tokens[i : i + n]

    while i < len(tokens):
        tok = tokens[i]
        key = tok.upper()
        if key in ("ROOT", "JOINT"):
            name, brace = need(3)[1:]
            if brace != "{":
                raise FormatError(f"{source}: expected '{{' after {tok} {name}")
            if key == "JOINT" and (not stack or stack[-1] < 0):
                raise FormatError(f"{source}: JOINT {name} outside a joint")
            if key == "ROOT" and stack:
                raise FormatError(f"{source}: ROOT {name} inside another joint")
            parents.append(-1 if key == "ROOT" else stack[-1])
            names.append(name)
            offsets.append([0.0, 0.0, 0.0])
            channels.append(())
            stack.append(len(names) - 1)
            i += 3
        elif key == "END":
            if [t.upper() for t in need(3)[1:]] != ["SITE", "{"] or not stack or stack[-1] < 0:
                raise FormatError(f"{source}: malformed End Site")
            stack.append(-1)
            i += 3
        elif key == "OFFSET":
            vals = [_float(t, "OFFSET", source) for t in need(4)[1:]]
            if not stack:
                raise FormatError(f"{source}: OFFSET outside a joint")
            if stack[-1] >= 0:
                offsets[stack[-1]] = vals
            i += 4
        elif key == "CHANNELS":
            count = need(2)[1]
            if not count.isdigit() or not stack or stack[-1] < 0:
                raise FormatError(f"{source}: malformed CHANNELS line")
            chans = tuple(t.lower() for t in need(2 + int(count))[2:])
            unknown = [c for c in chans if c not in CHANNEL_NAMES]
            if unknown:
                raise FormatError(
                    f"{source}: unknown channel(s) {', '.join(unknown)} of joint {names[stack[-1]]}"
                )
            channels[stack[-1]] = chans
            i += 2 + int(count)
        elif tok == "}":
            if not stack:
                raise FormatError(f"{source}: unbalanced '}}' in the hierarchy")
            stack.pop()
            i += 1
        else:
            raise FormatError(f"{source}: unexpected {tok!r} in the hierarchy")
    if stack:
        raise FormatError(f"{source}: hierarchy not closed ({len(stack)} open block(s); truncated?)")
    if not names:
        raise FormatError(f"{source}: no ROOT joint")
    frame_time, values = _parse_motion(text[match.end() :], sum(len(c) for c in channels), source)
    return BvhData(
        tuple(names), tuple(parents), np.array(offsets, float), tuple(channels), frame_time, values
    )


def _parse_motion(body: str, n_chan: int, source: object) -> tuple[float, np.ndarray]:
    """The text after MOTION -> (Frame Time in s, (T, n_chan) values); FormatError when truncated or malformed."""
    frames = re.match(r"\s*Frames\s*:\s*(\S+)", body)
    ftime = re.match(r"\s*Frame\s+Time\s*:\s*(\S+)", body[frames.end() :]) if frames else None
    if not frames or not ftime:
        raise FormatError(f"{source}: MOTION needs 'Frames:' and 'Frame Time:' lines")
    if not frames.group(1).isdigit():
        raise FormatError(f"{source}: Frames must be a whole number, got {frames.group(1)!r}")
    n_frames = int(frames.group(1))
    frame_time = _float(ftime.group(1), "Frame Time", source)
    if not np.isfinite(frame_time) or frame_time <= 0:
        raise FormatError(f"{source}: Frame Time must be positive, got {frame_time}")
    raw = body[frames.end() + ftime.end() :].split()
    if len(raw) != n_frames * n_chan:
        what = "truncated" if len(raw) < n_frames * n_chan else "too many values"
        raise FormatError(
            f"{source}: {what}: {n_frames} frames x {n_chan} channels need {n_frames * n_chan} values, "
            f"found {len(raw)}"
        )
    try:
        values = np.array(raw, dtype=np.float64).reshape(n_frames, n_chan)
    except ValueError as err:
        raise FormatError(f"{source}: non-numeric frame data ({err})") from err
    if not np.isfinite(values).all():
        raise FormatError(f"{source}: frame data holds NaN or infinite values")
    return frame_time, values


def axis_rotation(axis: int, angle_rad: np.ndarray) -> np.ndarray:
    """(...,) angles in radians about axis 0/1/2 (x/y/z) -> (..., 3, 3) right-handed rotation matrices."""
    c, s = np.cos(angle_rad), np.sin(angle_rad)
    out = np.zeros(np.shape(angle_rad) + (3, 3))
    a, b = (axis + 1) % 3, (axis + 2) % 3  # cyclic, so that y gets +sin at [0, 2]
    out[..., axis, axis] = 1.0
    out[..., a, a], out[..., b, b] = c, c
    out[..., a, b], out[..., b, a] = -s, s
    return out


def bvh_global_positions(bvh: BvhData) -> np.ndarray:
    """Forward kinematics: (T, J, 3) global joint positions in file units (conventions in the module docstring)."""
    n, n_joints = bvh.n_frames, len(bvh.names)
    positions = np.zeros((n, n_joints, 3))
    rotations = np.zeros((n, n_joints, 3, 3))
    col = 0
    for j, chans in enumerate(bvh.channels):
        trans = np.repeat(bvh.offsets[j][None], n, axis=0)
        rot = np.broadcast_to(np.eye(3), (n, 3, 3)).copy()
        for k, chan in enumerate(chans):
            axis, kind = CHANNEL_NAMES[chan]
            if kind == "position":
                trans[:, axis] = bvh.values[:, col + k]
            else:
                rot = rot @ axis_rotation(axis, np.radians(bvh.values[:, col + k]))
        col += len(chans)
        p = bvh.parents[j]
        if p < 0:
            rotations[:, j], positions[:, j] = rot, trans
        else:
            rotations[:, j] = rotations[:, p] @ rot
            positions[:, j] = positions[:, p] + np.einsum("tij,tj->ti", rotations[:, p], trans)
    return positions


def _norm_name(name: str) -> str:
    return re.sub(r"[^a-z0-9]", "", name.rsplit(":", 1)[-1].lower())


def map_joints(names: tuple[str, ...] | list[str], source: object = "<bvh>") -> tuple[str, np.ndarray]:
    """Find the 22 HumanML3D joints among BVH joint names -> (scheme name, (22,) indices into ``names``).

    Tries the schemes of :data:`NAME_SCHEMES` in order; FormatError naming ``source`` and the missing joints of
    the closest scheme when none matches all 22.
    """
    lookup: dict[str, int] = {}
    for i, name in enumerate(names):
        lookup.setdefault(_norm_name(name), i)
    best: tuple[int, str, list[str]] | None = None
    for scheme, table in NAME_SCHEMES.items():
        idx, missing = [], []
        for entry in table:
            hit = next((lookup[a] for a in map(_norm_name, entry.split("|")) if a in lookup), None)
            (missing.append(entry) if hit is None else idx.append(hit))
        if not missing:
            return scheme, np.array(idx)
        if best is None or len(missing) < len(best[2]):
            best = (len(missing), scheme, missing)
    _, scheme, missing = best
    raise FormatError(
        f"{source}: skeleton cannot be mapped onto the 22 HumanML3D joints; closest naming ({scheme}) lacks "
        f"{', '.join(m.replace('|', ' or ') for m in missing)}"
    )


def _leg_length(rest: np.ndarray) -> float:
    legs = [(1, 4, 7), (2, 5, 8)]  # hip, knee, ankle (HumanML3D indices)
    return float(
        np.mean([np.linalg.norm(rest[k] - rest[h]) + np.linalg.norm(rest[a] - rest[k]) for h, k, a in legs])
    )


def unit_scale(bvh: BvhData, index: np.ndarray, units: str, source: object) -> tuple[str, float]:
    """Metres per file unit -> (unit name, scale). ``units="auto"`` decides from the rest-pose leg length."""
    if units != "auto":
        if units not in UNIT_SCALE_M:
            raise FormatError(f"{source}: units must be auto, {', '.join(UNIT_SCALE_M)}; got {units!r}")
        return units, UNIT_SCALE_M[units]
    rest = np.zeros_like(bvh.offsets)
    for j, p in enumerate(bvh.parents):
        rest[j] = bvh.offsets[j] + (rest[p] if p >= 0 else 0.0)
    leg = _leg_length(rest[index])
    for name, (lo, hi) in {"m": (0.2, 3.0), "cm": (20.0, 200.0), "mm": (200.0, 3000.0)}.items():
        if lo <= leg < hi:
            return name, UNIT_SCALE_M[name]
    raise FormatError(
        f"{source}: cannot tell the length unit (rest leg length {leg:g}); pass units=m|cm|mm|in"
    )


def _fps(frame_time: float) -> float:
    fps = 1.0 / frame_time  # printed with 6 decimals: at most 1e-4 relative off up to 200 fps
    return float(round(fps)) if abs(fps - round(fps)) <= 2e-4 * fps else fps


def bvh_to_joints(
    bvh: BvhData, source: object = "<bvh>", *, units: str = "auto", up: str = "y"
) -> tuple[np.ndarray, float, dict[str, Any]]:
    """Parsed BVH -> ((T, 22, 3) float32 metres y-up, fps, info dict with scheme, units and up)."""
    if up not in ("y", "z"):
        raise FormatError(f"{source}: up must be 'y' or 'z', got {up!r}")
    scheme, index = map_joints(bvh.names, source)
    unit, scale = unit_scale(bvh, index, units, source)
    joints = bvh_global_positions(bvh)[:, index] * scale
    if up == "z":
        joints = np.stack([joints[..., 0], joints[..., 2], -joints[..., 1]], axis=-1)
    info = {"skeleton": scheme, "units": unit, "up": up, "frame_time_s": bvh.frame_time_s}
    return joints.astype(np.float32), _fps(bvh.frame_time_s), info


def read_bvh_file(path: Path, *, units: str = "auto", up: str = "y", validate: bool = True) -> Motion:
    """One BVH file -> one Motion (22 HumanML3D joints, metres, y-up, fps from Frame Time)."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError as err:
        raise FormatError(f"{path}: cannot read ({err})") from err
    joints, fps, info = bvh_to_joints(parse_bvh(text, path), path, units=units, up=up)
    meta = {"format": NAME, "source": str(path), "file": path.name, **info}
    return make_motion(joints, fps, path, metadata=meta, validate=validate)


def read_bvh(path: Path, *, units: str = "auto", up: str = "y", validate: bool = True) -> list[Motion]:
    """A BVH file, or every ``.bvh`` below a folder (sorted by relative path) -> Motions (see module docstring)."""
    path = Path(path)
    if path.is_file():
        return [read_bvh_file(path, units=units, up=up, validate=validate)]
    files = (
        [p for p in path.rglob("*") if p.suffix.lower() == ".bvh" and p.is_file()] if path.is_dir() else []
    )
    files.sort(key=lambda p: p.relative_to(path).as_posix())
    if not files:
        raise FormatError(f"{path}: no .bvh files")
    out = []
    for file in files:
        motion = read_bvh_file(file, units=units, up=up, validate=validate)
        out.append(replace(motion, metadata={**motion.metadata, "file": file.relative_to(path).as_posix()}))
    return out


# ---------------------------------------------------------------------------------------------------------------
# Writer


def best_rotation(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Least-squares rotations R with R @ a[k] ~ b[t, k] (Kabsch): a (K, 3), b (T, K, 3) -> (T, 3, 3)."""
    u, _, vt = np.linalg.svd(np.einsum("ki,tkj->tij", a, b))
    v, ut = np.swapaxes(vt, -1, -2), np.swapaxes(u, -1, -2)
    fix = np.broadcast_to(np.eye(3), v.shape).copy()
    fix[:, 2, 2] = np.where(np.linalg.det(v @ ut) < 0, -1.0, 1.0)  # a proper rotation, never a reflection
    return v @ fix @ ut


def write_bvh(motion: Motion, path: str | Path) -> Path:
    """Write a Motion as a BVH file with the 22-joint HumanML3D hierarchy; returns the path.

    OFFSETs are the bone vectors of the first frame (metres); the root has position channels, every joint
    ``Zrotation Yrotation Xrotation`` (degrees) computed by aligning each joint's rest bone vectors with the
    current ones (one child: the smallest rotation; several: the least-squares rotation). Reading the file back
    reproduces the positions exactly (up to the 6 printed decimals) when the bone lengths and the shapes of
    multi-child joints stay as in frame 0, which holds for rigid skeletons (HumanML3D, MoMask).
    """
    sk = skeleton()
    if not np.isfinite(motion.fps) or motion.fps <= 0:
        raise MotionError(f"cannot write {path}: fps must be positive, got {motion.fps}")
    parents = np.array(sk.parents)
    pos = motion.joints_m.astype(np.float64)
    offsets = pos[0] - pos[0, np.maximum(parents, 0)]
    offsets[0] = 0.0
    short = [sk.names[j] for j in range(1, N_JOINTS) if np.linalg.norm(offsets[j]) < 1e-6]
    if short:
        raise MotionError(f"cannot write {path}: zero-length bone(s) at frame 0 ending at {', '.join(short)}")
    children = [[c for c in range(N_JOINTS) if parents[c] == j] for j in range(N_JOINTS)]
    glob = np.zeros((motion.n_frames, N_JOINTS, 3, 3))
    for j in range(N_JOINTS):  # parents come before children in HumanML3D order
        kids = children[j]
        if not kids:
            glob[:, j] = glob[:, parents[j]]
        elif len(kids) == 1:
            glob[:, j] = quat_to_matrix(quat_between(offsets[kids[0]], pos[:, kids[0]] - pos[:, j]))
        else:
            glob[:, j] = best_rotation(offsets[kids], pos[:, kids] - pos[:, j, None])
    local = glob.copy()
    local[:, 1:] = np.swapaxes(glob[:, parents[1:]], -1, -2) @ glob[:, 1:]
    with warnings.catch_warnings():  # gimbal lock: scipy warns but still returns an equivalent triple
        warnings.simplefilter("ignore", UserWarning)
        euler = Rotation.from_matrix(local.reshape(-1, 3, 3)).as_euler("ZYX", degrees=True)
    euler = np.unwrap(euler.reshape(motion.n_frames, N_JOINTS, 3), period=360.0, axis=0)

    order: list[int] = []
    lines = ["HIERARCHY"]

    def emit(j: int, depth: int) -> None:
        tab = "\t" * depth
        order.append(j)
        lines.append(f"{tab}{'ROOT' if j == 0 else 'JOINT'} {sk.names[j]}")
        lines.append(f"{tab}{{")
        lines.append(f"{tab}\tOFFSET {offsets[j, 0]:.6f} {offsets[j, 1]:.6f} {offsets[j, 2]:.6f}")
        pos_ch = "Xposition Yposition Zposition " if j == 0 else ""
        lines.append(f"{tab}\tCHANNELS {6 if j == 0 else 3} {pos_ch}Zrotation Yrotation Xrotation")
        for c in children[j]:
            emit(c, depth + 1)
        if not children[j]:
            lines.extend(
                [
                    f"{tab}\tEnd Site",
                    f"{tab}\t{{",
                    f"{tab}\t\tOFFSET 0.000000 0.000000 0.000000",
                    f"{tab}\t}}",
                ]
            )
        lines.append(f"{tab}}}")

    emit(0, 0)
    frame_values = np.concatenate([pos[:, 0], euler[:, order].reshape(motion.n_frames, -1)], axis=1)
    lines += ["MOTION", f"Frames: {motion.n_frames}", f"Frame Time: {1.0 / motion.fps:.6f}"]
    path = Path(path)
    with open(path, "w", encoding="utf-8") as f:
        f.write("\n".join(lines) + "\n")
        np.savetxt(f, frame_values, fmt="%.6f")
    return path


register_format(
    MotionFormat(
        name=NAME,
        description="BVH motion capture (HumanML3D/SMPL/MoMask-Mixamo joint names), a file or a folder",
        reference="MoMask visualization/joints2bvh.py; IMUGPT data_generation.py; ../shared/FORMATS.md 5.4",
        reader=read_bvh,
        sniff=lambda p: path_kind(p) == NAME,
        options=("units", "up", "validate"),
    )
)
