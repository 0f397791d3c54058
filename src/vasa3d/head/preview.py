"""Drawing head meshes without the render room: flat-shaded painter's algorithm.

Used by ``vasa3d head preview`` (the contact sheet) and the fitting overlay in
the docs.  A Python loop over triangles with OpenCV's polygon filling (~10 ms a frame);
meant for pictures, not for training.
"""

from __future__ import annotations

import numpy as np
import torch

from vasa3d.render.camera import Camera

#: flat colours of the head regions (RGB in [0, 1])
REGION_COLOURS = {
    "face": (0.86, 0.70, 0.60), "lips": (0.78, 0.42, 0.42), "eyes": (0.84, 0.68, 0.58),
    "eyeballs": (0.95, 0.95, 0.93), "mouth_interior": (0.45, 0.12, 0.14), "scalp": (0.55, 0.42, 0.32),
    "ears": (0.84, 0.66, 0.56), "neck": (0.80, 0.64, 0.54),
}
LIGHT = np.array([0.3, 0.4, 1.0]) / np.linalg.norm([0.3, 0.4, 1.0])


def face_colours(head) -> np.ndarray:
    """``(F, 3)`` flat colours per triangle from the head's regions (iris, teeth, tongue marked)."""
    fr = head.face_regions.cpu().numpy()
    cols = np.array([REGION_COLOURS.get(n, (0.7, 0.7, 0.7)) for n in head.regions])[fr]
    faces = head.faces.cpu().numpy()
    lv = head.landmark_vertices.cpu().numpy()
    if len(lv) >= 478:
        iris = np.isin(faces, lv[[468, 473]]).any(1)
        cols[iris] = (0.25, 0.35, 0.45)
    try:
        cols[np.isin(faces, head.extra("teeth").numpy()).all(1)] = (0.96, 0.95, 0.9)
        cols[np.isin(faces, head.extra("tongue").numpy()).all(1)] = (0.85, 0.45, 0.5)
    except KeyError:
        pass
    return cols


def draw_mesh(vertices: torch.Tensor | np.ndarray, faces: np.ndarray, camera: Camera, colours: np.ndarray,
              background: np.ndarray | None = None, alpha: float = 1.0, wireframe: bool = False) -> np.ndarray:
    """Draw one mesh.

    Args:
        vertices: ``(V, 3)`` world positions.
        faces: ``(F, 3)`` triangles (normals outward: counter-clockwise seen from outside).
        camera: a single camera; the image is ``camera.height x camera.width``.
        colours: ``(F, 3)`` RGB in [0, 1].
        background: ``(H, W, 3)`` uint8 to draw over (default: mid grey).
        alpha: opacity of the mesh over the background.
        wireframe: draw triangle outlines instead of filled, shaded triangles.

    Returns:
        ``(H, W, 3)`` uint8 image.
    """
    V = torch.as_tensor(vertices, dtype=torch.float32)
    uv, depth = camera.project(V)
    uv, depth = uv.numpy().astype(np.float64), depth.numpy()
    cam_pts = camera.world_to_camera(V).numpy()
    H, W = camera.height, camera.width
    img = np.full((H, W, 3), 0.5) if background is None else background.astype(np.float64) / 255.0
    out = img.copy()
    faces = np.asarray(faces)
    p = cam_pts[faces]
    n = np.cross(p[:, 1] - p[:, 0], p[:, 2] - p[:, 0])
    n /= np.linalg.norm(n, axis=1, keepdims=True) + 1e-12
    centre = p.mean(1)
    facing = np.einsum("ij,ij->i", n, -centre) > 0  # toward the camera
    # light fixed to the camera: shade by the normal in camera coords (camera looks along +z, y down)
    light = np.array([-LIGHT[0], -LIGHT[1], -LIGHT[2]])
    shade = 0.35 + 0.65 * np.clip(np.einsum("ij,j->i", n, light), 0, 1)
    import cv2

    visible = depth[faces].min(1) > 1e-4
    if not wireframe:
        visible &= facing
    order = np.where(visible)[0]
    order = order[np.argsort(-depth[faces[order]].mean(1))]  # far to near
    shift = 4  # cv2 draws with 1/16-pixel vertex precision
    pix = np.round((uv - 0.5) * (1 << shift)).astype(np.int64)
    pix = np.clip(pix, -(1 << 26), 1 << 26).astype(np.int32)
    out = np.ascontiguousarray(out)
    for f in order:
        pts = pix[faces[f]]
        if wireframe:
            cv2.polylines(out, [pts], True, tuple(float(c) for c in colours[f]), 1, cv2.LINE_8, shift)
        else:
            cv2.fillConvexPoly(out, pts, tuple(float(c) * shade[f] for c in colours[f]), cv2.LINE_8, shift)
    out = alpha * out + (1 - alpha) * img
    return (np.clip(out, 0, 1) * 255 + 0.5).astype(np.uint8)


def _label(tile: np.ndarray, text: str) -> np.ndarray:
    import cv2

    tile = tile.copy()
    h = tile.shape[0]
    scale = max(0.3, h / 420)
    cv2.rectangle(tile, (0, h - int(22 * scale / 0.4)), (tile.shape[1], h), (255, 255, 255), -1)
    cv2.putText(tile, text, (3, h - int(7 * scale / 0.4)), cv2.FONT_HERSHEY_SIMPLEX, scale, (0, 0, 0), 1,
                cv2.LINE_AA)
    return tile


def preview_variants(head) -> list[tuple[str, dict]]:
    """The contact sheet's tiles: (label, parameter overrides) for every blendshape and pose extreme."""
    from vasa3d.arkit import ARKIT_NAMES

    out: list[tuple[str, dict]] = [("neutral", {})]
    out += [(name, {"expression": {i: 1.0}}) for i, name in enumerate(ARKIT_NAMES[: head.n_expression])]
    out += [
        ("jaw open 0.4 rad", {"jaw": [0.4, 0, 0]}),
        ("gaze left", {"eyes": [0, 0.45, 0]}), ("gaze right", {"eyes": [0, -0.45, 0]}),
        ("gaze up", {"eyes": [-0.35, 0, 0]}), ("gaze down", {"eyes": [0.35, 0, 0]}),
        ("yaw +40", {"rotation": [0, 0.7, 0]}), ("yaw -40", {"rotation": [0, -0.7, 0]}),
        ("pitch +25", {"rotation": [-0.44, 0, 0]}), ("pitch -25", {"rotation": [0.44, 0, 0]}),
        ("roll 20", {"rotation": [0, 0, 0.35]}), ("neck yaw 30", {"neck": [0, 0.52, 0]}),
    ]
    return out


def contact_sheet(head, params=None, tile: int = 200, columns: int = 8, quiet: bool = True) -> np.ndarray:
    """A grid of the head under each blendshape (weight 1) and jaw, gaze and pose extremes.

    Args:
        head: a :class:`~vasa3d.head.HeadModel`.
        params: base parameters (``B = 1``, e.g. a fitted identity); expression and
            pose are reset to neutral before each variant.
        tile: tile side in pixels.
        columns: tiles per row.

    Returns:
        ``(rows * tile, columns * tile, 3)`` uint8 image.
    """
    from vasa3d.head.threads import single_thread

    with single_thread():
        return _contact_sheet(head, params, tile, columns, quiet)


def _contact_sheet(head, params, tile: int, columns: int, quiet: bool) -> np.ndarray:
    from vasa3d.head.params import HeadParams
    from vasa3d.progress import track

    base = HeadParams.neutral(1, head) if params is None else params.detach().clone()
    base = base.replace(expression=torch.zeros_like(base.expression), jaw=torch.zeros_like(base.jaw),
                        eyes=torch.zeros_like(base.eyes), neck=torch.zeros_like(base.neck),
                        rotation=torch.zeros_like(base.rotation), translation=torch.zeros_like(base.translation))
    cam = Camera.orbit(0.0, 0.0, 0.85, target=(0.0, -0.01, 0.03), width=tile, height=tile, fov_deg=20.0)
    cols = face_colours(head)
    faces = head.faces.cpu().numpy()
    tiles = []
    for label, change in track(preview_variants(head), "drawing contact sheet", quiet=quiet):
        p = base.clone()
        for i, v in change.get("expression", {}).items():
            p.expression[0, i] = v
        for key in ("jaw", "neck", "rotation"):
            if key in change:
                getattr(p, key)[0] = torch.tensor(change[key], dtype=torch.float32)
        if "eyes" in change:
            p.eyes[0, :] = torch.tensor(change["eyes"], dtype=torch.float32)
        with torch.no_grad():
            v = head(p)[0]
        tiles.append(_label(draw_mesh(v, faces, cam, cols), label))
    rows = -(-len(tiles) // columns)
    sheet = np.full((rows * tile, columns * tile, 3), 255, np.uint8)
    for k, t in enumerate(tiles):
        r, c = divmod(k, columns)
        sheet[r * tile:(r + 1) * tile, c * tile:(c + 1) * tile] = t
    return sheet
