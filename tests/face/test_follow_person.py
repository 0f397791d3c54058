"""Videos that open on black, cut to someone else, or show two people: the tracker follows the first
person it finds (issue 15), and ``dataset from-video`` keeps only that person's frames."""

import numpy as np
import pytest
from skimage import data, transform

from vasa3d.face.track import SAME_PERSON, shape_distance, track_frames

H, W = 240, 480


def _faces():
    crop = data.astronaut()[20:260, 120:360]  # the head, so that the face is ~80 px wide at 180 px
    person = (transform.resize(crop, (180, 180), anti_aliasing=True) * 255).astype(np.uint8)
    # someone else: a wider face (landmark geometry differs), mirrored, with other colours
    other = (transform.resize(crop, (180, 240), anti_aliasing=True) * 255).astype(np.uint8)[:, ::-1, ::-1]
    return person, np.ascontiguousarray(other)


def synthetic_video():
    """``(frames, kinds)``: 8 black, 20 of the astronaut moving right and down, 8 of only another face
    (a cut), 10 with both (the astronaut left, the other right), 6 of the astronaut again."""
    person, other = _faces()
    frames, kinds = [], []

    def add(kind, person_at=None, other_at=None):
        f = np.zeros((H, W, 3), np.uint8)
        if other_at is not None:
            f[30:210, other_at:other_at + 240] = other
        if person_at is not None:
            x, y = person_at
            f[y:y + 180, x:x + 180] = person
        frames.append(f)
        kinds.append(kind)

    for _ in range(8):
        add("black")
    for i in range(20):
        add("person", person_at=(100 + 4 * i, 20 + i))
    for _ in range(8):
        add("other", other_at=120)
    for i in range(10):
        add("both", person_at=(10 + 2 * i, 30), other_at=230)
    for i in range(6):
        add("person", person_at=(150 - 3 * i, 40))
    return frames, np.array(kinds)


@pytest.fixture(scope="module")
def video():
    return synthetic_video()


def test_the_first_face_is_followed_through_black_cuts_and_another_face(video):
    frames, kinds = video
    result = track_frames(frames, fps=25.0)
    assert not result.found[kinds == "black"].any()
    assert not result.found[kinds == "other"].any()  # only someone else: no face of the person
    assert result.found[kinds == "person"].mean() >= 0.9
    both = kinds == "both"
    assert result.found[both].mean() >= 0.8
    # with two faces in view, the landmarks are the astronaut's (left), not the other face's (right)
    xs = np.nanmean(result.landmarks[both][..., 0], axis=1)
    assert np.all(xs[result.found[both]] < 230), xs
    err = result.reprojection_error()
    assert np.nanmedian(err[result.found]) < 0.05


def test_landmark_shape_tells_the_two_faces_apart(video):
    from vasa3d.face.portrait import detect_landmarks

    frames, kinds = video
    a = detect_landmarks(frames[list(kinds).index("person")])
    b = detect_landmarks(frames[list(kinds).index("person") + 10])
    other = np.zeros((240, 320, 3), np.uint8)
    other[30:210, 40:280] = _faces()[1]
    c = detect_landmarks(other)
    assert shape_distance(a, b) < SAME_PERSON / 2 < SAME_PERSON < shape_distance(a, c)


def test_dataset_from_a_video_that_opens_on_black(video, tmp_path, capsys):
    import av

    from vasa3d.animate import FrameDataset
    from vasa3d.cli import main

    frames, kinds = video
    with av.open(str(tmp_path / "v.mp4"), "w") as out:
        stream = out.add_stream("libx264" if "libx264" in av.codecs_available else "mpeg4", rate=25)
        stream.width, stream.height, stream.pix_fmt = W, H, "yuv420p"
        stream.options = {"crf": "12"} if stream.codec.name == "libx264" else {}
        for f in frames:
            for packet in stream.encode(av.VideoFrame.from_ndarray(f, format="rgb24")):
                out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)
    code = main(["dataset", "from-video", str(tmp_path / "v.mp4"), "-o", str(tmp_path / "ds"), "--size", "128",
                 "--quiet"])
    err = capsys.readouterr().err
    assert code == 0, err
    ds = FrameDataset(tmp_path / "ds")
    person = int(np.isin(kinds, ["person", "both"]).sum())
    assert person - 4 <= len(ds) <= person, (len(ds), person)
    assert ds.manifest["source"]["frames"] == len(frames)
    # the portrait is the astronaut's first frame: a face, not a black frame
    assert ds.portrait is not None and ds.portrait.mean() > 40
