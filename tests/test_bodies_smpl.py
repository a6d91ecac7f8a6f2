"""SMPL support on a tiny made-up SMPL-format model: loading (npz, chumpy pkl) through smplx, betas fitting to
Table I, compiling BodyAssets to a user folder, and clear errors for bad input (nothing written then)."""

from __future__ import annotations

import os
import pickle
import sys

import numpy as np
import pytest
import torch
import trimesh
from fixtures.tiny_smpl import (
    SMPL_PARENTS,
    tiny_model,
    write_tiny_smpl_npz,
    write_tiny_smpl_pkl,
)

from text2imu.builder.bodies import compile_smpl as cs
from text2imu.builder.bodies.asset import BodyAsset
from text2imu.builder.bodies.shapes import body_shape, body_shapes, shape_names
from text2imu.builder.bodies.sites import site_names
from text2imu.builder.bodies.smpl_fit import body_measures, fit_betas, mesh_volume_torch
from text2imu.builder.bodies.smpl_model import (
    convert_pkl,
    gender_from_name,
    load_smpl,
    read_body_model,
)
from text2imu.builder.errors import FormatError, Text2ImuError


@pytest.fixture(autouse=True)
def _private_smpl_cache(tmp_path, monkeypatch):
    """Converted .pkl models go to a temporary folder, never the user's ~/.cache."""
    monkeypatch.setenv("TEXT2IMU_SMPL_CACHE", str(tmp_path / "smpl-cache"))


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    """Tiny female (.npz), male (chumpy .pkl) and neutral (.npz) models, and the pkl's conversion cache."""
    d = tmp_path_factory.mktemp("smpl")
    return {
        "female": write_tiny_smpl_npz(d, "female"),
        "male": write_tiny_smpl_pkl(d, "male"),
        "neutral": write_tiny_smpl_npz(d, "neutral"),
        "cache": d / "cache",
    }


@pytest.fixture(scope="module")
def female(models):
    return load_smpl(models["female"], "female")


# ---------------------------------------------------------------------------------------------------------------
# Loading


def test_npz_loads_through_smplx_and_matches_the_arrays(female):
    import smplx

    ref = tiny_model("female")
    assert isinstance(female.module, smplx.SMPL)
    assert female.gender == "female" and female.num_betas == 10
    out = female.module(betas=torch.zeros(1, 10, dtype=torch.float64))  # smplx's own forward (lbs)
    np.testing.assert_allclose(out.vertices[0].detach().numpy(), ref["v_template"], atol=1e-12)
    np.testing.assert_allclose(
        out.joints[0, :24].detach().numpy(), ref["J_regressor"] @ ref["v_template"], atol=1e-12
    )
    betas = np.zeros(10)
    betas[0] = 1.0  # beta 0 stretches the body vertically about its soles
    shaped = female.shaped_vertices(betas)[0].numpy()
    np.testing.assert_allclose(shaped, ref["v_template"] + ref["shapedirs"] @ betas, atol=1e-12)
    assert np.ptp(shaped[:, 1]) > np.ptp(ref["v_template"][:, 1]) + 0.05
    # a posed forward runs through posedirs and the kinematic tree without complaint
    pose = torch.zeros(1, 69, dtype=torch.float64)
    pose[0, 3 * 17 + 2] = 1.0  # left elbow about z
    moved = female.module(betas=torch.zeros(1, 10, dtype=torch.float64), body_pose=pose).joints[0, 20]
    assert float(torch.linalg.norm(moved - out.joints[0, 20]).detach()) > 0.1


def test_pkl_is_converted_without_chumpy_to_a_plain_npz(models):
    assert "chumpy" not in sys.modules  # the fixture's fake module existed only while writing
    model = load_smpl(models["male"], cache_dir=models["cache"])
    assert "chumpy" not in sys.modules
    assert model.gender == "male"  # from basicModel_m_lbs_...
    ref = tiny_model("male")
    np.testing.assert_array_equal(model.arrays.v_template, ref["v_template"])
    np.testing.assert_array_equal(model.arrays.shapedirs, ref["shapedirs"])
    np.testing.assert_allclose(model.arrays.J_regressor, ref["J_regressor"])  # was scipy sparse
    assert model.arrays.parents.tolist() == SMPL_PARENTS
    cached = sorted(models["cache"].glob("*.npz"))
    assert len(cached) == 1 and cached[0].name.startswith("basicModel_m_lbs_10_207_0_v1.0.0.")
    with np.load(cached[0], allow_pickle=False) as z:  # plain numpy, readable without pickle
        assert {"v_template", "J_regressor", "gender", "source_sha256"} <= set(z.files)
        assert str(z["gender"]) == "male"
    stamp = cached[0].stat().st_mtime_ns
    assert convert_pkl(models["male"], models["cache"]) == cached[0]  # reused, not rewritten
    assert cached[0].stat().st_mtime_ns == stamp


@pytest.mark.parametrize(
    "name, gender",
    [
        ("SMPL_FEMALE.pkl", "female"),
        ("SMPL_MALE.pkl", "male"),
        ("SMPL_NEUTRAL.npz", "neutral"),
        ("basicModel_f_lbs_10_207_0_v1.0.0.pkl", "female"),
        ("basicmodel_m_lbs_10_207_0_v1.1.0.pkl", "male"),
        ("basicModel_neutral_lbs_10_207_0_v1.0.0.pkl", "neutral"),
        ("smplh/female/model.npz", "female"),
        ("models/model.npz", None),
        ("SMPLH_male.pkl", "male"),
    ],
)
def test_gender_from_file_names(tmp_path, name, gender):
    assert gender_from_name(tmp_path / name) == gender


def test_gender_mismatch_is_an_error_naming_the_file(models, tmp_path):
    with pytest.raises(FormatError, match=r"SMPL_FEMALE\.npz.*female model.*male model"):
        load_smpl(models["female"], "male")
    out = tmp_path / "out"
    assert cs.main(["--model", f"male={models['female']}", "--out", str(out)]) == 2
    assert not out.exists()


def test_python2_era_pickle_names_resolve(models, tmp_path):
    """Official files were pickled by Python 2 with numpy.core / scipy.sparse.csc module names."""
    raw = models["male"].read_bytes()
    old = raw.replace(b"numpy._core.multiarray", b"numpy.core.multiarray").replace(
        b"scipy.sparse._csc", b"scipy.sparse.csc"
    )
    assert old != raw
    legacy = tmp_path / "SMPL_MALE.pkl"
    legacy.write_bytes(old)
    model = load_smpl(legacy, "male", cache_dir=tmp_path / "cache")
    np.testing.assert_allclose(model.arrays.J_regressor, tiny_model("male")["J_regressor"])


# ---------------------------------------------------------------------------------------------------------------
# Bad input: a clear error naming the file, and nothing written


def _write_pickle(path, obj):
    with open(path, "wb") as f:
        pickle.dump(obj, f, protocol=2)
    return path


class _Evil:
    def __init__(self, target):
        self.target = target

    def __reduce__(self):
        return (os.remove, (self.target,))


def _bad_inputs(tmp_path):
    ref = tiny_model("neutral")
    garbage = tmp_path / "garbage.npz"
    garbage.write_bytes(b"this is not a zip file at all")
    no_keys = tmp_path / "no_keys.npz"
    np.savez(no_keys, v_template=ref["v_template"], f=ref["f"])
    bad_shape = tmp_path / "bad_shape.npz"
    np.savez(bad_shape, **{**ref, "weights": ref["weights"].T})
    bad_tree = tmp_path / "bad_tree.npz"
    tree = ref["kintree_table"].copy()
    tree[0, 4] = 2  # left knee hung under the right hip
    np.savez(bad_tree, **{**ref, "kintree_table": tree})
    not_smpl = _write_pickle(tmp_path / "not_smpl.pkl", {"hello": np.zeros(3)})
    victim = tmp_path / "victim.txt"
    victim.write_text("still here")
    evil = _write_pickle(tmp_path / "evil.pkl", {"v_template": _Evil(str(victim))})
    return {
        "missing": (tmp_path / "SMPL_NOPE.pkl", "not found"),
        "garbage": (garbage, "cannot read"),
        "no_keys": (no_keys, "missing shapedirs, posedirs, J_regressor, weights, kintree_table"),
        "bad_shape": (bad_shape, r"weights has shape \(24, \d+\)"),
        "bad_tree": (bad_tree, "not SMPL's body tree"),
        "not_smpl": (not_smpl, "missing v_template"),
        "evil": (evil, r"refers to (posix|os)\.remove"),
    }, victim


@pytest.mark.parametrize(
    "case", ["missing", "garbage", "no_keys", "bad_shape", "bad_tree", "not_smpl", "evil"]
)
def test_bad_model_files_give_clear_errors_and_write_nothing(tmp_path, case):
    cases, victim = _bad_inputs(tmp_path)
    path, message = cases[case]
    cache, out = tmp_path / "cache", tmp_path / "out"
    with pytest.raises(FormatError, match=message) as err:
        load_smpl(path, cache_dir=cache)
    assert str(path) in str(err.value)
    assert cs.main(["--model", str(path), "--out", str(out), "--cache-dir", str(cache)]) == 2
    assert not cache.exists() and not out.exists()
    assert victim.read_text() == "still here"  # the evil pickle's os.remove never ran


def test_a_folder_or_an_smplh_file_is_not_an_smpl_model(tmp_path):
    with pytest.raises(FormatError, match="is a folder"):
        read_body_model(tmp_path)
    smplh = tmp_path / "SMPLH_FEMALE.npz"
    np.savez(smplh, **tiny_model("female", n_joints=52))
    with pytest.raises(FormatError, match="52 joints"):
        load_smpl(smplh)


# ---------------------------------------------------------------------------------------------------------------
# Measures and fitting


def test_volume_and_height_of_the_template(female):
    ref = tiny_model("female")
    mesh = trimesh.Trimesh(ref["v_template"], ref["f"], process=False)
    assert mesh.is_watertight and mesh.is_winding_consistent
    vol = float(mesh_volume_torch(torch.as_tensor(ref["v_template"]), torch.as_tensor(ref["f"])))
    assert vol == pytest.approx(mesh.volume, rel=1e-12) and vol > 0
    height, weight = body_measures(female, np.zeros(10), 1000.0)
    assert height == pytest.approx(np.ptp(ref["v_template"][:, 1]))
    assert weight == pytest.approx(mesh.volume * 1000.0)


@pytest.mark.parametrize("shape", shape_names())
def test_betas_reach_every_table_i_shape(models, shape):
    """The tiny model's shape space reaches every Table I target (the SQP stops below 0.01 mm and 0.1 g)."""
    target = body_shape(shape)
    model = load_smpl(models[target.sex], target.sex, cache_dir=models["cache"])
    fit = fit_betas(model, target.height_m, target.weight_kg)
    assert fit.within_tolerance
    assert abs(fit.height_residual_m) < 1e-4 and abs(fit.weight_residual_kg) < 1e-2
    assert np.abs(fit.betas).max() < 5  # a plausible body, not a runaway solution
    height, weight = body_measures(model, fit.betas)  # measured again, independently of the fit's bookkeeping
    assert height == pytest.approx(target.height_m, abs=0.005)
    assert weight == pytest.approx(target.weight_kg, abs=1.0)


def test_unreachable_or_implausible_targets_are_reported_not_hidden(tmp_path, female, caplog):
    rigid = tmp_path / "SMPL_NEUTRAL.npz"
    np.savez(rigid, **{**tiny_model("neutral"), "shapedirs": np.zeros((403, 3, 10))})  # betas change nothing
    fit = fit_betas(load_smpl(rigid), 1.5, 50.0)
    assert not fit.within_tolerance and fit.height_residual_m > 0.2 and fit.iterations < 5
    assert "not the targets" in caplog.text
    out = tmp_path / "out"
    with pytest.raises(Text2ImuError, match="wanted, within 0.5 cm / 1 kg"):
        cs.compile_smpl_assets({"neutral": rigid}, out, shapes=["female_short"])
    assert not out.exists()
    caplog.clear()
    fit = fit_betas(female, 3.0, 20.0)  # the linear shape space gets there, but only with absurd betas
    assert np.abs(fit.betas).max() > 5 and "beyond typical bodies" in caplog.text


# ---------------------------------------------------------------------------------------------------------------
# Compiling assets


def test_fold_weights_moves_hand_weights_to_the_wrists():
    w = np.zeros((3, 24))
    w[0, 22], w[1, 23], w[2, 5] = 1.0, 1.0, 1.0
    folded = cs.fold_weights(w, np.array(SMPL_PARENTS))
    assert folded.shape == (3, 22)
    assert folded[0, 20] == 1.0 and folded[1, 21] == 1.0 and folded[2, 5] == 1.0


def test_compile_writes_loadable_assets_with_the_right_model_per_sex(models, tmp_path):
    out = tmp_path / "assets"
    paths = cs.compile_smpl_assets(
        {"female": models["female"], "male": models["male"]},
        out,
        shapes=["female_adipose", "male_tall"],
        cache_dir=models["cache"],
    )
    assert sorted(p.name for p in paths) == ["female_adipose.npz", "male_tall.npz"]
    for name, sex, source in (
        ("female_adipose", "female", "SMPL_FEMALE.npz"),
        ("male_tall", "male", "basicModel_m_lbs_10_207_0_v1.0.0.pkl"),
    ):
        asset = cs.load_smpl_asset(name, out)
        target = body_shape(name)
        assert isinstance(asset, BodyAsset) and asset.body_model == "smpl" and asset.shape == name
        assert asset.provenance["model_gender"] == sex and asset.provenance["model_file"] == source
        assert asset.height_m == pytest.approx(target.height_m, abs=0.005)
        assert asset.weight_kg == pytest.approx(target.weight_kg, abs=1.0)
        assert asset.shape_param_names == tuple(f"beta{i}" for i in range(10))
        assert asset.site_names == site_names()
        # rest frame: pelvis over the origin, left hip at +x, toes forward, head above
        j = asset.rest_joints_m
        assert j[0, 0] == pytest.approx(0) and j[0, 2] == pytest.approx(0)
        assert j[1, 0] > j[2, 0] and j[10, 2] > j[7, 2] and j[15, 1] > j[0, 1] > 0.5
        # the site vertex is the shaped model's vertex, moved with the soles onto y = 0
        ref = tiny_model(sex)
        verts = ref["v_template"] + ref["shapedirs"] @ asset.shape_params
        verts = verts - [0, verts[:, 1].min(), 0]
        pelvis = ref["J_regressor"][0] @ verts
        verts = verts - [pelvis[0], 0, pelvis[2]]
        np.testing.assert_allclose(
            asset.patch_vertices_m[:, 0], verts[asset.site_vertex_ids], atol=1e-6
        )  # smplx keeps float32 parameters
        used = ~np.isnan(asset.patch_vertices_m[..., 0])
        np.testing.assert_allclose(asset.patch_weights.sum(-1)[used], 1.0, atol=1e-9)
        # the left forearm site sits on the left forearm, the right hand site on the right arm
        forearm = verts[asset.site_vertex_ids[asset.site_index("realworld.forearm")]]
        hand = verts[asset.site_vertex_ids[asset.site_index("pamap2.hand")]]
        assert forearm[0] > j[18, 0] and hand[0] < j[19, 0]


def test_neutral_model_serves_both_sexes_and_cli_uses_the_env_folder(models, tmp_path, monkeypatch):
    out = tmp_path / "env_assets"
    monkeypatch.setenv(cs.ASSETS_ENV, str(out))
    assert cs.main(["--model", str(models["neutral"]), "--shapes", "female_short", "male_short"]) == 0
    for name in ("female_short", "male_short"):
        asset = cs.load_smpl_asset(name)  # found through TEXT2IMU_SMPL_ASSETS
        assert asset.provenance["model_gender"] == "neutral"


def test_compile_refuses_package_folders_and_missing_models(models, tmp_path, monkeypatch):
    inside = cs._PACKAGE_ROOT / "bodies" / "assets" / "smpl"
    with pytest.raises(Text2ImuError, match="licensed"):
        cs.compile_smpl_assets({"neutral": models["neutral"]}, inside, shapes=["female_short"])
    assert not inside.exists()
    out = tmp_path / "out"
    with pytest.raises(Text2ImuError, match="no model for female_short"):
        cs.compile_smpl_assets({"male": models["male"]}, out, shapes=["male_short", "female_short"])
    assert not out.exists()
    monkeypatch.delenv(cs.ASSETS_ENV, raising=False)
    with pytest.raises(FormatError, match="TEXT2IMU_SMPL_ASSETS"):
        cs.compile_smpl_assets({"neutral": models["neutral"]}, None, shapes=["female_short"])


def test_missing_asset_says_how_to_compile(tmp_path):
    with pytest.raises(FormatError, match="compile_smpl"):
        cs.load_smpl_asset("female_short", tmp_path)


def test_model_specs():
    specs = cs.parse_model_specs(["female=a.pkl", "SMPL_MALE.pkl", "plain.npz"])
    assert {k: v.name for k, v in specs.items()} == {
        "female": "a.pkl",
        "male": "SMPL_MALE.pkl",
        "neutral": "plain.npz",
    }
    with pytest.raises(Text2ImuError, match="two female models"):
        cs.parse_model_specs(["female=a.pkl", "SMPL_FEMALE.npz"])
    assert [cs.model_for(s, {"female": 1, "neutral": 2}) for s in body_shapes()][:2] == ["neutral", "neutral"]


def test_smpl_topology_takes_the_sites_toml_ids(female, monkeypatch):
    """On SMPL's own topology the `smpl` ids of sites.toml are used as is; the rest are placed by rule."""
    import dataclasses

    from text2imu.builder.bodies import sites as sites_module

    monkeypatch.setattr(cs, "SMPL_VERTEX_COUNT", female.arrays.v_template.shape[0])  # pretend tiny is SMPL
    with pytest.raises(FormatError, match="vertex 3042, outside the mesh's 403 vertices"):
        cs.smpl_site_vertices(female)  # SMPL's own ids do not fit the tiny mesh
    real = sites_module.sites()
    small = tuple(
        dataclasses.replace(s, vertex_ids={**s.vertex_ids, "smpl": 100 + i}) if "smpl" in s.vertex_ids else s
        for i, s in enumerate(real)
    )
    monkeypatch.setattr(sites_module, "sites", lambda: small)
    table, how = cs.smpl_site_vertices(female)
    with_ids = {s.name: s.vertex_ids["smpl"] for s in small if "smpl" in s.vertex_ids}
    assert len(with_ids) >= 5 and all(table[name] == vid for name, vid in with_ids.items())
    assert all(how[name].startswith("sites.toml smpl id (anny_rule lands") for name in with_ids)
    assert (
        how["realworld.upperarm"] == "sites.toml smpl_rule on the template body"
    )  # its anny rule fits no T-pose
    others = [n for n in table if n not in with_ids and n != "realworld.upperarm"]
    assert others and all(how[n] == "sites.toml anny_rule on the template body" for n in others)
