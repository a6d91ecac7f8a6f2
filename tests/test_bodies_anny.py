"""Table I shapes, skin sites, mesh geometry and the committed Anny assets (a slow test rebuilds one with Anny)."""

from __future__ import annotations

import numpy as np
import pytest

from text2imu.builder.bodies.asset import BodyAsset, asset_path
from text2imu.builder.bodies.mesh import (
    closed_surface_problems,
    face_components,
    mesh_height_m,
    mesh_volume_m3,
    one_ring,
    ray_first_hit,
    site_vertex_by_ray,
)
from text2imu.builder.bodies.shapes import body_density_kg_m3, body_shape, body_shapes, shape_names
from text2imu.builder.bodies.sites import site, site_names, site_vertex_id, sites
from text2imu.builder.errors import FormatError, UnknownNameError
from text2imu.builder.skeleton import skeleton

TABLE_I = {
    "male_tall": (200, 100),
    "male_short": (160, 60),
    "male_average": (178.9, 85.8),
    "male_adipose": (178.9, 111),
    "female_tall": (180, 75),
    "female_short": (150, 50),
    "female_average": (165.8, 69.2),
    "female_adipose": (165.8, 97),
}
SITES = [
    *(f"realworld.{p}" for p in ("chest", "forearm", "head", "shin", "thigh", "upperarm", "waist")),
    "hapt.waist",
    "pamap2.hand",
    "pamap2.chest",
    "pamap2.ankle",
    "usc_had.hip",
]
J = {n: i for i, n in enumerate(skeleton().names)}


@pytest.fixture(scope="module")
def assets() -> dict[str, BodyAsset]:
    return {name: BodyAsset.load(asset_path("anny", name)) for name in shape_names()}


# ---------------------------------------------------------------- tables


def test_table_one_shapes_and_density():
    assert {s.name: (s.height_cm, s.weight_kg) for s in body_shapes()} == TABLE_I
    assert [s.sex for s in body_shapes()] == ["male"] * 4 + ["female"] * 4
    assert body_shape("female_short").height_m == pytest.approx(1.5)
    assert body_shape("male_adipose").bmi_kg_m2 == pytest.approx(111 / 1.789**2)
    assert 980 <= body_density_kg_m3() <= 1010


def test_site_table():
    assert sorted(site_names()) == sorted(SITES)
    for s in sites():
        assert s.side in ("left", "right", "centre")
        assert s.spot and s.source and s.device and s.dataset_title
        assert isinstance(s.vertex_id("anny"), int)
        assert set(s.rules["anny"]) == {"from", "to", "at", "toward"}
    assert site("pamap2.hand").side == "right" and site("usc_had.hip").side == "right"
    assert all(
        site(f"realworld.{p}").side == "left" for p in ("forearm", "head", "shin", "thigh", "upperarm")
    )
    assert site_vertex_id("realworld.waist", "anny") == site("realworld.waist").vertex_ids["anny"]


def test_unknown_names_say_did_you_mean(assets):
    with pytest.raises(UnknownNameError, match="Did you mean: female_average"):
        body_shape("female_avrage")
    with pytest.raises(UnknownNameError, match="Did you mean: realworld.thigh"):
        site("realworld.thight")
    with pytest.raises(UnknownNameError, match="Did you mean: realworld.thigh"):
        assets["male_tall"].site_index("realworld.thigh_")
    with pytest.raises(UnknownNameError, match="anny"):
        site("realworld.shin").vertex_id("annie")


def test_draw_refuses_unknown_names_before_building(tmp_path):
    from text2imu.builder.bodies.draw import draw_body_sites

    with pytest.raises(UnknownNameError, match="Did you mean: male_short"):
        draw_body_sites("anny", "male_shrt", tmp_path / "x.png")
    with pytest.raises(UnknownNameError, match="anny"):
        draw_body_sites("anyy", "male_short", tmp_path / "x.png")


# ---------------------------------------------------------------- mesh geometry


def _cube() -> tuple[np.ndarray, np.ndarray]:
    """Unit cube [0, 1]^3, 12 triangles wound outwards."""
    v = np.array([[x, y, z] for x in (0, 1) for y in (0, 1) for z in (0, 1)], dtype=float)
    quads = [(0, 1, 3, 2), (4, 6, 7, 5), (0, 4, 5, 1), (2, 3, 7, 6), (0, 2, 6, 4), (1, 5, 7, 3)]
    f = np.array([t for a, b, c, d in quads for t in ((a, b, c), (a, c, d))])
    return v, f


def test_volume_height_and_closedness_of_a_cube():
    v, f = _cube()
    assert mesh_volume_m3(v, f) == pytest.approx(1.0)
    assert mesh_volume_m3(v * 2, f) == pytest.approx(8.0)
    assert mesh_height_m(v) == 1.0
    assert closed_surface_problems(f) == []
    assert "holes" in " ".join(closed_surface_problems(f[:-1]))
    flipped = f.copy()
    flipped[0] = flipped[0, ::-1]
    assert "winding" in " ".join(closed_surface_problems(flipped))
    # two shells: the larger is component 0
    both = np.concatenate([f, f[:2] + 8])
    assert face_components(both, 12).tolist() == [0] * 12 + [1] * 2


def test_one_ring_and_ray():
    v, f = _cube()
    ids, local = one_ring(f, 0)
    assert ids[0] == 0 and sorted(ids[1:].tolist()) == [1, 2, 3, 4, 5, 6]
    # the ring faces keep the winding: every local face normal points away from the cube centre
    tri = v[ids][local]
    n = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])
    assert (np.einsum("ij,ij->i", n, tri.mean(1) - 0.5) > 0).all()
    face, point = ray_first_hit(np.array([0.5, 0.5, 0.5]), np.array([0.0, 0.0, 1.0]), v, f)
    assert point == pytest.approx([0.5, 0.5, 1.0]) and set(f[face]) <= {1, 3, 5, 7}
    assert ray_first_hit(np.array([2.0, 2.0, 2.0]), np.array([1.0, 0, 0]), v, f) is None
    joints = np.zeros((2, 3))
    joints[1] = [0.5, 0.5, 0.5]
    vid, _ = site_vertex_by_ray(
        v, f, joints, {"a": 0, "b": 1}, {"from": "b", "to": "b", "at": 0.0, "toward": [1, 1, 1]}
    )
    assert vid == 7


# ---------------------------------------------------------------- committed assets


def test_assets_load_small_and_complete(assets):
    for name, a in assets.items():
        assert a.body_model == "anny" and a.shape == name
        assert set(a.site_names) == set(SITES)
        assert a.site_vertex_ids.tolist() == [site(s).vertex_ids["anny"] for s in a.site_names]
        assert asset_path("anny", name).stat().st_size < 20_000
        assert a.provenance["anny_version"] == a.body_model_version
        assert a.shape_param_names == ("gender", "age", "muscle", "weight", "height", "proportions")
        assert a.shape_params[0] == (0.0 if name.startswith("male") else 1.0)


def test_reached_height_and_weight_within_tolerance(assets):
    for name, a in assets.items():
        h_cm, w_kg = TABLE_I[name]
        assert a.target_height_m == pytest.approx(h_cm / 100) and a.target_weight_kg == pytest.approx(w_kg)
        assert abs(a.height_m - a.target_height_m) <= 0.005, name
        assert abs(a.weight_kg - a.target_weight_kg) <= 1.0, name
        assert a.density_kg_m3 == body_density_kg_m3() == a.provenance["density_kg_m3"]
        assert a.provenance["height_residual_cm"] == pytest.approx(
            (a.height_m - a.target_height_m) * 100, abs=1e-3
        )


def test_rest_joints_plausible(assets):
    sk = skeleton()
    for name, a in assets.items():
        j = a.rest_joints_m
        h = a.height_m
        for foot in ("left_ankle", "right_ankle", "left_foot", "right_foot"):
            assert 0.0 <= j[J[foot], 1] < 0.06 * h, (name, foot)
        assert abs(j[J["pelvis"], 0]) < 1e-9 and abs(j[J["pelvis"], 2]) < 1e-9
        assert 0.45 * h < j[J["pelvis"], 1] < 0.6 * h
        assert 0.85 * h < j[J["head"], 1] < 0.96 * h
        for left, right in sk.mirror_pairs:
            assert j[left, 0] > 0.01 and j[right, 0] < -0.01, (name, sk.names[left])
            assert j[left] * [-1, 1, 1] == pytest.approx(j[right], abs=1e-3)
        ys = j[:, 1]
        assert (
            ys[J["left_ankle"]]
            < ys[J["left_knee"]]
            < ys[J["left_hip"]]
            < ys[J["pelvis"]]
            < ys[J["spine1"]]
            < ys[J["spine2"]]
        )
        assert ys[J["spine2"]] < ys[J["spine3"]] < ys[J["neck"]] < ys[J["head"]]
        assert ys[J["left_wrist"]] < ys[J["left_elbow"]] < ys[J["left_shoulder"]]
        # bones within 0.5-2x HumanML3D's target skeleton (scaled to the body's height)
        lengths = np.linalg.norm(j[1:] - j[list(sk.parents[1:])], axis=1)
        ratio = lengths / (sk.bone_lengths_m[1:] * h / 1.70)
        assert (ratio > 0.3).all() and (ratio < 2.5).all(), (name, ratio.round(2))
    # a taller target puts the head joint higher (shapes of equal height may differ by millimetres)
    for a in assets.values():
        for b in assets.values():
            if a.target_height_m > b.target_height_m + 0.01:
                assert a.rest_joints_m[J["head"], 1] > b.rest_joints_m[J["head"], 1], (a.shape, b.shape)


def _triangle(j: np.ndarray, origin: int, left: int, right: int, up: int) -> np.ndarray:
    """(..., 2, 3) offsets of joints ``left`` and ``right`` from ``origin`` in the segment frame: x from right to
    left, y towards ``up`` made orthogonal to x, z = x cross y."""
    x = j[..., left, :] - j[..., right, :]
    x = x / np.linalg.norm(x, axis=-1, keepdims=True)
    y = j[..., up, :] - j[..., origin, :]
    y = y - np.sum(y * x, -1, keepdims=True) * x
    y = y / np.linalg.norm(y, axis=-1, keepdims=True)
    frame = np.stack([x, y, np.cross(x, y)], axis=-1)
    offsets = j[..., [left, right], :] - j[..., [origin], :]
    return np.einsum("...ab,...ka->...kb", frame, offsets)


def test_joints_follow_the_smpl_convention_of_humanml3d(assets, humanml3d_sample):
    """Pelvis, hips and collars sit where SMPL (so HumanML3D) puts them, scaled to the body by leg length."""
    from text2imu.builder import fit
    from text2imu.builder.bodies.anny_rig import leg_length_m, template_leg_length_m

    motion = np.load(humanml3d_sample / "new_joints_012314.npy").astype(np.float64)
    # the sample's two three-joint segments are rigid: one shape per clip, measured here independently of the toml
    hips_ref = _triangle(motion, J["pelvis"], J["left_hip"], J["right_hip"], J["spine1"])
    collars_ref = _triangle(motion, J["spine3"], J["left_collar"], J["right_collar"], J["neck"])
    assert np.ptp(hips_ref, axis=0).max() < 1e-5 and np.ptp(collars_ref, axis=0).max() < 1e-5
    hips_ref, collars_ref = hips_ref[0], collars_ref[0]
    # the sample's bones are the template's
    assert template_leg_length_m() == pytest.approx(fit.leg_length_m(motion), abs=2e-4)
    for name, a in assets.items():
        j = a.rest_joints_m
        s = leg_length_m(j) / template_leg_length_m()
        assert a.provenance["convention_scale"] == pytest.approx(s, abs=1e-6)
        hips = _triangle(j, J["pelvis"], J["left_hip"], J["right_hip"], J["spine1"])
        collars = _triangle(j, J["spine3"], J["left_collar"], J["right_collar"], J["neck"])
        # separations and the pelvis joint's height above / distance in front of the hip line: within 1 mm
        tol = 0.001
        assert np.linalg.norm(j[J["left_hip"]] - j[J["right_hip"]]) == pytest.approx(
            s * np.ptp(hips_ref[:, 0]), abs=tol
        ), name
        assert np.linalg.norm(j[J["left_collar"]] - j[J["right_collar"]]) == pytest.approx(
            s * np.ptp(collars_ref[:, 0]), abs=tol
        ), name
        np.testing.assert_allclose(hips[:, 1:].mean(0), s * hips_ref[:, 1:].mean(0), atol=tol, err_msg=name)
        np.testing.assert_allclose(
            collars[:, 1:].mean(0), s * collars_ref[:, 1:].mean(0), atol=tol, err_msg=name
        )
        # the whole pelvis and spine3 shapes: the sample's, made left/right symmetric (its pelvis joint sits 6 mm
        # and its neck 7 mm off the midline), so every direction within 5 degrees
        for got, ref in ((hips, hips_ref), (collars, collars_ref)):
            cos = np.sum(got * ref, -1) / np.linalg.norm(got, axis=-1) / np.linalg.norm(ref, axis=-1)
            assert np.degrees(np.arccos(np.clip(cos, -1, 1))).max() < 5.0, name
        # far from Anny's own joints: hips 21-24 cm apart at the root's height, collars 4-5 cm apart
        assert 0.09 < np.linalg.norm(j[J["left_hip"]] - j[J["right_hip"]]) < 0.15, name
        assert j[J["pelvis"], 1] - j[J["left_hip"], 1] > 0.06, name


def test_smpl_convention_rule_on_a_made_up_rig():
    """The closed-form pelvis: hips keep their midpoint, the pelvis frame's y axis points at spine1 exactly."""
    from text2imu.builder.bodies import anny_rig

    j = skeleton_rest_like()
    hip, collar = anny_rig.convention_offsets()
    out, s = anny_rig.smpl_convention_joints(j)
    assert s == pytest.approx(anny_rig.leg_length_m(out) / anny_rig.template_leg_length_m(), abs=1e-9)
    np.testing.assert_allclose(out[[J["left_hip"], J["right_hip"]]].mean(0), j[[1, 2]].mean(0), atol=1e-12)
    frame = anny_rig.segment_frame(out[J["pelvis"]], out[J["spine1"]])
    np.testing.assert_allclose(frame.T @ (out[J["left_hip"]] - out[J["pelvis"]]), s * hip, atol=1e-12)
    np.testing.assert_allclose(
        frame.T @ (out[J["right_hip"]] - out[J["pelvis"]]), s * hip * [-1, 1, 1], atol=1e-12
    )
    frame3 = anny_rig.segment_frame(out[J["spine3"]], out[J["neck"]])
    np.testing.assert_allclose(frame3.T @ (out[J["left_collar"]] - out[J["spine3"]]), s * collar, atol=1e-12)
    untouched = [i for i in range(22) if i not in (J["pelvis"], J["left_hip"], J["right_hip"], 13, 14)]
    np.testing.assert_array_equal(out[untouched], j[untouched])
    # a spine1 inside the SMPL pelvis cannot carry it
    squeezed = j.copy()
    squeezed[J["spine1"]] = j[[1, 2]].mean(0) + [0, 0.05, 0]
    with pytest.raises(FormatError, match="pelvis"):
        anny_rig.smpl_convention_joints(squeezed)


def skeleton_rest_like() -> np.ndarray:
    """(22, 3) a made-up upright rig in Anny's manner: wide hips level with a low root, collars at the sternum."""
    j = np.zeros((22, 3))
    rows = {
        "pelvis": (0, 0.96, 0), "left_hip": (0.12, 0.945, -0.01), "right_hip": (-0.12, 0.945, -0.01),
        "spine1": (0, 1.12, -0.03), "left_knee": (0.15, 0.54, 0.02), "right_knee": (-0.15, 0.54, 0.02),
        "spine2": (0, 1.2, -0.04), "left_ankle": (0.19, 0.08, -0.01), "right_ankle": (-0.19, 0.08, -0.01),
        "spine3": (0, 1.32, -0.06), "left_foot": (0.2, 0.03, 0.14), "right_foot": (-0.2, 0.03, 0.14),
        "neck": (0, 1.54, 0.0), "left_collar": (0.023, 1.46, 0.02), "right_collar": (-0.023, 1.46, 0.02),
        "head": (0, 1.63, 0.04), "left_shoulder": (0.19, 1.43, 0.01), "right_shoulder": (-0.19, 1.43, 0.01),
        "left_elbow": (0.37, 1.23, 0.02), "right_elbow": (-0.37, 1.23, 0.02),
        "left_wrist": (0.5, 1.1, 0.2), "right_wrist": (-0.5, 1.1, 0.2),
    }  # fmt: skip
    for name, xyz in rows.items():
        j[J[name]] = xyz
    return j


def _patch_normal(a: BodyAsset, s: int) -> np.ndarray:
    faces = a.patch_faces[s][a.patch_faces[s, :, 0] >= 0]
    tri = a.patch_vertices_m[s][faces]
    n = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])
    assert (n @ n.sum(0) > 0).all(), "ring faces wound inconsistently"
    return n.sum(0) / np.linalg.norm(n.sum(0))


def _nearest_bone_point(j: np.ndarray, p: np.ndarray) -> np.ndarray:
    parents = np.array(skeleton().parents[1:])
    a, b = j[parents], j[1:]
    t = np.clip(
        np.einsum("ij,ij->i", p - a, b - a) / np.maximum(np.einsum("ij,ij->i", b - a, b - a), 1e-12), 0, 1
    )
    q = a + t[:, None] * (b - a)
    return q[np.argmin(np.linalg.norm(q - p, axis=1))]


def test_site_patches_face_outwards(assets):
    for name, a in assets.items():
        for s, site_name in enumerate(a.site_names):
            p = a.patch_vertices_m[s, 0]
            n = _patch_normal(a, s)
            radial = p - _nearest_bone_point(a.rest_joints_m, p)
            assert n @ radial > 0, (name, site_name)


def _along(j, p, a, b) -> float:
    """Fraction of the way from joint a to joint b of p's projection on that bone."""
    ja, jb = j[J[a]], j[J[b]]
    return float((p - ja) @ (jb - ja) / ((jb - ja) @ (jb - ja)))


def test_sites_sit_on_their_body_parts(assets):
    for name, a in assets.items():
        j = a.rest_joints_m
        pos = {s: a.patch_vertices_m[i, 0] for i, s in enumerate(a.site_names)}
        for i, s in enumerate(a.site_names):
            side = site(s).side
            x = pos[s][0]
            assert {"left": x > 0.03, "right": x < -0.03, "centre": abs(x) < 0.01}[side], (name, s, x)
            w = a.patch_weights[i, 0]
            assert w[J[site(s).segment]] >= 0.15, (name, s, w.round(2))
        assert pos["realworld.head"][1] > j[J["head"], 1] > j[J["neck"], 1]
        assert 0.2 < _along(j, pos["realworld.shin"], "left_knee", "left_ankle") < 0.8
        assert 0.2 < _along(j, pos["realworld.thigh"], "left_hip", "left_knee") < 0.8
        assert 0.2 < _along(j, pos["realworld.upperarm"], "left_shoulder", "left_elbow") < 0.8
        assert 0.6 < _along(j, pos["realworld.forearm"], "left_elbow", "left_wrist") < 1.05
        assert 0.6 < _along(j, pos["pamap2.hand"], "right_elbow", "right_wrist") < 1.05
        assert 0.75 < _along(j, pos["pamap2.ankle"], "right_knee", "right_ankle") < 1.0
        for waist in ("realworld.waist", "hapt.waist", "usc_had.hip"):
            assert abs(pos[waist][1] - j[J["pelvis"], 1]) < 0.15, (name, waist)
        for chest in ("realworld.chest", "pamap2.chest"):
            assert j[J["spine1"], 1] < pos[chest][1] < j[J["neck"], 1] and pos[chest][2] > 0.05, (name, chest)
        assert pos["realworld.waist"][2] > 0.05 and pos["usc_had.hip"][2] > 0.0


def test_cli_lists_shapes_and_sites(capsys):
    from text2imu.cli import main

    assert main(["bodies", "list", "--body", "anny"]) == 0
    out = capsys.readouterr().out
    for name, (h, w) in TABLE_I.items():
        assert name in out and f"{h:.1f}" in out and f"{w:.1f}" in out
    assert main(["bodies", "sites"]) == 0
    out = capsys.readouterr().out
    assert all(s in out for s in SITES)
    assert main(["bodies", "draw", "--shape", "female_avrage", "--out", "x.png"]) == 2


# ---------------------------------------------------------------- rebuild with Anny (slow)


@pytest.mark.slow
def test_rebuilding_a_shape_reproduces_the_committed_asset(tmp_path):
    pytest.importorskip("anny")
    from text2imu.builder.bodies import compile_anny
    from text2imu.builder.bodies.draw import draw_body_sites

    committed = BodyAsset.load(asset_path("anny", "female_short"))
    rebuilt = compile_anny.compile_shape("female_short")
    assert rebuilt.site_names == committed.site_names
    assert rebuilt.height_m == pytest.approx(committed.height_m, abs=1e-4)
    assert rebuilt.weight_kg == pytest.approx(committed.weight_kg, abs=0.01)
    np.testing.assert_allclose(rebuilt.shape_params, committed.shape_params, atol=1e-4)
    np.testing.assert_allclose(rebuilt.rest_joints_m, committed.rest_joints_m, atol=1e-4)
    np.testing.assert_allclose(rebuilt.patch_vertices_m, committed.patch_vertices_m, atol=1e-4)
    np.testing.assert_array_equal(rebuilt.patch_faces, committed.patch_faces)
    np.testing.assert_allclose(rebuilt.patch_weights, committed.patch_weights, atol=1e-9)
    # the full mesh agrees with the patches, and the site rules land where the recorded ids are
    rest = compile_anny.anny_rest(dict(zip(rebuilt.shape_param_names, rebuilt.shape_params, strict=True)))
    np.testing.assert_allclose(
        rest.vertices_m[rebuilt.site_vertex_ids], rebuilt.patch_vertices_m[:, 0], atol=1e-12
    )
    assert max(compile_anny.check_sites(rest, rebuilt.rest_joints_m).values()) < 0.06
    # SMPL convention on Anny's bones: the hips on Anny's hip line about its midpoint; the single-child chains at
    # Anny's bone heads; the pelvis joint over x = z = 0
    from text2imu.builder.bodies.anny_rig import bone_head_joints

    heads = bone_head_joints(rest.bone_heads_m, rest.bone_labels)
    j = rebuilt.rest_joints_m
    hips, head_hips = j[[J["left_hip"], J["right_hip"]]], heads[[J["left_hip"], J["right_hip"]]]
    np.testing.assert_allclose(hips.mean(0), head_hips.mean(0), atol=1e-9)
    line = (head_hips[0] - head_hips[1]) / np.linalg.norm(head_hips[0] - head_hips[1])
    assert np.linalg.norm(np.cross(hips[0] - hips[1], line)) < 1e-9
    moved = [J[n] for n in ("pelvis", "left_hip", "right_hip", "left_collar", "right_collar")]
    kept = [i for i in range(22) if i not in moved]
    np.testing.assert_allclose(j[kept], heads[kept], atol=1e-12)
    assert np.linalg.norm(j[moved] - heads[moved], axis=1).min() > 0.03
    assert abs(j[J["pelvis"], 0]) < 1e-9 and abs(j[J["pelvis"], 2]) < 1e-9
    png = draw_body_sites("anny", "female_short", tmp_path / "body.png", asset=rebuilt)
    assert png.stat().st_size > 20_000
