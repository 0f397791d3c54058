"""Build ``data/mean_face.npz``, the face template of the built-in head.

Run once by a developer (``python -m vasa3d.head.make_mean_face``); the
output ships with the package, so users never run mediapipe to build a head.

What it stores:
    landmarks: ``(478, 3)`` float32, metres, the head frame of
        :mod:`vasa3d.render.camera` (+x subject's left, +y up, +z toward the
        viewer), head centre at the origin, exactly mirror-symmetric.
    triangles: ``(F, 3)`` int32, the 468-point face topology: the 3-cliques of
        mediapipe's FACEMESH_TESSELATION edge set that are faces, outward-facing.
    mirror: ``(478,)`` int32, the landmark on the other side of the face.

The face comes from the refined landmarks of ``skimage.data.astronaut()``:
straightened onto its symmetry plane, symmetrised, scaled to a 0.14 m
cheek-to-cheek width, with the (smiling, parted) lips closed by rotating the
jaw back.
"""

from __future__ import annotations

import collections
import itertools
from pathlib import Path

import numpy as np
from scipy.optimize import linear_sum_assignment

FACE_WIDTH_M = 0.14
#: mediapipe face-mesh points on the facial midline (used to find the symmetry plane)
MIDLINE = (0, 1, 2, 4, 5, 6, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 94, 151, 152, 164, 168, 175, 195, 197,
           199, 200)
OUT = Path(__file__).with_name("data") / "mean_face.npz"


def face_triangles(edges, positions: np.ndarray) -> np.ndarray:
    """The faces of a triangle mesh given only its edge set.

    Every face is a 3-clique of the edge graph; a clique that is not a face
    (a "separating triangle") shows up as edges used by three cliques: drop
    the cliques all of whose edges are over-used, then orient each triangle so
    its normal points away from the head centre behind the face.
    """
    und = {tuple(sorted(e)) for e in edges}
    adj = collections.defaultdict(set)
    for a, b in und:
        adj[a].add(b)
        adj[b].add(a)
    tris = {tuple(sorted((a, b, c))) for a, b in und for c in adj[a] & adj[b]}
    while True:
        use = collections.Counter(e for t in tris for e in itertools.combinations(t, 2))
        fake = [t for t in tris if all(use[e] > 2 for e in itertools.combinations(t, 2))]
        if not fake:
            break
        tris.discard(fake[0])
    tri = np.array(sorted(tris), dtype=np.int64)
    p = positions[tri]
    n = np.cross(p[:, 1] - p[:, 0], p[:, 2] - p[:, 0])
    behind = positions[:468].mean(0) - np.array([0.0, 0.0, 0.6 * np.ptp(positions[:468, 0])])
    flip = np.einsum("ij,ij->i", n, p.mean(1) - behind) < 0
    tri[flip] = tri[flip][:, [0, 2, 1]]
    return tri.astype(np.int32)


def _plane_frame(P: np.ndarray) -> np.ndarray:
    """Rotate ``P`` so the midline plane is x = 0, chin-to-forehead is +y, nose is +z."""
    mid = P[list(MIDLINE)]
    c = mid.mean(0)
    _, _, vt = np.linalg.svd(mid - c)
    x = vt[2]
    if x[0] < 0:
        x = -x
    up = P[10] - P[152]
    y = up - x * np.dot(up, x)
    y /= np.linalg.norm(y)
    z = np.cross(x, y)
    return (P - c) @ np.stack([x, y, z]).T


def mirror_permutation(P: np.ndarray) -> np.ndarray:
    """For each point the index of its mirror image across x = 0 (Hungarian matching)."""
    Q = P * np.array([-1.0, 1.0, 1.0])
    cost = np.linalg.norm(P[:, None] - Q[None], axis=-1)
    rows, cols = linear_sum_assignment(cost)
    perm = np.empty(len(P), dtype=np.int64)
    perm[rows] = cols
    return perm


def symmetrise(P: np.ndarray, perm: np.ndarray) -> np.ndarray:
    Q = P[perm] * np.array([-1.0, 1.0, 1.0])
    return (P + Q) / 2


def build(landmarks_px: np.ndarray, edges) -> dict[str, np.ndarray]:
    from vasa3d.head.builtin import close_mouth

    # pixels -> right-handed, y up, z toward the viewer (mediapipe z grows away from the camera)
    P = landmarks_px.astype(np.float64) * np.array([1.0, -1.0, -1.0])
    P = _plane_frame(P)
    perm = mirror_permutation(P)
    for _ in range(3):  # re-fit the plane to the symmetrised points
        P = _plane_frame(symmetrise(P, perm))
        perm = mirror_permutation(P)
    P = symmetrise(P, perm)
    P *= FACE_WIDTH_M / np.linalg.norm(P[454] - P[234])
    # head centre: on the midline, a little below the eyes, ~0.095 m behind the brow
    eye_y = (P[468, 1] + P[473, 1]) / 2
    P -= np.array([0.0, eye_y - 0.005, P[9, 2] - 0.095])
    tri = face_triangles(edges, P)
    P = close_mouth(P)
    P = symmetrise(P, perm)
    return {"landmarks": P.astype(np.float32), "triangles": tri, "mirror": perm.astype(np.int32)}


def main() -> None:
    import mediapipe as mp
    from skimage import data

    from vasa3d.face import analyze_portrait

    lm = analyze_portrait(data.astronaut(), size=512).landmarks
    out = build(lm, mp.solutions.face_mesh_connections.FACEMESH_TESSELATION)
    OUT.parent.mkdir(exist_ok=True)
    np.savez_compressed(OUT, **out)
    print(f"wrote {OUT}: {len(out['triangles'])} triangles")


if __name__ == "__main__":
    main()
