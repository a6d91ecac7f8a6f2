"""The eight body shapes of Table I (``data/body_shapes.toml``) and the body density shared by all body models.

>>> body_shape("female_short").height_m
1.5
>>> [s.name for s in body_shapes()][:2]
['male_tall', 'male_short']
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from functools import cache
from importlib import resources

from ..errors import FormatError, UnknownNameError

SEXES = ("male", "female")


@dataclass(frozen=True)
class BodyShape:
    """One Table I body shape: the targets a body model is fitted to.

    Attributes:
        name: e.g. "female_short".
        sex: "male" or "female".
        height_cm: standing height (top of the head to the soles), cm.
        weight_kg: body mass, kg.
    """

    name: str
    sex: str
    height_cm: float
    weight_kg: float

    @property
    def height_m(self) -> float:
        """Standing height in metres."""
        return self.height_cm / 100.0

    @property
    def bmi_kg_m2(self) -> float:
        """Body-mass index, kg/m^2."""
        return self.weight_kg / self.height_m**2


@cache
def _table() -> tuple[tuple[BodyShape, ...], float]:
    path = "data/body_shapes.toml"
    raw = tomllib.loads(resources.files("text2imu.builder").joinpath(path).read_text("utf-8"))
    shapes = []
    try:
        density = float(raw["density_kg_m3"])
        for row in raw["shape"]:
            shape = BodyShape(
                name=str(row["name"]),
                sex=str(row["sex"]),
                height_cm=float(row["height_cm"]),
                weight_kg=float(row["weight_kg"]),
            )
            if shape.sex not in SEXES:
                raise FormatError(
                    f"{path}: shape {shape.name} has sex {shape.sex!r}, expected one of {SEXES}"
                )
            if not (50 < shape.height_cm < 250 and 10 < shape.weight_kg < 300):
                raise FormatError(f"{path}: shape {shape.name} has an implausible height or weight")
            shapes.append(shape)
    except KeyError as err:
        raise FormatError(f"{path}: missing key {err}") from err
    names = [s.name for s in shapes]
    if len(set(names)) != len(names):
        raise FormatError(f"{path}: a shape name appears twice")
    if not 900 < density < 1100:
        raise FormatError(f"{path}: density_kg_m3 = {density} is not a body density")
    return tuple(shapes), density


def body_shapes() -> tuple[BodyShape, ...]:
    """All Table I shapes, in the table's order (male_tall, male_short, ..., female_adipose)."""
    return _table()[0]


def shape_names() -> tuple[str, ...]:
    """Names of the Table I shapes, in the table's order."""
    return tuple(s.name for s in body_shapes())


def body_shape(name: str) -> BodyShape:
    """The shape called ``name``; an unknown name raises UnknownNameError with "did you mean"."""
    for shape in body_shapes():
        if shape.name == name:
            return shape
    raise UnknownNameError("body shape", name, shape_names())


def body_density_kg_m3() -> float:
    """Whole-body density (kg/m^3) every body model uses for mass = closed-mesh volume x density."""
    return _table()[1]
