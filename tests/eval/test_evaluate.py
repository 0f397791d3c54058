import json
import math

import numpy as np
import torch

import scenes
from vasa3d.eval import EvalConfig, coverage, evaluate, psnr, ssim_value


def test_metrics_on_known_images():
    a = torch.full((8, 8, 3), 0.5)
    b = a + 0.1
    assert math.isclose(psnr(b, a), 20.0, abs_tol=1e-4)
    assert psnr(a, a) == math.inf
    assert abs(ssim_value(a, a) - 1.0) < 1e-6
    alpha = torch.ones(4, 4)
    alpha[1, 1] = 0.5
    sil = torch.zeros(4, 4, dtype=torch.bool)
    sil[:2, :2] = True
    assert coverage(alpha, sil) == 0.75


def test_ssim_matches_scikit_image_away_from_borders():
    from skimage import data
    from skimage.metrics import structural_similarity

    from vasa3d.train.losses.ssim import ssim_map

    img = torch.from_numpy(data.astronaut()[100:164, 180:244].astype(np.float32) / 255)
    noisy = (img + 0.1 * torch.randn(img.shape, generator=torch.Generator().manual_seed(0))).clamp(0, 1)
    _, ref = structural_similarity(noisy.numpy(), img.numpy(), channel_axis=2, data_range=1.0, full=True,
                                   gaussian_weights=True, sigma=1.5, use_sample_covariance=False)
    ours = ssim_map(noisy[None], img[None])[0].numpy()
    assert np.allclose(ours[5:-5, 5:-5], ref[5:-5, 5:-5], atol=1e-4)
    assert 0.3 < ours.mean() < 0.9


def test_teacher_scores_high_student_lower_and_report_written(head, tmp_path):
    student, data, teacher = scenes.student_and_data(head, size=48)
    # the teacher's frames show its whole neck: compare in the hard head region (the faded one is tested
    # in tests/train/test_regions.py)
    cfg = EvalConfig(perceptual="efficientnet", identity=False, neck_fade=False, lipsync=False)
    good = evaluate(teacher, data, cfg, out_dir=tmp_path, quiet=True)
    bad = evaluate(student, data, cfg, quiet=True)
    assert good["psnr"] > 40 and good["ssim"] > 0.99 and good["perceptual"] < 0.01
    assert bad["psnr"] < good["psnr"] - 15 and bad["perceptual"] > good["perceptual"]
    assert good["frames"] == len(data.test_indices)
    # a closed ellipsoid covered by splats has no holes from the side
    assert good["side_coverage"] > 0.98
    saved = json.loads((tmp_path / "metrics.json").read_text())
    assert saved["psnr"] == good["psnr"]
    from PIL import Image

    sheet = np.asarray(Image.open(tmp_path / "report.png"))
    # frame | render pairs, then the neutral face from five yaws (the widest row)
    assert sheet.shape[0] == 48 * (len(data.test_indices) + 1) and sheet.shape[1] == 48 * 5
    # an ellipsoid has no face: no face region, so no PSNR_face, and no lip sync was asked
    assert good["psnr_face"] is None and good["lipsync"] is None


def test_holes_lower_side_coverage(head):
    _, data, teacher = scenes.student_and_data(head, size=48)
    with torch.no_grad():
        g = teacher(torch.zeros(1, 52), torch.zeros(1, 7), vas=False)[0]
        teacher.opacity_logits[(g.means[:, 1] - 0.02).abs() < 0.025] = -10.0  # cut a belt around the head
    m = evaluate(teacher, data, EvalConfig(perceptual="off", identity=False, lipsync=False), quiet=True)
    for yaw in ("45.0", "-45.0"):
        assert 0.5 < m["side_coverage_by_yaw"][yaw] < 0.85
