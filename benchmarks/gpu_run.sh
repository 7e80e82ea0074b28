#!/usr/bin/env bash
# The GPU measurements (issue #16) as prepared device calls, one per part: each fits the device's
# 10-minute command limit, both together the 15 minutes of device time a session gets.
#
# Prepare here, once: `bash benchmarks/gpu_wheels.sh` (the wheels, into .whl/) and, for the official
# code beside ours, the .official/ layout gpu_wheels.sh describes. Then, with the device tool:
#   part 1, UltraPixel (ours eager, the official code, then compiled and tiled variants while the
#   budget lasts; full-size random weights, bf16, 2160x3840 and 4096x4096):
#       run  command="bash benchmarks/gpu_run.sh ultrapixel"  carry=[".whl", ".official"]  timeout_s=580
#   part 2, scoring (64 PNGs of 4096x4096, one pass against clean-fid, torchmetrics and open_clip
#   run separately, every network on the GPU):
#       run  command="bash benchmarks/gpu_run.sh scoring"  carry=[".whl"]  timeout_s=560
# Everything lands in $OUT (the reports, the GPU's name, the log); commit it under reports/gpu/.
# BUDGET_S (part 1, default 400) is when no new run starts; N (part 2, default 64) the image count.
set -euo pipefail
cd "$(dirname "$0")/.."
part=${1:?usage: gpu_run.sh ultrapixel|scoring}
out=${OUT:-reports/gpu}
mkdir -p "$out"
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl
export PYTHONPATH=/tmp/site:$PWD${PYTHONPATH:+:$PYTHONPATH} PYTHONUNBUFFERED=1 HF_HUB_OFFLINE=1
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv > "$out/gpu_$part.txt" || true
case "$part" in
  ultrapixel)
    official=()
    if [ -d .official/UltraPixel ]; then
      official=(--official .official/UltraPixel)
      export PYTHONPATH=$PYTHONPATH:$PWD/.official/pytorch-tools
    else
      echo "no .official/UltraPixel: the official code is not timed (see gpu_wheels.sh)" >&2
    fi
    python3 benchmarks/gpu_ultrapixel.py --runs 1 --budget-s "${BUDGET_S:-400}" "${official[@]}" --out "$out" \
      2>&1 | tee "$out/ultrapixel.log" ;;
  scoring)
    python3 benchmarks/perf_scoring.py --device cuda --n "${N:-64}" --size 4096 --workers 8 \
      --data /tmp/ubperf --out "$out" 2>&1 | tee "$out/scoring.log" ;;
  *)
    echo "unknown part '$part': ultrapixel or scoring" >&2
    exit 2 ;;
esac
