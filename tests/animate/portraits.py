"""Three portraits of different people from installed packages, for the artefact tests.

* the astronaut (scikit-image's ``astronaut``: Eileen Collins, NASA, public domain);
* Grace Hopper (matplotlib's sample data ``grace_hopper.jpg``, US Navy, public domain);
* a third face made here: the two faces above warped onto their mean landmarks and averaged (dlib
  puts it 0.52 from the astronaut and 0.40 from Grace Hopper; the two are 0.69 apart).

No other face photo ships in the packages this project installs.
"""

from __future__ import annotations

import numpy as np


def astronaut() -> np.ndarray:
    import skimage.data

    return skimage.data.astronaut()


def grace_hopper() -> np.ndarray:
    import matplotlib
    from PIL import Image

    with Image.open(f"{matplotlib.get_data_path()}/sample_data/grace_hopper.jpg") as im:
        return np.asarray(im.convert("RGB"))


def average_face(size: int = 512) -> np.ndarray:
    """The astronaut and Grace Hopper, each warped piecewise-affinely onto their mean landmarks, averaged."""
    from skimage.transform import PiecewiseAffineTransform, warp

    from vasa3d.face import analyze_portrait

    a, b = (analyze_portrait(img, size=size) for img in (astronaut(), grace_hopper()))
    edge = np.linspace(0, size, 9)
    border = np.array([[x, y] for x in edge for y in (0, size)]
                      + [[x, y] for y in edge[1:-1] for x in (0, size)], float)
    la = np.concatenate([a.landmarks[:468, :2], border])
    lb = np.concatenate([b.landmarks[:468, :2], border])
    mean = 0.5 * (la + lb)

    def onto_mean(image, landmarks):
        t = PiecewiseAffineTransform()
        t.estimate(mean, landmarks)  # output (mean) pixels -> source pixels
        return warp(image, t, output_shape=(size, size), order=1, mode="edge")

    out = 0.5 * onto_mean(a.image, la) + 0.5 * onto_mean(b.image, lb)
    return (np.clip(out, 0, 1) * 255 + 0.5).astype(np.uint8)


PORTRAITS = {"astronaut": astronaut, "grace_hopper": grace_hopper, "average_face": average_face}
