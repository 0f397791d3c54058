"""The wheel carries everything the package needs: built, installed into a fresh venv, run from there.

The fresh venv gets the wheel alone; the dependencies come from the test's own
environment through a path entry (its site-packages are not processed, so the
editable vasa3d of a development install stays out of sight).
"""

from __future__ import annotations

import os
import shutil
import site
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _tracked_package_data() -> list[str]:
    """Every file under src/vasa3d that git tracks and that is not Python source: package data."""
    if shutil.which("git") is None or not (ROOT / ".git").exists():
        pytest.skip("needs a git checkout to list the package's files")
    out = subprocess.run(["git", "ls-files", "src/vasa3d"], cwd=ROOT, capture_output=True, text=True, check=True)
    return [f.removeprefix("src/") for f in out.stdout.split() if not f.endswith(".py")]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    build = tmp_path_factory.mktemp("build")
    # a copy of the sources, so that building writes nothing (build/, egg-info) into the checkout
    shutil.copytree(ROOT / "src", build / "src", ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        shutil.copy2(ROOT / name, build / name)
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation", "--no-index",
                    "-w", str(out), str(build)], check=True, capture_output=True, text=True, timeout=300)
    (found,) = out.glob("vasa3d-*.whl")
    return found


@pytest.fixture(scope="module")
def venv(wheel, tmp_path_factory) -> Path:
    env = tmp_path_factory.mktemp("venv")
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(env)], check=True, timeout=120)
    subprocess.run([sys.executable, "-m", "pip", "--python", str(env / "bin" / "python"), "install", "-q",
                    "--no-deps", "--no-index", str(wheel)], check=True, capture_output=True, text=True, timeout=300)
    purelib = subprocess.run([str(env / "bin" / "python"), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                             check=True, capture_output=True, text=True).stdout.strip()
    deps = [sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"], *site.getsitepackages()]
    Path(purelib, "_test_dependencies.pth").write_text("\n".join(dict.fromkeys(deps)) + "\n")
    return env


def _run(venv: Path, *args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}
    env["NUMBA_CACHE_DIR"] = str(cwd / "numba-cache")
    return subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=300)


def test_wheel_holds_every_data_file(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    data = _tracked_package_data()
    assert "vasa3d/py.typed" in data and "vasa3d/serve/static/index.html" in data
    assert [f for f in data if f not in names] == []


def test_installed_wheel_runs_help_and_head_preview(venv, tmp_path):
    python = str(venv / "bin" / "python")
    where = _run(venv, python, "-c", "import vasa3d, pathlib; print(pathlib.Path(vasa3d.__file__).resolve())",
                 cwd=tmp_path)
    assert where.returncode == 0, where.stderr
    assert Path(where.stdout.strip()).is_relative_to(venv.resolve()), "vasa3d came from outside the fresh venv"

    helped = _run(venv, str(venv / "bin" / "vasa3d"), "--help", cwd=tmp_path)
    assert helped.returncode == 0, helped.stderr
    assert "create" in helped.stdout and "serve" in helped.stdout

    sheet = tmp_path / "sheet.png"
    shown = _run(venv, str(venv / "bin" / "vasa3d"), "head", "preview", "-o", str(sheet), "--tile", "64", "-q",
                 cwd=tmp_path)
    assert shown.returncode == 0, shown.stderr
    from PIL import Image

    with Image.open(sheet) as im:
        assert im.width >= 64 * 8 and im.height >= 64

    page = _run(venv, python, "-c", "from vasa3d.serve.app import STATIC; "
                "print(' '.join(sorted(p.name for p in STATIC.iterdir())))", cwd=tmp_path)
    assert page.returncode == 0, page.stderr
    assert {"index.html", "app.js", "style.css"} <= set(page.stdout.split())
