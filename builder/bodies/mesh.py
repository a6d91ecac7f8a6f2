"""Pure triangle-mesh geometry used to compile body assets: closedness, volume, height, one-ring patches, rays.

All functions take ``vertices`` (V, 3) float in metres and ``faces`` (F, 3) int vertex indices, wound
counter-clockwise seen from outside (the right-hand normal points out of the body). World frame y-up.
"""

from __future__ import annotations

import numpy as np

from ..errors import FormatError


def face_components(faces: np.ndarray, n_vertices: int) -> np.ndarray:
    """(F,) label of the connected component (through shared vertices) of each face; 0 is the largest one."""
    import scipy.sparse
    import scipy.sparse.csgraph

    faces = np.asarray(faces)
    rows = np.repeat(faces[:, 0], 2)
    cols = faces[:, 1:].reshape(-1)
    graph = scipy.sparse.coo_matrix((np.ones(len(rows)), (rows, cols)), shape=(n_vertices, n_vertices))
    _, vertex_label = scipy.sparse.csgraph.connected_components(graph, directed=False)
    label = vertex_label[faces[:, 0]]
    order = np.argsort(-np.bincount(label), kind="stable")  # relabel by size, largest first
    rank = np.empty_like(order)
    rank[order] = np.arange(len(order))
    return rank[label]


def closed_surface_problems(faces: np.ndarray) -> list[str]:
    """Why ``faces`` is not a closed, consistently wound 2-manifold surface (empty list when it is).

    Closed and consistent: every directed edge (a, b) occurs exactly once and its reverse (b, a) exactly once.
    """
    faces = np.asarray(faces)
    directed = np.concatenate([faces[:, [0, 1]], faces[:, [1, 2]], faces[:, [2, 0]]])
    problems = []
    uniq, counts = np.unique(directed, axis=0, return_counts=True)
    if (counts > 1).any():
        problems.append(f"{int((counts > 1).sum())} directed edges are used twice (inconsistent winding)")
    key = uniq[:, 0].astype(np.int64) * (int(faces.max()) + 1) + uniq[:, 1]
    reverse = uniq[:, 1].astype(np.int64) * (int(faces.max()) + 1) + uniq[:, 0]
    open_edges = int((~np.isin(reverse, key)).sum())
    if open_edges:
        problems.append(f"{open_edges} edges have no opposite edge (holes)")
    return problems


def mesh_volume_m3(vertices: np.ndarray, faces: np.ndarray) -> float:
    """Signed volume (m^3) enclosed by a closed surface (divergence theorem); positive for outward winding."""
    tri = np.asarray(vertices, dtype=np.float64)[np.asarray(faces)]
    return float(np.einsum("ij,ij->i", np.cross(tri[:, 0], tri[:, 1]), tri[:, 2]).sum() / 6.0)


def mesh_height_m(vertices: np.ndarray) -> float:
    """Vertical extent (m) of the mesh along y: standing height for an upright body."""
    y = np.asarray(vertices)[:, 1]
    return float(y.max() - y.min())


def face_normals(vertices: np.ndarray, faces: np.ndarray) -> np.ndarray:
    """(F, 3) unit normals by the right-hand rule (outward for outward-wound faces)."""
    tri = np.asarray(vertices, dtype=np.float64)[np.asarray(faces)]
    n = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])
    return n / np.maximum(np.linalg.norm(n, axis=1, keepdims=True), 1e-300)


def one_ring(faces: np.ndarray, vertex: int) -> tuple[np.ndarray, np.ndarray]:
    """The one-ring patch of ``vertex``.

    Returns:
        ids: (K,) global vertex ids: ``ids[0] == vertex``, then its neighbours in fan order (the order in which
            the incident faces turn around the vertex, counter-clockwise seen from outside).
        local_faces: (F, 3) the incident faces as indices into ``ids``, with the mesh's winding kept.
    Raises:
        FormatError: the vertex is not on a closed fan (a boundary vertex or a non-manifold one).
    """
    faces = np.asarray(faces)
    incident = faces[(faces == vertex).any(axis=1)]
    if len(incident) < 3:
        raise FormatError(
            f"vertex {vertex} has {len(incident)} incident faces; not an interior surface vertex"
        )
    # Rotate each face so that the centre vertex comes first: (vertex, a, b) with a -> b counter-clockwise.
    pairs = {}
    for f in incident:
        k = int(np.flatnonzero(f == vertex)[0])
        a, b = int(f[(k + 1) % 3]), int(f[(k + 2) % 3])
        if a in pairs:
            raise FormatError(f"vertex {vertex} is not on a manifold fan")
        pairs[a] = b
    start = min(pairs)
    ring = [start]
    while len(ring) < len(pairs):
        nxt = pairs.get(ring[-1])
        if nxt is None or nxt == start:
            raise FormatError(f"vertex {vertex} does not sit on a closed fan")
        ring.append(nxt)
    if pairs.get(ring[-1]) != start:
        raise FormatError(f"vertex {vertex} does not sit on a closed fan")
    ids = np.array([vertex, *ring], dtype=np.int64)
    lookup = {int(g): i for i, g in enumerate(ids)}
    local = np.array([[lookup[int(g)] for g in f] for f in incident], dtype=np.int64)
    return ids, local


def ray_first_hit(
    origin: np.ndarray, direction: np.ndarray, vertices: np.ndarray, faces: np.ndarray
) -> tuple[int, np.ndarray] | None:
    """First triangle hit by the ray ``origin + t * direction``, t > 0 (Moller-Trumbore, all faces at once).

    Args:
        origin: (3,) m. direction: (3,) any length.
    Returns:
        (face index, hit point (3,) m), or None when the ray misses every face.
    """
    v = np.asarray(vertices, dtype=np.float64)
    tri = v[np.asarray(faces)]
    d = np.asarray(direction, dtype=np.float64)
    o = np.asarray(origin, dtype=np.float64)
    e1, e2 = tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0]
    p = np.cross(d, e2)
    det = np.einsum("ij,ij->i", e1, p)
    ok = np.abs(det) > 1e-14
    inv = np.where(ok, 1.0 / np.where(ok, det, 1.0), 0.0)
    s = o - tri[:, 0]
    u = np.einsum("ij,ij->i", s, p) * inv
    q = np.cross(s, e1)
    w = (q @ d) * inv
    t = np.einsum("ij,ij->i", e2, q) * inv
    eps = 1e-9  # a ray along an edge (e.g. the body's midline) must hit one of the two triangles
    hit = ok & (u >= -eps) & (w >= -eps) & (u + w <= 1 + eps) & (t > 1e-9)
    if not hit.any():
        return None
    idx = np.flatnonzero(hit)
    best = int(idx[np.argmin(t[idx])])
    return best, o + t[best] * d


def site_vertex_by_ray(
    vertices: np.ndarray,
    faces: np.ndarray,
    joints: np.ndarray,
    joint_index: dict[str, int] | None,
    rule: dict,
) -> tuple[int, np.ndarray]:
    """Pick a skin-site vertex by the geometric rule of ``sites.toml`` (``<model>_rule``).

    The rule ``{from = A, to = B, at = s, toward = [x, y, z]}`` casts a ray from the point P = J_A + s (J_B - J_A)
    on the bone axis (s may lie outside [0, 1]) in the body-frame direction ``toward`` made perpendicular to
    the axis, takes the first surface it crosses (the skin, seen from inside the body) and returns the vertex of
    the crossed triangle nearest to the crossing.

    Args:
        vertices: (V, 3) rest-pose vertices, m. faces: (F, 3) the body surface (closed, no inner parts).
        joints: (22, 3) rest joints, m. joint_index: joint name -> row (default: HumanML3D order).
        rule: the rule table.
    Returns:
        (vertex id, the crossing point (3,) m).
    """
    if joint_index is None:
        from ..skeleton import skeleton

        joint_index = {n: i for i, n in enumerate(skeleton().names)}
    a, b = joints[joint_index[rule["from"]]], joints[joint_index[rule["to"]]]
    origin = a + float(rule["at"]) * (b - a)
    d = np.asarray(rule["toward"], dtype=np.float64)
    axis = b - a
    if np.linalg.norm(axis) > 1e-9:
        axis = axis / np.linalg.norm(axis)
        d = d - (d @ axis) * axis
    if np.linalg.norm(d) < 1e-9:
        raise FormatError(f"site rule {rule}: 'toward' is parallel to the bone")
    found = ray_first_hit(origin, d, vertices, faces)
    if found is None:
        raise FormatError(f"site rule {rule}: the ray leaves the body without crossing its surface")
    face, point = found
    corners = np.asarray(faces)[face]
    nearest = corners[np.argmin(np.linalg.norm(np.asarray(vertices)[corners] - point, axis=1))]
    return int(nearest), point
