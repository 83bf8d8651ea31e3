#!/usr/bin/env bash
# For whoever holds a GPU: within 10 minutes, everything under OUT_DIR,
#   1. the benchmark (python -m srl_nb.bench, 6-minute budget): OUT_DIR/bench/bench.md, bench.json, bench.jsonl
#   2. a short training run of the movi_c preset on synthetic MOVi-shaped videos through all three stages, stopped
#      and resumed from its checkpoint, with checks (finite losses, falling loss, resume): OUT_DIR/train/train_check.json
# and OUT_DIR/summary.txt. Exit status 0 when the benchmark ran and every training check passed.
#
#   bash tests/gpu_check.sh OUT_DIR
#
# Without a CUDA GPU it stops at once with a message (status 2). SRL_GPU_CHECK_TINY=1 runs the same steps on the CPU
# at tiny sizes, to check this script itself where there is no GPU (tests/test_bench.py does).
set -uo pipefail
OUT=${1:?usage: bash tests/gpu_check.sh OUT_DIR}
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
PY=${PYTHON:-$ROOT/.venv/bin/python}
[ -x "$PY" ] || PY=$(command -v python3)
export HF_HUB_OFFLINE=1 TF_CPP_MIN_LOG_LEVEL=2 PYTHONPATH="$ROOT${PYTHONPATH:+:$PYTHONPATH}"

if [ "${SRL_GPU_CHECK_TINY:-0}" = 1 ]; then
  DEV=cpu; SIZE=--tiny; BUDGET=300; TRAIN_LIMIT=600
else
  if ! "$PY" -c 'import sys, torch; sys.exit(0 if torch.cuda.is_available() else 1)' 2>/dev/null; then
    echo "gpu_check.sh: no CUDA GPU here (torch.cuda.is_available() is False for $PY). This script measures a GPU;" \
         "run it where one is visible, or set SRL_GPU_CHECK_TINY=1 to check the script on a CPU." >&2
    exit 2
  fi
  DEV=cuda; SIZE=; BUDGET=360; TRAIN_LIMIT=200
fi
mkdir -p "$OUT"
START=$(date +%s)
{ nvidia-smi 2>&1 || echo "nvidia-smi: not available"; "$PY" -c 'import torch; print("torch", torch.__version__, "cuda", torch.version.cuda)'; } > "$OUT/environment.txt"

echo "== 1. benchmark ($DEV${SIZE:+, tiny}, budget ${BUDGET} s)"
"$PY" -m srl_nb.bench --out "$OUT/bench" --device $DEV $SIZE --budget-s $BUDGET 2>&1 | tee "$OUT/bench.log"
BENCH=${PIPESTATUS[0]}

echo "== 2. training check (movi_c on synthetic MOVi-shaped videos, all three stages, stop and resume; limit ${TRAIN_LIMIT} s)"
timeout --signal=INT --kill-after=20 $TRAIN_LIMIT "$PY" -m srl_nb.bench --train-check --out "$OUT/train" --device $DEV $SIZE 2>&1 | tee "$OUT/train.log"
TRAIN=${PIPESTATUS[0]}

{ echo "gpu_check.sh on $(head -c 200 "$OUT/environment.txt" | grep -m1 -E 'NVIDIA|GPU|not available' || echo "$DEV")"
  echo "benchmark exit status $BENCH, training check exit status $TRAIN ($([ $TRAIN = 124 ] && echo 'time limit hit' || echo finished)), $(( $(date +%s) - START )) s in all"
  [ -f "$OUT/bench/bench.md" ] && cat "$OUT/bench/bench.md"
  [ -f "$OUT/train/train_check.json" ] && "$PY" -c "import json,sys; r=json.load(open(sys.argv[1])); print('training check:', 'PASSED' if r['ok'] else 'FAILED'); [print(('  ok   ' if v else '  FAIL ') + k) for k, v in r['checks'].items()]" "$OUT/train/train_check.json"
} > "$OUT/summary.txt"
cat "$OUT/summary.txt"
[ "$BENCH" = 0 ] && [ "$TRAIN" = 0 ]
