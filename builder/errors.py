"""Exceptions a user can act on.

Every error that reaches the command line derives from :class:`Text2ImuError`; the CLI prints its message on one
line and exits with status 2. Library code raises these instead of using ``assert``.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable


class Text2ImuError(Exception):
    """A user-facing error: bad input, a missing file, an unknown name. The message says what to do."""


class UnknownNameError(Text2ImuError, KeyError):
    """An unknown name (generator, site, shape, ...), with "did you mean" suggestions."""

    def __init__(self, kind: str, name: str, known: Iterable[str]):
        self.kind, self.name = kind, name
        self.known = sorted(known)
        self.suggestions = difflib.get_close_matches(name, self.known, n=3, cutoff=0.6)
        Text2ImuError.__init__(self, unknown_name_message(kind, name, self.known))

    def __str__(self) -> str:  # KeyError would quote the message otherwise
        return self.args[0]


def unknown_name_message(kind: str, name: str, known: Iterable[str]) -> str:
    """``Unknown generator 'mdn'. Did you mean: mdm?`` (or the list of known names when nothing is close)."""
    known = sorted(known)
    close = difflib.get_close_matches(name, known, n=3, cutoff=0.6)
    if close:
        return f"Unknown {kind} '{name}'. Did you mean: {', '.join(close)}?"
    return f"Unknown {kind} '{name}'. Known: {', '.join(known) if known else '(none)'}."


class MotionError(Text2ImuError):
    """A motion that is not a usable 22-joint skeleton sequence."""


class FormatError(Text2ImuError):
    """A file that does not follow the layout its reader expects; the message names the file."""


class SimulationError(Text2ImuError):
    """Signals that cannot be simulated: bad shapes, NaN, non-positive rates, too few frames, non-rotations."""
