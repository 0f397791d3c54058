"""``vasa3d head preview`` (contact sheet of the fitted head) and ``vasa3d track`` (video -> motion)."""

from __future__ import annotations

import argparse
from pathlib import Path

from vasa3d.errors import InputError


def register(subparsers) -> None:
    from vasa3d.config import add_dataclass_args
    from vasa3d.face.track import TrackConfig

    head = subparsers.add_parser("head", help="the parametric head model: preview its blendshapes and poses")
    head_sub = head.add_subparsers(dest="head_command", metavar="ACTION")
    prev = head_sub.add_parser(
        "preview", help="contact sheet of the (fitted) head under each ARKit blendshape and pose extreme",
        description="Draw the built-in head, fitted to PORTRAIT when given, under each of the 52 ARKit "
                    "blendshapes (weight 1) and under jaw, gaze and head-pose extremes, as one PNG.")
    prev.add_argument("portrait", nargs="?", help="portrait photo to fit the head to (default: the mean head)")
    prev.add_argument("-o", "--output", required=True, help="the contact sheet, .png")
    prev.add_argument("--tile", type=int, default=200, help="tile size in pixels (default: 200)")
    prev.add_argument("--columns", type=int, default=8, help="tiles per row (default: 8)")
    prev.add_argument("--overlay", help="also write the fitted mesh drawn over the aligned portrait (.png)")
    prev.add_argument("-q", "--quiet", action="store_true", default=argparse.SUPPRESS, help="no progress bars")
    prev.set_defaults(func=preview_command)
    head.set_defaults(func=lambda args: (head.print_help(), 1)[1])

    tr = subparsers.add_parser(
        "track", help="track a talking-head video into a motion file (ARKit weights + head pose per frame)",
        description="Track the face in VIDEO: mediapipe landmarks, then the head's pose and 52 ARKit "
                    "weights per frame. Writes a vasa3d motion .npz, or an ARKit .csv/.json by suffix.")
    tr.add_argument("video", help="the video file (mp4, mov, webm, avi...)")
    tr.add_argument("-o", "--output", required=True, help="motion.npz, or ARKit weights .csv / .json")
    add_dataclass_args(tr, TrackConfig)
    tr.set_defaults(func=track_command)


def preview_command(args: argparse.Namespace) -> int:
    from vasa3d.head import build_head
    from vasa3d.head.preview import contact_sheet
    from vasa3d.io.media import check_output_path, save_image

    out = check_output_path(args.output, [args.portrait], (".png",), "contact sheet")
    overlay = None
    if args.overlay:
        overlay = check_output_path(args.overlay, [args.portrait, out], (".png",), "overlay")
    if args.tile < 64 or args.columns < 1:
        raise InputError("--tile must be >= 64 pixels and --columns >= 1")
    head = build_head()
    params = None
    if args.portrait:
        from vasa3d.face import analyze_portrait
        from vasa3d.head import fit_portrait
        from vasa3d.io.media import load_image

        analysis = analyze_portrait(load_image(args.portrait))
        for w in analysis.warnings:
            print(f"warning: {w}")
        fit = fit_portrait(analysis, head)
        params = fit.params
        if not args.quiet:
            print(f"fitted: mean landmark error {100 * fit.landmark_error:.2f}% of the inter-ocular distance")
        if overlay:
            save_image(overlay, fit_overlay(analysis, fit, head))
    elif overlay:
        raise InputError("--overlay needs a PORTRAIT to fit")
    save_image(out, contact_sheet(head, params, tile=args.tile, columns=args.columns, quiet=args.quiet))
    return 0


def fit_overlay(analysis, fit, head):
    """The portrait, the fitted mesh over it (half transparent) and its wireframe, side by side."""
    import numpy as np
    import torch

    from vasa3d.head.preview import draw_mesh, face_colours

    with torch.no_grad():
        v = head(fit.params)[0]
    faces = head.faces.numpy()
    cols = face_colours(head)
    shaded = draw_mesh(v, faces, fit.camera, cols, background=analysis.image, alpha=0.55)
    wire = draw_mesh(v, faces, fit.camera, np.tile([[0.1, 0.9, 0.2]], (len(faces), 1)),
                     background=analysis.image, wireframe=True)
    return np.concatenate([analysis.image, shaded, wire], 1)


def track_command(args: argparse.Namespace) -> int:
    from vasa3d.config import dataclass_from_args
    from vasa3d.face.track import TrackConfig, track_video_detailed
    from vasa3d.head.arkit_io import write_arkit_csv, write_arkit_json
    from vasa3d.io.media import check_output_path

    out = check_output_path(args.output, [args.video], (".npz", ".csv", ".json"), "motion file")
    cfg = dataclass_from_args(TrackConfig, args)
    result = track_video_detailed(args.video, config=cfg, quiet=args.quiet)
    {".npz": result.motion.save, ".csv": lambda p: write_arkit_csv(p, result.motion),
     ".json": lambda p: write_arkit_json(p, result.motion)}[out.suffix.lower()](out)
    if not args.quiet:
        missed = int((~result.found).sum())
        err = result.reprojection_error()
        print(f"tracked {len(result.found)} frames at {result.motion.fps:g} fps"
              f"{f' ({missed} without a face held)' if missed else ''}; landmark error "
              f"{100 * float(__import__('numpy').nanmean(err)):.2f}% of face width -> {out}")
    return 0
