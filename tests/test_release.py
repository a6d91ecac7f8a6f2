"""Release specs, release build/verify, and publishing against a recording stand-in for HfApi."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from fixtures.corpus import assert_same_tree
from fixtures.hub_fakes import TINY_RELEASE, RecordingHfApi, write_release_spec

from text2imu.builder.errors import FormatError, UnknownNameError
from text2imu.builder.release import PublishError, build_release, publish_release, release_dir, verify_release
from text2imu.builder.release_spec import load_release, shipped_releases
from text2imu.cli import main

VERSION = TINY_RELEASE["version"]
REPO = "text2imu/kinematic"


def test_shipped_v0_1_0_is_the_kinematic_release_the_issue_asks_for():
    assert "v0.1.0" in shipped_releases()
    release = load_release("v0.1.0")
    assert release.generators == ("kinematic",) and release.bundles == ()
    spec = release.corpus_spec("kinematic")
    assert spec.repetitions == 10 and spec.prompt_ids is None and spec.prompt_set == "v1"
    from text2imu.builder.bodies.shapes import shape_names
    from text2imu.builder.vocab import SITE_NAMES

    assert spec.shapes == tuple(shape_names()) and len(spec.shapes) == 8
    assert spec.sites == (*(s for s in SITE_NAMES if s.startswith("realworld.")), "hapt.waist")
    assert (spec.method, spec.noise, spec.seed, spec.version) == ("central", "ideal", "v0.1.0", "v0.1.0")
    assert spec.repo_id == REPO and release.corpus_spec("kinematic", "my-org").repo_id == "my-org/kinematic"


def test_unknown_shipped_version_suggests_the_close_one():
    with pytest.raises(UnknownNameError, match=r"Unknown release 'v0\.1\.1'\. Did you mean: v0\.1\.0\?"):
        load_release("v0.1.1")


@pytest.mark.parametrize(("change", "expected"), [
    ({"sits": ["hapt.waist"]}, "Unknown key 'sits'. Did you mean: sites?"),
    ({"seed": None}, "missing key(s): seed"),
    ({"sites": ["realworld.wrist"]}, "Unknown site 'realworld.wrist'. Did you mean:"),
    ({"shapes": ["female_shrt"]}, "Unknown body shape 'female_shrt'. Did you mean: female_short"),
    ({"generators": ["kinematc"]}, "Unknown generator 'kinematc'. Did you mean: kinematic?"),
    ({"prompts": ["walking-99"]}, "Unknown prompt 'walking-99'"),
    ({"noise": "loud"}, "Unknown noise preset 'loud'"),
    ({"method": "euler"}, "Unknown simulation method 'euler'"),
    ({"version": "0.1"}, "version must look like v1.2.3"),
    ({"repetitions": 0}, "'repetitions' must be a positive integer"),
    ({"sites": "hapt.waist"}, "'sites' must be a list of names"),
    ({"generators": ["kinematic", "kinematic"]}, "listed twice"),
    ({"bundles": {"mdm": "somewhere"}}, "[bundles] names 'mdm', which is not in 'generators'"),
])
def test_bad_specs_name_the_file_and_the_problem(tmp_path, change, expected):
    path = write_release_spec(tmp_path / "bad.toml", **{**TINY_RELEASE, **change})
    with pytest.raises(FormatError) as info:
        load_release(str(path))
    message = str(info.value)
    assert message.startswith(f"{path}: ") and expected in message, message


def test_not_toml_and_missing_file(tmp_path):
    bad = tmp_path / "broken.toml"
    bad.write_text('version = "v0.0.1\n')
    with pytest.raises(FormatError, match=r"broken\.toml: not valid TOML"):
        load_release(str(bad))
    with pytest.raises(FormatError, match="no such release spec file"):
        load_release(str(tmp_path / "none.toml"))


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """A tiny release (2 prompts x 1 repetition x 1 shape x 2 sites) built under a temporary root."""
    base = tmp_path_factory.mktemp("release")
    spec_path = write_release_spec(base / "spec" / "tiny.toml", **TINY_RELEASE)
    root = base / "root"
    result = build_release(load_release(str(spec_path)), root=root, workers=1, progress=False)
    return spec_path, root, result


def _copy_root(built, tmp_path) -> Path:
    root = tmp_path / "root"
    shutil.copytree(built[1], root)
    return root


def test_build_writes_one_tagged_corpus_per_generator(built):
    spec_path, root, result = built
    folder = release_dir(root, VERSION, "text2imu", "kinematic")
    assert [r.out_dir for r in result.results] == [folder] and result.n_recordings == 4
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["configs"] == {"hapt.waist-female_short": 2, "realworld.head-female_short": 2}
    assert manifest["spec"]["version"] == VERSION and manifest["spec"]["repo_id"] == REPO
    assert manifest["spec"]["seed"] == VERSION
    card = (folder / "README.md").read_text()
    assert f'load_dataset("{REPO}"' in card and f'revision="{VERSION}"' in card
    assert verify_release(load_release(str(spec_path)), root=root).ok


def test_cli_rebuilds_the_same_bytes_and_verifies(built, tmp_path, capsys):
    spec_path, root, _ = built
    other = tmp_path / "again"
    assert main(["release", "build", str(spec_path), "--root", str(other), "--workers", "2", "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert f"release {VERSION}: 4 recordings" in out
    assert_same_tree(release_dir(other, VERSION, "text2imu", "kinematic"),
                     release_dir(root, VERSION, "text2imu", "kinematic"))
    assert main(["release", "verify", str(spec_path), "--root", str(other)]) == 0
    assert f"release {VERSION}: OK" in capsys.readouterr().out
    shard = next(release_dir(other, VERSION, "text2imu", "kinematic").glob("data/*/*.parquet"))
    shard.write_bytes(shard.read_bytes()[:-2] + b"\0\0")
    assert main(["release", "verify", str(spec_path), "--root", str(other)]) == 1
    assert "sha256 differs from the manifest" in capsys.readouterr().out
    assert main(["release", "verify", str(spec_path), "--root", str(tmp_path / "nothing")]) == 1
    assert "not built" in capsys.readouterr().out


def test_verify_refuses_a_folder_built_from_another_spec(built, tmp_path):
    root = _copy_root(built, tmp_path)
    changed = write_release_spec(tmp_path / "changed.toml", **{**TINY_RELEASE, "seed": "another"})
    report = verify_release(load_release(str(changed)), root=root)
    assert not report.ok
    assert any("built from another spec" in p and "differs in: seed" in p for p in report.problems), report.problems


def test_publish_makes_exactly_these_calls(built, tmp_path):
    spec_path, root, _ = built
    api = RecordingHfApi()
    published = publish_release(load_release(str(spec_path)), api=api, root=root)
    folder = release_dir(root, VERSION, "text2imu", "kinematic")
    manifest = json.loads((folder / "manifest.json").read_text())
    expected_files = sorted([*manifest["files"], "manifest.json"])
    oid = published[0].commit
    assert [c[0] for c in api.calls] == ["list_repo_refs", "create_repo", "upload_folder", "create_tag"]
    assert api.calls[0][1:] == ((REPO,), {"repo_type": "dataset"})
    assert api.calls[1][1:] == ((REPO,), {"repo_type": "dataset", "exist_ok": True})
    upload = api.calls[2][2]
    assert upload["repo_id"] == REPO and upload["repo_type"] == "dataset"
    assert Path(upload["folder_path"]) == folder and upload["delete_patterns"] == ["*"]
    assert VERSION in upload["commit_message"]
    assert api.uploaded[REPO] == expected_files  # exactly the manifest's files and the manifest, nothing else
    assert api.calls[3][1:] == ((REPO,), {"tag": VERSION, "tag_message": f"text2imu release {VERSION}",
                                          "revision": oid, "repo_type": "dataset"})
    assert api.tags[REPO] == {VERSION: oid}
    assert published[0].repo_id == REPO and published[0].tag == VERSION
    # publishing again: the tag exists, it is never moved, nothing is uploaded
    again = RecordingHfApi(tags=api.tags)
    with pytest.raises(PublishError, match=rf"already has tag {VERSION} \(commit {oid}\).*never moved"):
        publish_release(load_release(str(spec_path)), api=again, root=root)
    assert [c[0] for c in again.calls] == ["list_repo_refs"] and again.tags[REPO] == {VERSION: oid}


def test_publish_refuses_a_folder_whose_hashes_differ_and_uploads_nothing(built, tmp_path):
    spec_path, _, _ = built
    root = _copy_root(built, tmp_path)
    folder = release_dir(root, VERSION, "text2imu", "kinematic")
    card = folder / "README.md"
    card.write_text(card.read_text() + "\nedited by hand\n")
    api = RecordingHfApi()
    with pytest.raises(PublishError, match=r"README\.md: sha256 differs from the manifest.*nothing was uploaded"):
        publish_release(load_release(str(spec_path)), api=api, root=root)
    assert api.calls == []
    card.unlink()
    (folder / "data" / "extra.parquet").write_bytes(b"x")
    with pytest.raises(PublishError, match="more problem"):
        publish_release(load_release(str(spec_path)), api=api, root=root)
    assert api.calls == []


def test_publish_refuses_what_is_not_built_or_built_for_another_org(built, tmp_path):
    spec_path, root, _ = built
    api = RecordingHfApi()
    with pytest.raises(PublishError, match=r"not built .*--org someone"):
        publish_release(load_release(str(spec_path)), api=api, org="someone", root=root)
    assert api.calls == []


def test_a_hub_failure_names_the_step_and_tags_nothing(built):
    spec_path, root, _ = built
    api = RecordingHfApi(fail_on="upload_folder")
    with pytest.raises(PublishError, match=r"text2imu/kinematic: upload_folder failed .*simulated Hub failure"):
        publish_release(load_release(str(spec_path)), api=api, root=root)
    assert [c[0] for c in api.calls] == ["list_repo_refs", "create_repo", "upload_folder"]
    assert api.tags[REPO] == {}


def test_cli_publish_offline_fails_cleanly(built, capsys):
    """The real HfApi under HF_HUB_OFFLINE=1 (conftest): one line, exit status 2, nothing sent."""
    spec_path, root, _ = built
    assert main(["release", "publish", str(spec_path), "--root", str(root)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "cannot list its tags" in err[0] and "nothing was uploaded" in err[0], err


def _nan_bundle(tmp_path: Path) -> tuple[Path, Path]:
    """A good motions bundle of a two-prompt set, and a copy with NaN joints in one motion (hashes made to
    match, so only the NaN is wrong)."""
    from text2imu.builder.bundle import npy_bytes, write_bundle
    from text2imu.builder.generators import derive_seed, get_generator
    from text2imu.builder.generators.kinematic import KINEMATIC_SPEC
    from text2imu.builder.prompts import parse_prompt_set

    pset = parse_prompt_set('version = "tiny"\n[[prompts]]\nprompt_id = "walk-a"\nactivity = "walking"\n'
                            'text = "A person walks forward."\n', "tiny.toml")
    gen = get_generator("kinematic")
    items = [(p.prompt_id, r, gen.generate(p, r, derive_seed(1, "kinematic", p.prompt_id, r)))
             for p in pset for r in range(1)]
    good = tmp_path / "bundles" / "good"
    write_bundle(good, KINEMATIC_SPEC, pset, items, repetitions=1)
    bad = tmp_path / "bundles" / "nan"
    shutil.copytree(good, bad)
    rel = "motions/walk-a/0.npy"
    joints = np.load(bad / rel)
    joints[3, 2, :] = np.nan
    data = npy_bytes(joints)
    (bad / rel).write_bytes(data)
    entries = [json.loads(line) for line in (bad / "manifest.jsonl").read_text().splitlines()]
    for e in entries:
        if e["path"] == rel:
            e["sha256"] = hashlib.sha256(data).hexdigest()
    manifest = "".join(json.dumps(e, sort_keys=True, separators=(",", ":")) + "\n" for e in entries).encode()
    (bad / "manifest.jsonl").write_bytes(manifest)
    doc = json.loads((bad / "bundle.json").read_text())
    doc["manifest_sha256"] = hashlib.sha256(manifest).hexdigest()
    (bad / "bundle.json").write_text(json.dumps(doc, sort_keys=True, indent=2) + "\n")
    return good, bad


def test_bundles_resolve_against_the_spec_file_and_nan_motions_are_refused(tmp_path, capsys):
    good, _ = _nan_bundle(tmp_path)
    fields = {**TINY_RELEASE, "prompt_set": "tiny", "prompts": None}
    ok = write_release_spec(tmp_path / "specs" / "ok.toml", **fields, bundles={"kinematic": "../bundles/good"})
    assert load_release(str(ok)).corpus_spec("kinematic").bundle == str(good.resolve())
    nan = write_release_spec(tmp_path / "specs" / "nan.toml", **fields, bundles={"kinematic": "../bundles/nan"})
    with pytest.raises(FormatError, match=r"nan\.toml: generator 'kinematic': .*not a usable motions bundle.*NaN"):
        load_release(str(nan))
    root = tmp_path / "root"
    for action in ("build", "publish"):
        assert main(["release", action, str(nan), "--root", str(root)]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and "walk-a repetition 0" in err[0] and "NaN" in err[0], err
    assert not root.exists()


@pytest.mark.parametrize(("change", "expected"), [
    ({"sites": ["realworld.wrist"]}, "Unknown site 'realworld.wrist'"),
    ({"shapes": ["female_shrt"]}, "Unknown body shape 'female_shrt'"),
    ({"generators": ["kinematc"]}, "Unknown generator 'kinematc'"),
])
@pytest.mark.parametrize("action", ["build", "verify", "publish"])
def test_cli_bad_input_exits_2_with_one_line_and_writes_nothing(tmp_path, capsys, change, expected, action):
    path = write_release_spec(tmp_path / "bad.toml", **{**TINY_RELEASE, **change})
    root = tmp_path / "root"
    assert main(["release", action, str(path), "--root", str(root)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and str(path) in err[0] and expected in err[0], err
    assert not root.exists()


def test_cli_bad_org_and_version(tmp_path, capsys):
    assert main(["release", "build", "v0.1.0", "--org", "bad/org", "--root", str(tmp_path / "r")]) == 2
    assert "not a usable Hugging Face organisation name" in capsys.readouterr().err
    assert main(["release", "verify", "v9.9.9", "--root", str(tmp_path / "r")]) == 2
    assert "Unknown release 'v9.9.9'" in capsys.readouterr().err
    assert not (tmp_path / "r").exists()


def test_load_corpus_is_exported_lazily_and_needs_a_revision(tmp_path):
    import subprocess
    import sys

    code = ("import sys; from text2imu.builder import load_corpus; "
            "print(callable(load_corpus), 'datasets' in sys.modules, 'huggingface_hub' in sys.modules)")
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert res.returncode == 0 and res.stdout.split() == ["True", "False", "False"], res.stderr
    from text2imu.builder import load_corpus
    from text2imu.builder.errors import Text2ImuError

    with pytest.raises(Text2ImuError, match="needs a revision"):
        load_corpus("kinematic", "hapt.waist-female_short", None, cache_dir=tmp_path)
    # the session is offline (conftest) and nothing is cached: a clear error, no network
    with pytest.raises(Text2ImuError, match=r"text2imu/kinematic at revision v0\.1\.0 is not in the local cache"):
        load_corpus("kinematic", "hapt.waist-female_short", "v0.1.0", cache_dir=tmp_path)
