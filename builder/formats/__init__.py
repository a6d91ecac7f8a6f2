"""Readers that turn generator outputs into :class:`~text2imu.builder.motion.Motion` lists.

Each reader is declared by a :class:`MotionFormat` and registered in :data:`FORMATS`. A reader module calls
:func:`register_format` at import; :func:`read_motions` picks the reader by name, or detects it from the path.
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ..errors import FormatError
from ..motion import Motion
from ..registry import Registry

log = logging.getLogger(__name__)

# reader(path, **options) -> list[Motion]; raises FormatError naming the file for bad input.
Reader = Callable[..., list[Motion]]
# sniff(path) -> True when this format can read the path (cheap: suffix, a few bytes, npz keys).
Sniffer = Callable[[Path], bool]


@dataclass(frozen=True)
class MotionFormat:
    """Metadata of one motion-file format and its reader.

    Attributes:
        name: registry name, e.g. "mdm-results".
        description: one line for ``--help`` and listings.
        reference: where the layout is specified (repository file or FORMATS.md section).
        reader: the function that reads it.
        sniff: detects the format from a path.
        options: names of the reader's keyword options (e.g. ("fps", "body_model_path")).
    """

    name: str
    description: str
    reference: str
    reader: Reader
    sniff: Sniffer
    options: tuple[str, ...] = ()


FORMATS: Registry[MotionFormat] = Registry("motion format")

# Modules that register formats when imported; detection tries them in this order.
_READER_MODULES: tuple[str, ...] = (
    "mdm",
    "joints",
    "bvh",
    "amass",
)


def register_format(fmt: MotionFormat) -> MotionFormat:
    return FORMATS.register(fmt.name, fmt, replace=True)


def _load_readers() -> None:
    for mod in _READER_MODULES:
        importlib.import_module(f"{__name__}.{mod}")


def detect_format(path: str | Path) -> MotionFormat:
    """The first registered format whose sniffer accepts ``path``; FormatError when none does."""
    _load_readers()
    path = Path(path)
    if not path.exists():
        raise FormatError(f"{path}: no such file or folder")
    for fmt in FORMATS.values():  # sniffers are mutually exclusive, so the order does not matter
        try:
            if fmt.sniff(path):
                return fmt
        except OSError as err:
            raise FormatError(f"{path}: cannot read ({err})") from err
    raise FormatError(f"{path}: not a known motion format; pass --format ({', '.join(FORMATS)})")


def read_motions(path: str | Path, format: str | None = None, **options) -> list[Motion]:
    """Read every motion in ``path`` with the named reader (or the detected one).

    Unknown options for that reader raise FormatError; so does an unreadable or malformed file.
    """
    _load_readers()
    fmt = FORMATS[format] if format else detect_format(path)
    unknown = sorted(set(options) - set(fmt.options))
    if unknown:
        raise FormatError(f"format '{fmt.name}' takes no option(s) {', '.join(unknown)}")
    log.debug("reading %s as %s", path, fmt.name)
    return fmt.reader(Path(path), **options)
