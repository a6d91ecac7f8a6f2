"""Where a virtual IMU sits on the body: on the skin (the default) or at a skeleton joint (IMUSim-style).

Two placements (:data:`PLACEMENTS`), chosen per simulation (:func:`text2imu.builder.simulate.simulate_motion`,
``text2imu simulate --placement``, ``text2imu build --placement``):

- ``skin`` (default): the sensor sits at the site's vertex of the body model's surface, with the skin frame of
  :func:`text2imu.builder.skinning.site_frames` (z the outward normal, x the limb on the tangent plane). The body's
  soft tissue moves it: it is carried by the blend of the segments that skin the vertex, at a lever arm from the
  bones.
- ``joint``: the sensor is rigidly attached at a joint of the fitted skeleton, the way IMUSim-based pipelines
  (IMUGPT, IMUTube) attach virtual IMUs to the joints of a BVH skeleton; no surface and no skinning over time.
  For a site of ``data/sites.toml`` with ``segment`` s and ``joint`` j (:attr:`~text2imu.builder.bodies.sites.Site.
  sensor_joint`: s itself, the joint the segment hangs from, or s's child for devices at the far end of a limb):

      position p(t) = J_j(t)                     (the posed joint of the fitted body, metres)
      frame    R(t) = R_s(t) @ F_rest            (sensor -> world)

  with ``R_s`` the segment's global rotation (rest pose -> posed, :class:`text2imu.builder.fit.BodyPose`) and
  ``F_rest`` the site's skin frame in the body's rest pose (a constant per body and site). So the joint sensor's
  axes are the skin sensor's axes in the rest pose, carried rigidly by the segment: both placements read in
  comparable axes (the site's device mounting, ``mount_rotvec_deg``, is applied to both in the same way), and
  they differ by the lever arm (position: joint vs skin) and by the soft-tissue turn of the skin frame. For a
  skin patch skinned rigidly by ``segment`` alone, the two frames coincide at every frame and the gyroscopes
  read the same; the accelerometers differ by the lever-arm terms ``dw/dt x r + w x (w x r)``.

The site -> joint table is data (``data/sites.toml``: ``segment`` and ``joint`` per site), not code.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from .errors import UnknownNameError

if TYPE_CHECKING:
    from .bodies.asset import BodyAsset

PLACEMENTS: tuple[str, ...] = ("skin", "joint")
DEFAULT_PLACEMENT = "skin"
#: One line per placement, for cards and help texts.
PLACEMENT_WORDS: dict[str, str] = {
    "skin": "skin (each site's skin vertex of the body model, skin frame: z the outward normal)",
    "joint": "joint (IMUSim-style: rigidly at each site's skeleton joint of data/sites.toml, turned with its "
             "segment, in the site's rest-pose skin axes)",
}


def check_placement(placement: object) -> str:
    """``placement`` if it is one of :data:`PLACEMENTS`; UnknownNameError with "did you mean" otherwise."""
    if not isinstance(placement, str) or placement not in PLACEMENTS:
        raise UnknownNameError("sensor placement", str(placement), PLACEMENTS)
    return placement


def site_joint_indices(sites: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """Skeleton indices of where ``joint``-placed sensors at ``sites`` sit and turn.

    Args:
        sites: (S,) site names of ``data/sites.toml`` (unknown names raise UnknownNameError, "did you mean").
    Returns:
        joints (S,) index of each site's sensor joint; segments (S,) index of the segment that carries it (both
        in HumanML3D joint order).
    """
    from .bodies.sites import site
    from .skeleton import skeleton

    sk = skeleton()
    table = [site(name) for name in sites]
    joints = np.array([sk.index(s.sensor_joint) for s in table], dtype=np.int64)
    segments = np.array([sk.index(s.segment) for s in table], dtype=np.int64)
    return joints, segments


def rest_site_axes(asset: BodyAsset, site_indices: np.ndarray) -> np.ndarray:
    """(S, 3, 3) skin frames (sensor -> world, columns x, y, z) of the asset's sites in its rest pose.

    Args:
        asset: a BodyAsset. site_indices: (S,) indices into ``asset.site_names``.
    """
    from .skeleton import N_JOINTS
    from .skinning import site_frames

    identity = np.broadcast_to(np.eye(3), (1, N_JOINTS, 3, 3))
    _, frames = site_frames(asset, identity, np.asarray(asset.rest_joints_m)[None], site_indices)
    return frames[0]


def joint_frames(
    asset: BodyAsset,
    rotations: np.ndarray,
    joints_m: np.ndarray,
    sites: Sequence[str],
    site_indices: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Positions and frames of sensors rigidly attached at the sites' joints (see the module docstring).

    Args:
        asset: the BodyAsset the pose was fitted to (for the rest-pose site axes).
        rotations: (T, 22, 3, 3) global segment rotations, rest -> posed.
        joints_m: (T, 22, 3) posed joints of the body, metres.
        sites: (S,) site names (rows of ``data/sites.toml``).
        site_indices: (S,) the same sites' indices into ``asset.site_names``.
    Returns:
        positions (T, S, 3) in metres (the sensor joints' positions) and rotations sensor -> world (T, S, 3, 3).
    """
    joint_idx, segment_idx = site_joint_indices(sites)
    axes = rest_site_axes(asset, np.asarray(site_indices, dtype=np.int64))
    frames = np.einsum("tsab,sbc->tsac", np.asarray(rotations, dtype=np.float64)[:, segment_idx], axes)
    return np.asarray(joints_m, dtype=np.float64)[:, joint_idx].copy(), frames
