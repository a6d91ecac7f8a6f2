"""Pictures of a body with its skin sites marked (matplotlib, Agg backend): a check that sites sit where meant.

``draw_body_sites("anny", "female_average", "docs/figures/anny_female_average_sites.png")`` rebuilds the full
mesh of the compiled shape (Anny is needed at draw time, run time never needs it) and draws it front, left and
right in orthographic projection (flat-shaded by a lamp above the camera, back faces culled, far faces first), with each site as a dot
where it faces the camera.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from ..errors import UnknownNameError
from .asset import BodyAsset, asset_path
from .mesh import face_normals

log = logging.getLogger(__name__)

# (title, view direction towards the camera, screen-right direction) in the body frame (+x left, +y up, +z front).
VIEWS = (
    ("front", np.array([0.0, 0.0, 1.0]), np.array([1.0, 0.0, 0.0])),
    ("left side", np.array([1.0, 0.0, 0.0]), np.array([0.0, 0.0, -1.0])),
    ("right side", np.array([-1.0, 0.0, 0.0]), np.array([0.0, 0.0, 1.0])),
)


def _anny_mesh(asset: BodyAsset) -> tuple[np.ndarray, np.ndarray]:
    from .compile_anny import anny_rest

    rest = anny_rest(dict(zip(asset.shape_param_names, asset.shape_params.tolist(), strict=True)))
    return rest.vertices_m, rest.faces


# body model -> function(asset) -> (vertices (V, 3) m, faces (F, 3)) of the full rest mesh in the asset's frame.
MESH_BUILDERS: dict[str, Callable[[BodyAsset], tuple[np.ndarray, np.ndarray]]] = {"anny": _anny_mesh}


def vertex_normals(vertices: np.ndarray, faces: np.ndarray) -> np.ndarray:
    """(V, 3) unit vertex normals: area-weighted sums of the incident face normals."""
    tri = vertices[faces]
    n = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])
    out = np.zeros_like(vertices, dtype=np.float64)
    for k in range(3):
        np.add.at(out, faces[:, k], n)
    return out / np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-300)


def draw_mesh_sites(
    vertices: np.ndarray,
    faces: np.ndarray,
    site_names: Sequence[str],
    site_vertex_ids: Sequence[int],
    out_png: str | Path,
    title: str = "",
    joints: np.ndarray | None = None,
) -> Path:
    """Draw a mesh from the front, left and right with named vertices marked; write a PNG.

    Args:
        vertices: (V, 3) m, body frame (+x left, +y up, +z front). faces: (F, 3), wound outwards.
        site_names, site_vertex_ids: (S,) names and vertex indices to mark.
        out_png: the file to write (its folder is created). title: the figure title.
        joints: optional (J, 3) joint positions drawn as small crosses on the front view.
    Returns:
        the path written.
    """
    import matplotlib
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.collections import PolyCollection
    from matplotlib.figure import Figure

    vertices = np.asarray(vertices, dtype=np.float64)
    faces = np.asarray(faces)
    fn = face_normals(vertices, faces)
    vn = vertex_normals(vertices, faces)
    colours = matplotlib.colormaps["tab20"](np.linspace(0, 1, max(len(site_names), 1), endpoint=False))
    fig = Figure(figsize=(5.2 * len(VIEWS), 8.5))  # Agg canvas, no pyplot state
    FigureCanvasAgg(fig)
    axes = fig.subplots(1, len(VIEWS))
    for ax, (name, view, right) in zip(axes, VIEWS, strict=True):
        up = np.array([0.0, 1.0, 0.0])
        visible = fn @ view > 0
        tri = vertices[faces[visible]]
        depth = (tri @ view).mean(axis=1)
        order = np.argsort(depth)  # far first
        poly = np.stack([tri @ right, tri @ up], axis=-1)[order]
        light = view + 0.5 * up  # a lamp above the camera
        grey = (0.3 + 0.65 * np.clip(fn[visible] @ (light / np.linalg.norm(light)), 0, 1))[order]
        rgb = np.stack([grey * 0.93, grey * 0.85, grey * 0.78], 1)
        ax.add_collection(PolyCollection(poly, facecolors=rgb, edgecolors=rgb, linewidths=0.3, antialiased=False))
        if joints is not None and name == "front":
            ax.plot(joints @ right, joints @ up, "x", color="k", ms=4, alpha=0.6)
        for k, (site, vid) in enumerate(zip(site_names, site_vertex_ids, strict=True)):
            p = vertices[vid]
            if vn[vid] @ view <= 0.05:
                continue  # faces away from this camera
            sx, sy = p @ right, p @ up
            ax.plot(sx, sy, "o", ms=9, mfc=colours[k], mec="k", mew=1.2, zorder=5)
            ax.annotate(site, (sx, sy), xytext=(7, 4), textcoords="offset points", fontsize=7.5, zorder=6,
                        bbox={"boxstyle": "round,pad=0.15", "fc": "white", "ec": colours[k], "alpha": 0.85})  # fmt: skip
        ax.set_title(name)
        ax.set_aspect("equal")
        ax.autoscale_view()
        ax.set_xlabel("m")
    axes[0].set_ylabel("height above floor (m)")
    fig.suptitle(title)
    fig.tight_layout()
    out_png = Path(out_png)
    out_png.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out_png, dpi=110)
    log.info("wrote %s", out_png)
    return out_png


def draw_body_sites(body_model: str, shape: str, out_png: str | Path, asset: BodyAsset | None = None) -> Path:
    """Draw the compiled ``body_model`` in ``shape`` with all its asset's sites marked; write ``out_png``."""
    if body_model not in MESH_BUILDERS:
        raise UnknownNameError("body model to draw", body_model, MESH_BUILDERS)
    if asset is None:
        from .shapes import body_shape

        body_shape(shape)  # "did you mean" for a typo before looking for the file
        asset = BodyAsset.load(asset_path(body_model, shape))
    vertices, faces = MESH_BUILDERS[body_model](asset)
    title = (
        f"{body_model} {asset.shape}: {asset.height_m * 100:.1f} cm, {asset.weight_kg:.1f} kg "
        f"(target {asset.target_height_m * 100:.1f} cm, {asset.target_weight_kg:.1f} kg)"
    )
    return draw_mesh_sites(
        vertices, faces, asset.site_names, asset.site_vertex_ids.tolist(), out_png, title, asset.rest_joints_m
    )
