#!/usr/bin/env bash
# The one prepared GPU check (issue 11): every figure only a GPU can give, in at most 8 minutes,
# into one file. Run it unchanged on a CUDA machine from the repository root:
#
#     bash benchmarks/gpu_check.sh [OUT_DIR]        # default OUT_DIR: gpu-check (or $OUT/gpu-check)
#
# It needs the project's venv with gsplat ('pip install -e .[cuda]'; on a machine without network,
# carry the gsplat wheel and install it first). Without CUDA it says so in one line and exits 0.
set -u
cd "$(dirname "$0")/.."
PY=${PYTHON:-.venv/bin/python}
[ -x "$PY" ] || PY=python3
OUT_DIR=${1:-${OUT:+$OUT/}gpu-check}
if ! "$PY" -c "import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)" 2>/dev/null; then
    echo "gpu_check: no CUDA GPU here (torch.cuda.is_available() is False); nothing to measure"
    exit 0
fi
"$PY" -c "import gsplat" 2>/dev/null || echo "gpu_check: gsplat is not installed; the plain-torch rasterizer stands in (install vasa3d[cuda] for the real figures)"
mkdir -p "$OUT_DIR"
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv > "$OUT_DIR/nvidia-smi.csv" 2>/dev/null || true
# 8 minutes in all: each part has its own budget inside, and the whole run a hard limit
timeout 480 "$PY" benchmarks/gpu_check.py --out "$OUT_DIR" 2>&1 | tee "$OUT_DIR/gpu-check.log"
echo "gpu_check: results in $OUT_DIR/gpu-check.md and $OUT_DIR/gpu-check.json"
