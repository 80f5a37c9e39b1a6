#!/usr/bin/env bash
# The lent GPU machine's one command (docs/gpu.md), from a device call that carries gpu_pack: install the carried
# wheels, run the job (a toy pass, then the real one), keep its log beside its files in $OUT.
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site \
    gpu_pack/wheels/*.whl
export PYTHONPATH=/tmp/site:. PYTHONUNBUFFERED=1 MPLBACKEND=Agg
python3 -m huenet.pipeline.gpu.job --out "$OUT" "$@" 2>&1 | tee "$OUT/job.log"
