"""Shared vocabularies: the eight activities (``data/vocabulary.toml``) and the skin-site names (``data/sites.toml``).

The benchmark imports these too (DESIGN.md section 2: shared vocabularies may cross the builder/benchmark line).
"""

from __future__ import annotations

import tomllib
from importlib import resources

from .errors import UnknownNameError


def _data(name: str) -> dict:
    return tomllib.loads(resources.files(__package__).joinpath("data", name).read_text("utf-8"))


#: The RealWorld eight, in ClassLabel order.
ACTIVITIES: tuple[str, ...] = tuple(_data("vocabulary.toml")["activities"])
#: Every named skin site, e.g. "realworld.waist", in the order of sites.toml.
SITE_NAMES: tuple[str, ...] = tuple(_data("sites.toml")["sites"])


def check_activity(name: str) -> str:
    """Return ``name`` if it is one of :data:`ACTIVITIES`, else raise with "did you mean"."""
    if name not in ACTIVITIES:
        raise UnknownNameError("activity", name, ACTIVITIES)
    return name


def check_site(name: str) -> str:
    """Return ``name`` if it is one of :data:`SITE_NAMES`, else raise with "did you mean"."""
    if name not in SITE_NAMES:
        raise UnknownNameError("site", name, SITE_NAMES)
    return name
