"""Sparse skinning of the site patches and the sensor frames at the sites."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from fixtures.synthetic_body import REST_JOINTS_M, cylinder_patch, synthetic_body

from text2imu.builder import fit
from text2imu.builder.rotations import axis_angle_to_matrix
from text2imu.builder.skinning import LIMB_JOINTS, site_frames, skin_patches, skin_vertices


def rest_pose(n=3):
    return np.repeat(np.eye(3)[None, None], 22, axis=1).repeat(n, axis=0), np.repeat(
        REST_JOINTS_M[None], n, 0
    )


def check_frames(rot):
    assert np.abs(np.swapaxes(rot, -1, -2) @ rot - np.eye(3)).max() < 1e-9
    assert np.abs(np.linalg.det(rot) - 1).max() < 1e-9


def test_rest_pose_leaves_the_patches_in_place_and_frames_follow_the_convention():
    asset = synthetic_body()
    rot, joints = rest_pose()
    patches = skin_patches(asset, rot, joints)
    assert np.array_equal(np.isnan(patches[0]), np.isnan(asset.patch_vertices_m))
    assert np.nanmax(np.abs(patches - asset.patch_vertices_m)) < 1e-12
    pos, frames = site_frames(asset, rot, joints)
    assert np.abs(pos - asset.patch_vertices_m[:, 0]).max() < 1e-12
    check_frames(frames)
    for s, name in enumerate(asset.site_names):
        seg = int(np.argmax(asset.patch_weights[s, 0]))
        a, b = LIMB_JOINTS[seg]
        limb = REST_JOINTS_M[b] - REST_JOINTS_M[a]
        x, z = frames[0, s, :, 0], frames[0, s, :, 2]
        assert x @ limb > 0, name  # x along the limb, parent -> child
        assert abs(x @ z) < 1e-12
        # z points out of the body: away from the bone axis the patch was built around
        axis_pt = (
            REST_JOINTS_M[a] + np.clip((pos[0, s] - REST_JOINTS_M[a]) @ limb / (limb @ limb), 0, 1) * limb
        )
        assert z @ (pos[0, s] - axis_pt) > 0, name


def test_a_rigidly_moved_body_moves_its_sites_rigidly():
    asset = synthetic_body()
    n = 5
    turn = axis_angle_to_matrix(np.outer(np.linspace(0, 2.0, n), [0.3, 0.9, -0.2]))
    shift = np.outer(np.arange(n), [0.1, 0.02, -0.05])
    rot = np.repeat(turn[:, None], 22, axis=1)
    joints = np.einsum("tab,jb->tja", turn, REST_JOINTS_M) + shift[:, None]
    pos, frames = site_frames(asset, rot, joints)
    rest_pos, rest_frames = site_frames(asset, *rest_pose(1))
    assert np.abs(pos - (np.einsum("tab,sb->tsa", turn, rest_pos[0]) + shift[:, None])).max() < 1e-12
    assert np.abs(frames - np.einsum("tab,sbc->tsac", turn, rest_frames[0])).max() < 1e-12


def test_blend_weights_mix_the_segments_transforms():
    asset = synthetic_body()
    s = asset.site_names.index("realworld.thigh")  # 0.9 thigh (segment 1), 0.1 pelvis (segment 0)
    rot, joints = rest_pose(1)
    rot[:, 1] = axis_angle_to_matrix(np.array([0.8, 0, 0]))  # hip flexion
    joints = fit.forward_kinematics(rot, REST_JOINTS_M, REST_JOINTS_M[None, 0])
    v = asset.patch_vertices_m[s, 0]
    moved = 0.9 * (rot[0, 1] @ (v - REST_JOINTS_M[1]) + joints[0, 1]) + 0.1 * v
    assert np.abs(skin_patches(asset, rot, joints, [s])[0, 0, 0] - moved).max() < 1e-12
    # the dense path is the same computation
    dense = skin_vertices(
        asset.patch_vertices_m[s, :1], asset.patch_weights[s, :1], REST_JOINTS_M, rot, joints
    )
    assert np.abs(dense[0, 0] - moved).max() < 1e-12


def test_a_limb_along_the_normal_falls_back_to_the_carried_rest_axis():
    base = synthetic_body()
    up = REST_JOINTS_M[3] - REST_JOINTS_M[0]  # the pelvis limb direction, used as the outward normal
    verts, faces = cylinder_patch(REST_JOINTS_M[0] + 0.05 * up, (1.0, 0, 0), up, 0.15)
    asset = replace(
        base,
        site_names=("top",),
        site_vertex_ids=np.zeros(1, dtype=np.int64),
        patch_vertices_m=verts[None],
        patch_faces=faces[None],
        patch_weights=np.eye(22)[[0] * len(verts)][None],
    )
    rot, joints = rest_pose(4)
    rot[:] = axis_angle_to_matrix(np.outer(np.linspace(0, 1.5, 4), [0, 1.0, 0]))[:, None]
    joints = np.einsum("tab,jb->tja", rot[:, 0], REST_JOINTS_M)
    _, frames = site_frames(asset, rot, joints)
    check_frames(frames)
    # the frame turns with the body (yaw), not arbitrarily
    assert np.abs(frames[1:] - np.einsum("tab,bc->tac", rot[1:, 0], frames[0, 0])[:, None]).max() < 1e-9


@pytest.mark.parametrize("shape", ["female_average", "male_tall"])
def test_real_anny_sites_face_outwards(shape):
    from text2imu.builder.bodies.asset import BodyAsset, asset_path

    path = asset_path("anny", shape)
    if not path.is_file():
        pytest.skip(f"{path} not compiled")
    asset = BodyAsset.load(path)
    rest = asset.rest_joints_m
    rot = np.repeat(np.eye(3)[None, None], 22, axis=1)
    pos, frames = site_frames(asset, rot, rest[None])
    check_frames(frames)
    centre = rest[[0, 3, 6, 9]].mean(0)
    for s, name in enumerate(asset.site_names):
        seg = int(np.argmax(asset.patch_weights[s, 0]))
        a, b = LIMB_JOINTS[seg]
        limb = rest[b] - rest[a]
        axis_pt = rest[a] + np.clip((pos[0, s] - rest[a]) @ limb / (limb @ limb), 0, 1) * limb
        outward = pos[0, s] - (
            axis_pt if seg not in (0, 3, 6, 9) else centre * (1, 0, 1) + (0, pos[0, s, 1], 0)
        )
        assert frames[0, s, :, 2] @ outward > 0, name
