"""Label maps of the real datasets (data in ``label_maps.toml``): dataset label -> one of the eight activities."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from functools import cache
from importlib import resources
from types import MappingProxyType

from text2imu.builder.errors import Text2ImuError, UnknownNameError

from .recording import ACTIVITIES

LABEL_MAPS_FILE = "label_maps.toml"


@dataclass(frozen=True)
class LabelMap:
    """One dataset's labels.

    Attributes:
        dataset: reader name (a table of label_maps.toml).
        names: label (as text, e.g. ``"7"`` or ``"walking"``) -> the dataset's own name for it.
        activities: label -> activity of :data:`~.recording.ACTIVITIES`, for mapped labels only.
    """

    dataset: str
    names: MappingProxyType
    activities: MappingProxyType

    def activity(self, label: object) -> str | None:
        """Our activity for a dataset label (id or name; ints and strings both work), or None: dropped."""
        return self.activities.get(str(label))

    def name(self, label: object) -> str:
        """The dataset's name for a label; ``"label <x> (not in the label map)"`` for one it does not define."""
        key = str(label)
        return self.names.get(key, f"label {key} (not in the label map)")

    def is_known(self, label: object) -> bool:
        return str(label) in self.names


def _parse(tables: dict) -> dict[str, LabelMap]:
    maps = {}
    for dataset, table in tables.items():
        names, activities = {}, {}
        for label, entry in table.items():
            if not isinstance(entry, dict) or "name" not in entry:
                raise Text2ImuError(f"{LABEL_MAPS_FILE}: [{dataset}] {label} needs a table with a 'name'")
            names[label] = str(entry["name"])
            if "activity" in entry:
                if entry["activity"] not in ACTIVITIES:
                    raise UnknownNameError("activity", str(entry["activity"]), ACTIVITIES)
                activities[label] = entry["activity"]
        maps[dataset] = LabelMap(dataset, MappingProxyType(names), MappingProxyType(activities))
    return maps


@cache
def _all_maps() -> dict[str, LabelMap]:
    text = resources.files(__package__).joinpath(LABEL_MAPS_FILE).read_text(encoding="utf-8")
    return _parse(tomllib.loads(text))


def label_map(dataset: str) -> LabelMap:
    """The label map of one dataset (``uci_hapt``, ``pamap2``, ``usc_had``, ``realworld``)."""
    maps = _all_maps()
    if dataset not in maps:
        raise UnknownNameError("label map", dataset, maps)
    return maps[dataset]
