"""Prompt sets: the official v1 set, its stable hash, and clear errors for malformed prompt files."""

from __future__ import annotations

import re
from collections import Counter

import pytest

from text2imu.builder.errors import FormatError, UnknownNameError
from text2imu.builder.prompts import (
    ACTIVITIES,
    Prompt,
    available_prompt_sets,
    canonical_bytes,
    load_prompt_file,
    load_prompt_set,
    prompt_set_sha256,
)

# Changing this value means the official prompts changed: that needs a new set (v2), never an edit of v1.
V1_SHA256 = "03fe59ebf0611ac880023211d35224bb42d0de52400e2d308fcc13f5c288ceff"

GOOD = """
version = "t1"

[[prompts]]
prompt_id = "walking-01"
activity = "walking"
text = "A person walks forward for about five seconds."

[[prompts]]
prompt_id = "sitting-01"
activity = "sitting"
text = "A person sits on a chair for about six seconds."
"""


def test_v1_has_ten_prompts_per_activity_with_stable_ids():
    pset = load_prompt_set("v1")
    assert pset.version == "v1" and len(pset) == 80
    assert Counter(p.activity for p in pset) == {a: 10 for a in ACTIVITIES}
    for p in pset:
        assert re.fullmatch(rf"{p.activity}-(0[1-9]|10)", p.prompt_id), p.prompt_id
    assert [p.prompt_id for p in pset] == sorted(p.prompt_id for p in pset)
    assert "v1" in available_prompt_sets()


def test_v1_prompts_are_paper_style_sentences_of_3_to_10_seconds():
    numbers = {"three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8, "nine": 9, "ten": 10}
    for p in load_prompt_set("v1"):
        assert p.text[0].isupper() and p.text.endswith("."), p.prompt_id
        m = re.search(r"(\w+) seconds", p.text)
        assert m and 3 <= numbers[m.group(1)] <= 10, p.prompt_id
    assert len({p.text for p in load_prompt_set("v1")}) == 80


def test_v1_golden_hash():
    pset = load_prompt_set("v1")
    assert pset.sha256 == V1_SHA256
    assert prompt_set_sha256("v1", pset.prompts) == V1_SHA256


def test_hash_ignores_layout_but_not_content(tmp_path):
    a = tmp_path / "a.toml"
    a.write_text(GOOD, encoding="utf-8")
    # Same prompts in another order, with comments, other quoting and CRLF line endings.
    reordered = (
        "# comment\r\nversion = 't1'\r\n\r\n[[prompts]]\r\ntext = 'A person sits on a chair for about six seconds.'\r\n"
        "activity = 'sitting'\r\nprompt_id = 'sitting-01'\r\n[[prompts]]\r\nprompt_id = \"walking-01\"\r\n"
        "activity = \"walking\"\r\ntext = \"A person walks forward for about five seconds.  \"\r\n"
    )
    b = tmp_path / "b.toml"
    b.write_bytes(reordered.encode("utf-8"))
    assert load_prompt_file(a).sha256 == load_prompt_file(b).sha256
    c = tmp_path / "c.toml"
    c.write_text(GOOD.replace("five seconds", "six seconds"), encoding="utf-8")
    assert load_prompt_file(c).sha256 != load_prompt_file(a).sha256
    d = tmp_path / "d.toml"
    d.write_text(GOOD.replace('version = "t1"', 'version = "t2"'), encoding="utf-8")
    assert load_prompt_file(d).sha256 != load_prompt_file(a).sha256


def test_canonical_serialisation_is_documented_json():
    prompts = (Prompt("b-1", "walking", "Walk."), Prompt("a-1", "sitting", "Sit."))
    assert canonical_bytes("x", prompts) == (
        b'{"prompts":[{"activity":"sitting","prompt_id":"a-1","text":"Sit."},'
        b'{"activity":"walking","prompt_id":"b-1","text":"Walk."}],"version":"x"}'
    )


def test_lookup_by_id_and_activity():
    pset = load_prompt_set()
    assert pset.get("walking-03").activity == "walking"
    assert len(pset.by_activity("jumping")) == 10
    with pytest.raises(UnknownNameError, match="Did you mean: walking-03"):
        pset.get("walking-3")
    with pytest.raises(UnknownNameError, match="Did you mean: running"):
        pset.by_activity("runing")


def test_unknown_prompt_set_suggests():
    with pytest.raises(UnknownNameError, match="Unknown prompt set 'v11'. Did you mean: v1?"):
        load_prompt_set("v11")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "is empty"),
        ("# only a comment\n", "is empty"),
        ('version = "t1"\n', "holds no prompts"),
        ("[[prompts]]\nprompt_id = 'a'\nactivity = 'walking'\ntext = 'x'\n", "missing top-level 'version'"),
        (GOOD.replace('activity = "walking"\n', ""), "missing field(s) activity"),
        (GOOD.replace('activity = "walking"', 'activity = "walkng"'), "Unknown activity 'walkng'. Did you mean"),
        (GOOD.replace('"sitting-01"', '"walking-01"'), "duplicate prompt_id 'walking-01'"),
        (GOOD.replace('prompt_id = "sitting-01"', 'prompt_id = "sitting-01"\ntxt = "oops"'), "unknown field(s) txt"),
        (GOOD.replace('"walking-01"', '"Walking 01"'), "prompt_id must be lower case"),
        (GOOD.replace('text = "A person sits on a chair for about six seconds."', 'text = "  "'), "non-empty"),
        ("version = \n", "not valid TOML"),
        ("extra = 1\n" + GOOD, "unknown top-level key(s) extra"),
    ],
)
def test_malformed_prompt_files_name_the_file(tmp_path, text, message):
    path = tmp_path / "bad_prompts.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(FormatError) as err:
        load_prompt_file(path)
    assert str(path) in str(err.value)
    assert message in str(err.value)


def test_missing_prompt_file_is_a_file_error(tmp_path):
    with pytest.raises(FileNotFoundError):
        load_prompt_file(tmp_path / "nope.toml")
