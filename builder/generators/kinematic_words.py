"""Prompt words -> a motion plan for the ``kinematic`` generator.

The vocabulary is data (``kinematic_words.toml``): pace, direction, path, stride, arm and hold words, support
surfaces with their heights, and the variants of each activity. Phrases match on word boundaries in the lower-cased
prompt. The duration comes from "for about eight seconds", "lasting 5 s", "five to seven seconds" (the middle)
or a vague phrase ("a few seconds"), is clamped to 3-10 s (the HumanML3D clip range the paper uses), and defaults
to 6 s. The activity is the prompt's label, never guessed from the words.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from functools import cache
from importlib import resources
from typing import Any

from ..prompts import ACTIVITIES, Prompt

PACES = ("slow", "normal", "brisk", "fast")
_PACE_LEVEL = {"normal": 0, "slow": -1, "brisk": 1, "fast": 2}


@dataclass(frozen=True)
class Plan:
    """What to synthesise, read from a prompt.

    Attributes:
        activity: one of the eight activities.
        duration_s: clip length in seconds, 3-10.
        pace: "slow", "normal", "brisk" or "fast".
        direction: +1 forward, -1 backward.
        path: "straight", "circle", "turn_around", "turn_left" or "turn_right".
        size: path size factor (circle radius), 1 by default.
        stride: step length factor, 1 by default.
        arm_swing: arm swing amplitude factor, 1 by default.
        hold: what the hands do while moving: None, "handrail", "bag" or "pockets".
        side: "left" or "right" for a one-handed hold or a phone; None otherwise.
        lean_deg: extra forward trunk lean in degrees.
        variant: activity-specific form, e.g. "cmj" (jumping), "supine" (lying), "typing" (sitting).
        styles: extra style flags, e.g. ("look_down", "high").
        support: name of the supporting surface ("floor", "bed", "chair", ...).
        support_height_m: its height in metres.
        count: number of repetitions asked for (jumps), or None.
        matched: the phrases that shaped the plan, for provenance.
    """

    activity: str
    duration_s: float
    pace: str = "normal"
    direction: int = 1
    path: str = "straight"
    size: float = 1.0
    stride: float = 1.0
    arm_swing: float = 1.0
    hold: str | None = None
    side: str | None = None
    lean_deg: float = 0.0
    variant: str = "default"
    styles: tuple[str, ...] = ()
    support: str = "floor"
    support_height_m: float = 0.0
    count: int | None = None
    matched: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly dict (for Motion metadata)."""
        d = asdict(self)
        d["styles"], d["matched"] = list(self.styles), list(self.matched)
        return d


@cache
def vocabulary() -> Mapping[str, Any]:
    """The parsed ``kinematic_words.toml`` (cached)."""
    return tomllib.loads(resources.files(__package__).joinpath("kinematic_words.toml").read_text("utf-8"))


def _has(text: str, phrase: str) -> bool:
    return re.search(r"(?<![a-z])" + re.escape(phrase) + r"(?![a-z])", text) is not None


def _first(text: str, table: Mapping[str, list[str]], matched: list[str]) -> str | None:
    for key, phrases in table.items():
        for ph in phrases:
            if _has(text, ph):
                matched.append(ph)
                return key
    return None


def _number(word: str) -> float | None:
    nums = vocabulary()["numbers"]
    if re.fullmatch(r"\d+(?:\.\d+)?", word):
        return float(word)
    return float(nums[word]) if word in nums else None


def _number_words() -> str:
    return "|".join(sorted((w for w in vocabulary()["numbers"] if w not in ("a", "an")), key=len, reverse=True))


def parse_duration_s(text: str) -> tuple[float, str | None]:
    """(duration in seconds clamped to the allowed range, the phrase it came from or None for the default)."""
    cfg = vocabulary()["duration"]
    lo, hi = float(cfg["min_s"]), float(cfg["max_s"])
    digits = r"(\d+(?:\.\d+)?)"
    words = f"({_number_words()})"
    patterns = (
        rf"\b{digits}(?:\s*(?:-|to|or)\s*{digits})?\s*(seconds?|secs?|s|minutes?|mins?)\b",
        rf"\b{words}(?:\s+(?:to|or)\s+{words})?\s+(seconds?|minutes?)\b",
    )
    for pattern in patterns:
        m = re.search(pattern, text)
        if m:
            a, b = _number(m.group(1)), _number(m.group(2)) if m.group(2) else None
            value = (a + b) / 2 if b is not None else a
            if m.group(3).startswith("m"):
                value *= 60.0
            return min(max(value, lo), hi), m.group(0)
    for phrase, seconds in cfg["vague"].items():
        if _has(text, phrase):
            return min(max(float(seconds), lo), hi), phrase
    return float(cfg["default_s"]), None


def parse_count(text: str) -> tuple[int | None, str | None]:
    """Repetitions asked for ("twice", "three times", "one high jump", "a long jump"), or None."""
    if _has(text, "once"):
        return 1, "once"
    if _has(text, "twice"):
        return 2, "twice"
    words = f"(\\d+|{_number_words()})"
    for pattern in (rf"\b{words} times\b", rf"\b{words} (?:[a-z]+ ){{0,2}}jumps?\b", r"\ban? (?:[a-z]+ ){0,2}jump\b"):
        m = re.search(pattern, text)
        if m:
            return (int(_number(m.group(1))) if m.groups() else 1), m.group(0)
    return None, None


def parse_prompt(prompt: Prompt) -> Plan:
    """Read a :class:`Plan` from a prompt's activity and words."""
    if prompt.activity not in ACTIVITIES:  # a Prompt built by hand may carry anything
        from ..errors import UnknownNameError

        raise UnknownNameError("activity", prompt.activity, ACTIVITIES)
    voc = vocabulary()
    text = " ".join(prompt.text.lower().replace(",", " ,").split())
    matched: list[str] = []
    duration, phrase = parse_duration_s(text)
    if phrase:
        matched.append(phrase)
    levels = [(k, ph) for k, phrases in voc["pace"].items() for ph in phrases if _has(text, ph)]
    pace = "normal"
    if levels:
        pace, ph = max(levels, key=lambda kp: (abs(_PACE_LEVEL[kp[0]]), _PACE_LEVEL[kp[0]]))
        matched.append(ph)
    direction = -1 if _first(text, voc["direction"], matched) == "backward" else 1
    path = _first(text, voc["path"], matched) or "straight"
    size = {"large": 1.8, "small": 0.6, None: 1.0}[_first(text, voc["size"], matched)]
    stride = {"long": 1.15, "short": 0.8, None: 1.0}[_first(text, voc["stride"], matched)]
    arm_swing = {"loose": 1.35, "stiff": 0.4, None: 1.0}[_first(text, voc["arms"], matched)]
    hold = _first(text, voc["hold"], matched)
    lean = 6.0 if _first(text, voc["lean"], matched) else 0.0
    styles = tuple(k for k, phrases in voc["style"].items() if any(_has(text, ph) for ph in phrases))
    side = _side(text)
    support = next((s for s in voc["support"] if _has(text, s)), None)
    variants = voc["variants"].get(prompt.activity)
    variant = (_first(text, variants, matched) if variants else None) or "default"
    if prompt.activity == "lying":
        styles += tuple(k for k, phrases in voc["variants"]["lying_style"].items()
                        if any(_has(text, ph) for ph in phrases))
    if support is None:
        support = "chair" if prompt.activity == "sitting" else "floor"
    count, count_phrase = parse_count(text) if prompt.activity == "jumping" else (None, None)
    if count_phrase:
        matched.append(count_phrase)
    return Plan(
        activity=prompt.activity, duration_s=duration, pace=pace, direction=direction, path=path, size=size,
        stride=stride, arm_swing=arm_swing, hold=hold, side=side, lean_deg=lean, variant=variant, styles=styles,
        support=support, support_height_m=float(voc["support"][support]), count=count, matched=tuple(matched),
    )


def _side(text: str) -> str | None:
    """"left"/"right" from "left hand", "right ear", "in her left hand" (not from "turns left")."""
    m = re.search(r"\b(left|right) (hand|ear|arm|side)\b", text)
    return m.group(1) if m else None
