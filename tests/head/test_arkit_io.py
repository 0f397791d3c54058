import numpy as np
import pytest

from vasa3d.arkit import ARKIT_INDEX, ARKIT_NAMES
from vasa3d.errors import InputError
from vasa3d.head.arkit_io import read_arkit, write_arkit_csv, write_arkit_json
from vasa3d.motion.latent import MotionLatent


@pytest.fixture
def motion():
    rng = np.random.default_rng(1)
    z = rng.uniform(0, 1, (30, 52)).astype(np.float32) * (rng.uniform(size=(30, 52)) < 0.2)
    pose = np.zeros((30, 7), np.float32)
    pose[:, 1] = np.linspace(-0.2, 0.2, 30)
    return MotionLatent(z, pose, fps=30.0)


def test_csv_roundtrip(tmp_path, motion):
    p = tmp_path / "take.csv"
    write_arkit_csv(p, motion)
    lines = p.read_text().splitlines()
    assert lines[0].split(",")[:3] == ["Timecode", "BlendShapeCount", "EyeBlinkLeft"]
    assert len(lines[0].split(",")) == 54 and len(lines) == 31
    assert lines[1].startswith("00:00:00:00") and lines[30].startswith("00:00:00:29")
    back = read_arkit(p)
    assert back.fps == 30.0
    np.testing.assert_allclose(back.z_dyn, motion.z_dyn, atol=1e-5)


def test_json_roundtrip(tmp_path, motion):
    p = tmp_path / "take.json"
    write_arkit_json(p, motion)
    back = read_arkit(p)
    np.testing.assert_allclose(back.z_dyn, motion.z_dyn, atol=1e-5)
    np.testing.assert_allclose(back.z_pose, motion.z_pose, atol=1e-5)
    assert back.fps == 30.0


def test_reads_app_csv_with_extra_columns(tmp_path):
    names = [n[0].upper() + n[1:] for n in ARKIT_NAMES]
    header = ["Timecode", "BlendShapeCount"] + names + ["HeadYaw", "HeadPitch", "HeadRoll"]
    row = ["10:49:37:13.347", "61"] + ["0"] * 52 + ["0.3", "0", "0"]
    row[2 + ARKIT_INDEX["jawOpen"]] = "0.75"
    p = tmp_path / "livelink.csv"
    p.write_text(",".join(header) + "\n" + ",".join(row) + "\n")
    m = read_arkit(p, fps=60)
    assert m.z_dyn[0, ARKIT_INDEX["jawOpen"]] == pytest.approx(0.75)
    np.testing.assert_allclose(m.z_pose[0, :3], [0, 0.3, 0], atol=1e-5)


def test_list_of_dicts_json(tmp_path):
    p = tmp_path / "f.json"
    p.write_text('[{"jawOpen": 0.5}, {"eyeBlinkLeft": 1.0}]')
    m = read_arkit(p, fps=25)
    assert len(m) == 2 and m.z_dyn[0, ARKIT_INDEX["jawOpen"]] == 0.5 and m.z_dyn[1, 0] == 1.0


@pytest.mark.parametrize("content", ["", "a,b,c\n1,2,3\n", "{not json", '{"names": ["jawOpen"]}'])
def test_bad_files_are_one_line_errors(tmp_path, content):
    p = tmp_path / ("bad.json" if content.startswith("{") else "bad.csv")
    p.write_text(content)
    with pytest.raises(InputError) as e:
        read_arkit(p)
    assert "\n" not in str(e.value)


def test_write_to_missing_folder(tmp_path, motion):
    with pytest.raises(InputError):
        write_arkit_csv(tmp_path / "nope" / "x.csv", motion)
