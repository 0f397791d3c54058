import numpy as np
import torch

from vasa3d.arkit import ARKIT_INDEX, ARKIT_NAMES
from vasa3d.head import HeadParams
from vasa3d.head.solve import solve_arkit

#: shapes that pull opposite ways on the same landmarks are not drawn together
ANTAGONISTS = [("eyeLookInLeft", "eyeLookOutLeft"), ("eyeLookUpLeft", "eyeLookDownLeft"),
               ("eyeLookInRight", "eyeLookOutRight"), ("eyeLookUpRight", "eyeLookDownRight"),
               ("jawLeft", "jawRight"), ("mouthLeft", "mouthRight"), ("eyeBlinkLeft", "eyeWideLeft"),
               ("eyeBlinkRight", "eyeWideRight")]


def random_sparse(rng, k=4):
    names = [n for n in ARKIT_NAMES if n != "tongueOut"]
    w = np.zeros(52, np.float32)
    chosen = []
    while len(chosen) < k:
        n = names[rng.integers(len(names))]
        if n in chosen or any(n in pair and other in chosen for pair in ANTAGONISTS for other in pair):
            continue
        chosen.append(n)
        w[ARKIT_INDEX[n]] = rng.uniform(0.2, 1.0)
    return w


def test_arkit_roundtrip_recovers_weights(head):
    """ARKit weights -> head -> landmarks -> solve: mean absolute error <= 0.05."""
    rng = np.random.default_rng(0)
    W = np.stack([random_sparse(rng) for _ in range(8)])
    p = HeadParams.neutral(len(W), head)
    p.expression = torch.as_tensor(W)
    with torch.no_grad():
        lm = head.landmarks(p).numpy()
    est = solve_arkit(lm, head)
    mae = np.abs(est - W).mean()
    print(f"ARKit round trip MAE {mae:.4f}")
    assert mae <= 0.05
    # the active weights themselves are found, not just the zeros
    active = W > 0
    assert np.abs(est - W)[active].mean() < 0.15


def test_solve_neutral_is_zero(head):
    lm = head.landmarks(HeadParams.neutral(1, head))[0].detach().numpy()
    assert np.abs(solve_arkit(lm, head)).max() < 0.02


def test_arkit_roundtrip_with_landmark_noise(head):
    """Half a millimetre of landmark noise (about what a good tracker leaves) still keeps MAE <= 0.05."""
    rng = np.random.default_rng(1)
    W = np.stack([random_sparse(rng) for _ in range(8)])
    p = HeadParams.neutral(len(W), head)
    p.expression = torch.as_tensor(W)
    with torch.no_grad():
        lm = head.landmarks(p).numpy()
    est = solve_arkit(lm + rng.normal(0, 0.0005, lm.shape), head)
    mae = np.abs(est - W).mean()
    print(f"ARKit round trip with 0.5 mm noise: MAE {mae:.4f}")
    assert mae <= 0.05
