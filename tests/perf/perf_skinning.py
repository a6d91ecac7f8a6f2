"""Speed of the simulation path on one core: sparse site skinning against skinning the full mesh.

Run: ``make perf`` or ``.venv/bin/python -m pytest -s -m perf tests/perf/perf_skinning.py`` (prints figures,
asserts none; the default suite deselects the ``perf`` marker).

Whole path = retarget + analytic IK + FK (``fit_motion``), sparse LBS of the site patches and sensor frames
(``site_frames``), derivatives (``simulate_imu``, central, at the motion rate). The full-mesh path is the same
plus linear blend skinning of every vertex of the same body (``skin_vertices``, dense (V, 22) weights, one
matrix product per clip), as a pipeline that skinned the whole mesh would do. Printed: site-frames per second
for a few clip lengths and site counts, then two ratios, each as "full mesh / sites":

1. whole path (IK + skinning + derivatives): full-mesh path time / site path time;
2. skinning stage alone (the fit precomputed): full-mesh LBS time / sparse site LBS (with the sensor frames) time.

The full mesh is Anny's (built here, a few seconds once Anny's cache exists, about 40 s before), when ``anny`` is
importable; otherwise a stand-in with Anny's vertex count and 4 random weights per vertex.
One core: ``torch.set_num_threads(1)`` and numpy's BLAS limited to one thread with threadpoolctl.
"""

from __future__ import annotations

import time

import numpy as np
import pytest
from fixtures.synthetic_body import synthetic_body

from text2imu.builder.bodies.asset import BodyAsset, asset_path
from text2imu.builder.fit import fit_motion
from text2imu.builder.imu import simulate_imu
from text2imu.builder.skinning import site_frames, skin_vertices

pytestmark = pytest.mark.perf

ANNY_VERTICES = 14_000  # stand-in size when anny cannot be built


def best_time_s(fn, repeats=7):
    """Fastest of ``repeats`` runs after one warm-up, seconds."""
    fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def sparse_path(joints, fps, asset, sites):
    pose = fit_motion(joints, asset.rest_joints_m)
    pos, rot = site_frames(asset, pose.rotations, pose.joints_m, sites)
    return simulate_imu(pos, rot, fps)


def full_mesh_path(joints, fps, asset, sites, vertices, weights):
    pose = fit_motion(joints, asset.rest_joints_m)
    mesh = skin_vertices(vertices, weights, asset.rest_joints_m, pose.rotations, pose.joints_m)
    pos, rot = site_frames(asset, pose.rotations, pose.joints_m, sites)
    return simulate_imu(pos, rot, fps), mesh


def full_mesh(asset):
    """(V, 3) rest vertices and (V, 22) weights of the asset's full body, and where they came from."""
    try:
        from text2imu.builder.bodies import compile_anny

        start = time.perf_counter()
        rest = compile_anny.anny_rest(dict(zip(asset.shape_param_names, asset.shape_params, strict=True)))
        weights = compile_anny.segment_weights(np.arange(len(rest.vertices_m)))
        gap = np.abs(rest.vertices_m[asset.site_vertex_ids] - asset.patch_vertices_m[:, 0]).max()
        return (
            rest.vertices_m,
            weights,
            f"Anny mesh (built in {time.perf_counter() - start:.0f} s, sites match to {gap:.1e} m)",
        )
    except Exception as err:  # anny missing or failing: time a stand-in of the same size
        rng = np.random.default_rng(0)
        weights = np.zeros((ANNY_VERTICES, 22))
        for row in weights:
            row[rng.choice(22, 4, replace=False)] = rng.dirichlet(np.ones(4))
        return rng.normal(0, 0.3, (ANNY_VERTICES, 3)), weights, f"stand-in mesh ({type(err).__name__}: {err})"


@pytest.fixture(scope="module")
def one_core():
    import torch
    from threadpoolctl import threadpool_limits

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    with threadpool_limits(limits=1):
        yield
    torch.set_num_threads(threads)


def test_site_frames_per_second_against_the_full_mesh(one_core, humanml3d_sample):
    path = asset_path("anny", "male_average")
    asset = BodyAsset.load(path) if path.is_file() else synthetic_body()
    joints = np.load(humanml3d_sample / "new_joints_012314.npy").astype(np.float64)
    fps = 20.0
    long_clip = np.concatenate([joints, joints[::-1]] * 6)  # 2040 frames, 102 s, continuous
    all_sites = np.arange(len(asset.site_names))
    print(f"\nbody {asset.body_model}/{asset.shape}, {len(asset.site_names)} sites, one core")
    print(f"{'frames':>7} {'sites':>5} {'ms/clip':>9} {'site-frames/s':>14}")
    for clip, sites in (
        (joints, all_sites[:1]),
        (joints, all_sites[:7]),
        (joints, all_sites),
        (long_clip, all_sites),
    ):
        t = best_time_s(lambda clip=clip, sites=sites: sparse_path(clip, fps, asset, sites))
        print(f"{len(clip):7d} {len(sites):5d} {1e3 * t:9.2f} {len(clip) * len(sites) / t:14,.0f}")

    vertices, weights, source = full_mesh(asset)
    sites = all_sites[:7]
    t_sparse = best_time_s(lambda: sparse_path(joints, fps, asset, sites))
    t_full = best_time_s(lambda: full_mesh_path(joints, fps, asset, sites, vertices, weights), repeats=3)
    t_lbs_sparse = best_time_s(lambda: site_frames(asset, *_pose(joints, asset), sites))
    t_lbs_full = best_time_s(
        lambda: skin_vertices(vertices, weights, asset.rest_joints_m, *_pose(joints, asset)), 3
    )
    n = len(joints) * len(sites)
    print(f"\nfull mesh: {source}, {len(vertices)} vertices; clip {len(joints)} frames x {len(sites)} sites")
    print(f"{'stage':<48} {'sites (ms)':>11} {'full mesh (ms)':>15} {'ratio full/sites':>17}")
    print(
        f"{'1. whole path (IK + skinning + derivatives)':<48} {1e3 * t_sparse:11.2f} {1e3 * t_full:15.2f} "
        f"{t_full / t_sparse:16.1f}x"
    )
    print(
        f"{'2. skinning stage alone (sparse LBS vs full LBS)':<48} {1e3 * t_lbs_sparse:11.2f} "
        f"{1e3 * t_lbs_full:15.2f} {t_lbs_full / t_lbs_sparse:16.1f}x"
    )
    print(
        f"whole path throughput: sites {n / t_sparse:,.0f} site-frames/s, full mesh {n / t_full:,.0f} "
        "site-frames/s"
    )


_POSES: dict = {}


def _pose(joints, asset):
    key = (id(joints), asset.shape)
    if key not in _POSES:
        pose = fit_motion(joints, asset.rest_joints_m)
        _POSES[key] = (pose.rotations, pose.joints_m)
    return _POSES[key]
