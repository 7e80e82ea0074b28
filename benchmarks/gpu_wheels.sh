#!/usr/bin/env bash
# Wheels the lent GPU machine lacks for benchmarks/gpu_ultrapixel.py and perf_scoring.py (it has
# torch, transformers, torchmetrics, safetensors, huggingface_hub, numpy, scipy, pillow, regex; not
# diffusers, open_clip, ftfy, clean-fid or pyspng). benchmarks/gpu_run.sh installs and runs them.
# Run here, in the repository root; the folder .whl is git-ignored and carried to the device:
#   bash benchmarks/gpu_wheels.sh
# then, on the device (carry: [".whl"]):
#   python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl \
#     && export PYTHONPATH=/tmp/site:$PWD && python3 benchmarks/gpu_ultrapixel.py --runs 1 --budget-s 420 --out $OUT
# with timeout_s about 560: the report is rewritten after every run, so a cut-short run keeps its rows.
# The official code beside ours (`--official .official/UltraPixel`): put the .py/.yaml files of a
# catcathh/UltraPixel checkout (plus an empty models/ folder) under .official/UltraPixel and those of
# pabloppp/pytorch-tools under .official/pytorch-tools (git-ignored, never committed), carry
# [".whl", ".official"], and add .official/pytorch-tools to PYTHONPATH; munch and einops come
# with the wheels below, the training-only imports (warmup_scheduler among them) are stubbed.
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p .whl
python3 -m pip download --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
  --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
  --platform any -d .whl \
  "diffusers==$(python3 -c 'import diffusers; print(diffusers.__version__)' 2>/dev/null || echo 0.42.1)" \
  open_clip_torch==3.3.0 ftfy wcwidth importlib_metadata munch einops \
  clean-fid==0.1.35 pyspng==0.1.4
ls -la .whl
