"""Speed of video face tracking (``vasa3d.face.track_video``) on 256x256 input.

A synthetic talking clip is made from the astronaut portrait (the tracker's
test motion: speech-like jaw, a blink, smiles, head turns; see
``vasa3d.face.synthetic``), encoded to an MPEG-4 file, and tracked from the
file: decoding, mediapipe landmark detection, the one-off identity/camera fit
on the first frame, the per-frame pose + ARKit solve and the temporal
smoothing are all inside the timed call.  Also timed alone: mediapipe's face
mesh on the same frames (the detection share).  Best of ``--repeats`` runs.

    python benchmarks/track.py                   # 250 frames (10 s at 25 fps)
    python benchmarks/track.py --frames 100 --repeats 1
"""

from __future__ import annotations

import vasa3d  # noqa: F401  (first: sets OpenMP passive waiting before torch loads)

import argparse
import os
import tempfile
import time

import numpy as np
import torch


def make_clip(frames: int, size: int, path: str) -> None:
    import av
    from skimage import data

    from vasa3d.face import analyze_portrait
    from vasa3d.face.synthetic import demo_motion, warp_frames
    from vasa3d.head import build_head, fit_portrait

    head = build_head()
    a = analyze_portrait(data.astronaut(), size=size)
    z, pose = demo_motion(frames)
    video = warp_frames(a.image, fit_portrait(a, head), head, z, pose)
    with av.open(path, "w") as out:
        s = out.add_stream("mpeg4", rate=25)
        s.width, s.height, s.pix_fmt, s.bit_rate = size, size, "yuv420p", 4_000_000
        for f in video:
            for pkt in s.encode(av.VideoFrame.from_ndarray(f, format="rgb24")):
                out.mux(pkt)
        for pkt in s.encode():
            out.mux(pkt)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--frames", type=int, default=250)
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

    from vasa3d.face import detectors, track_video_detailed
    from vasa3d.face.track import read_video
    from vasa3d.head import build_head

    head = build_head()
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "clip.mp4")
        make_clip(args.frames, args.size, path)
        frames = list(read_video(path)[0])
        detect = []
        for _ in range(args.repeats):
            mesh = detectors.new_face_mesh(static=False)
            t0 = time.perf_counter()
            for f in frames:
                mesh.process(f)
            detect.append(time.perf_counter() - t0)
        total, result = [], None
        for _ in range(args.repeats):
            t0 = time.perf_counter()
            result = track_video_detailed(path, head)
            total.append(time.perf_counter() - t0)
    n = len(frames)
    err = result.reprojection_error()
    best, det = min(total), min(detect)
    print(f"torch {torch.__version__}, {os.cpu_count()} CPUs, {n} frames {args.size}x{args.size}")
    print("| stage | ms / frame | frames / s |")
    print("|---|---|---|")
    print(f"| mediapipe face mesh (tracking mode) | {1000 * det / n:.1f} | {n / det:.0f} |")
    print(f"| fit + solve + smoothing + decode (the rest) | {1000 * (best - det) / n:.1f} | {n / (best - det):.0f} |")
    print(f"| **track_video, all-in** | **{1000 * best / n:.1f}** | **{n / best:.1f}** |")
    print(f"reprojection error: mean {np.nanmean(err):.4f}, max {np.nanmax(err):.4f} of face width")


if __name__ == "__main__":
    main()
