"""Named skin sites where virtual IMUs sit (``data/sites.toml``): dataset placements and per-model vertex ids.

A site is named ``<dataset>.<part>`` (``realworld.waist``, ``pamap2.hand``, ...). Its table says where the real
dataset put the device (side, spot, device, source) and, per body model, the index of the site's vertex in
that model's full mesh (key ``anny``, ``smpl``, ...), the way smplx keeps ``vertex_ids``. A ``<model>_rule``
table records the geometric rule that chose the vertex (see :func:`text2imu.builder.bodies.mesh.site_vertex_by_ray`).
An optional ``mount_rotvec_deg`` is the real device's fixed mounting rotation against the skin frame
(:mod:`text2imu.builder.mounting`). ``joint`` names the skeleton joint where the sensor sits under the ``joint``
placement (:mod:`text2imu.builder.placement`): the segment's own joint or one of its children.

>>> site("realworld.waist").side
'centre'
"""

from __future__ import annotations

import math
import tomllib
from dataclasses import dataclass, field
from functools import cache
from importlib import resources

from ..errors import FormatError, UnknownNameError
from ..skeleton import skeleton

SIDES = ("left", "right", "centre")
MOUNT_KEY = "mount_rotvec_deg"
JOINT_KEY = "joint"
_TEXT_KEYS = ("body_part", "side", "spot", "segment", "device", "source")


@dataclass(frozen=True)
class Site:
    """One named skin site.

    Attributes:
        name: "<dataset>.<part>", e.g. "realworld.thigh".
        dataset: the dataset key ("realworld", "hapt", "pamap2", "usc_had").
        dataset_title: the dataset's full name and reference.
        body_part: the dataset's own name for the position.
        side: "left", "right" or "centre" (the subject's side).
        spot: where on the part the device sits, in words.
        segment: the HumanML3D joint whose segment carries the device (SMPL convention: segment j spans joint j
            to its child), e.g. "left_hip" for the thigh.
        device: the device and how it was worn.
        source: where the placement is stated.
        vertex_ids: body model -> vertex index of the site in that model's full mesh.
        rules: body model -> the rule table that chose the vertex.
        mount_rotvec_deg: the dataset's device mounting, a rotation vector (degrees) in the skin frame (device
            frame = skin frame @ exp(rotvec), see :mod:`text2imu.builder.mounting`), or None for none.
        joint: the skeleton joint the sensor sits at under the ``joint`` placement: ``segment`` (the joint the
            segment hangs from) or a child of it (the segment's distal end); "" means ``segment``.
    """

    name: str
    dataset: str
    dataset_title: str
    body_part: str
    side: str
    spot: str
    segment: str
    device: str
    source: str
    vertex_ids: dict[str, int] = field(default_factory=dict)
    rules: dict[str, dict] = field(default_factory=dict)
    mount_rotvec_deg: tuple[float, float, float] | None = None
    joint: str = ""

    @property
    def sensor_joint(self) -> str:
        """The joint where a ``joint``-placed sensor sits (``joint``, else ``segment``)."""
        return self.joint or self.segment

    def vertex_id(self, body_model: str) -> int:
        """The site's vertex index on ``body_model``; UnknownNameError when the table has none for it."""
        try:
            return self.vertex_ids[body_model]
        except KeyError:
            raise UnknownNameError(f"body model for site {self.name}", body_model, self.vertex_ids) from None


def parse_mount(value: object, where: str) -> tuple[float, float, float]:
    """A ``mount_rotvec_deg`` value: three finite numbers (degrees), each within +-180; FormatError otherwise."""
    ok = isinstance(value, list) and len(value) == 3 and all(
        isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v) and abs(v) <= 180
        for v in value)
    if not ok:
        raise FormatError(f"{where}: {MOUNT_KEY} must be three numbers in degrees within +-180, got {value!r}")
    return tuple(float(v) for v in value)


def _parse_joint(value: object, segment: str, where: str) -> str:
    """A ``joint`` value: a joint name that is ``segment`` or a child of it (so it moves rigidly with the
    segment); FormatError otherwise."""
    sk = skeleton()
    if not isinstance(value, str) or value not in sk.names:
        raise FormatError(f"{where}: {JOINT_KEY} must be a joint name, got {value!r}")
    if value != segment and sk.parents[sk.index(value)] != sk.index(segment):
        raise FormatError(f"{where}: {JOINT_KEY} {value!r} is neither the segment {segment!r} nor a child of it")
    return value


@cache
def _load() -> tuple[Site, ...]:
    path = "data/sites.toml"
    raw = tomllib.loads(resources.files("text2imu.builder").joinpath(path).read_text("utf-8"))
    datasets = raw.get("datasets", {})
    joint_names = skeleton().names
    out = []
    for name, table in raw.get("sites", {}).items():
        dataset = name.split(".", 1)[0]
        if "." not in name or dataset not in datasets:
            raise FormatError(f"{path}: site {name!r} is not '<dataset>.<part>' with a known dataset")
        missing = [k for k in _TEXT_KEYS if k not in table]
        if missing:
            raise FormatError(f"{path}: site {name} lacks {', '.join(missing)}")
        if table["side"] not in SIDES:
            raise FormatError(f"{path}: site {name} has side {table['side']!r}, expected one of {SIDES}")
        if table["segment"] not in joint_names:
            raise FormatError(f"{path}: site {name} has segment {table['segment']!r}, not a joint name")
        ids, rules, mount = {}, {}, None
        joint = _parse_joint(table.get(JOINT_KEY, table["segment"]), table["segment"], f"{path}: site {name}")
        for key, value in table.items():
            if key == MOUNT_KEY:
                mount = parse_mount(value, f"{path}: site {name}")
            elif key == JOINT_KEY:
                continue
            elif key.endswith("_rule") and isinstance(value, dict):
                rules[key[: -len("_rule")]] = dict(value)
            elif key not in _TEXT_KEYS:
                if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                    raise FormatError(
                        f"{path}: site {name}: {key} must be a vertex index (a non-negative integer)"
                    )
                ids[key] = value
        out.append(
            Site(
                name=name,
                dataset=dataset,
                dataset_title=str(datasets[dataset]["title"]),
                vertex_ids=ids,
                rules=rules,
                mount_rotvec_deg=mount,
                joint=joint,
                **{k: str(table[k]) for k in _TEXT_KEYS},
            )
        )
    return tuple(out)


def sites() -> tuple[Site, ...]:
    """All sites, in the table's order."""
    return _load()


def site_names() -> tuple[str, ...]:
    """Names of all sites, in the table's order."""
    return tuple(s.name for s in _load())


def site(name: str) -> Site:
    """The site called ``name``; an unknown name raises UnknownNameError with "did you mean"."""
    for s in _load():
        if s.name == name:
            return s
    raise UnknownNameError("site", name, site_names())


def site_mount_rotvec_deg(name: str) -> tuple[float, float, float] | None:
    """The device mounting of site ``name`` (rotation vector in degrees), None for a site without one or a name
    the table does not have (a custom body's site)."""
    for s in _load():
        if s.name == name:
            return s.mount_rotvec_deg
    return None


def site_vertex_id(name: str, body_model: str) -> int:
    """Vertex index of site ``name`` on ``body_model``'s mesh."""
    return site(name).vertex_id(body_model)
