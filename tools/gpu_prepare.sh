#!/usr/bin/env bash
# Before the lent GPU's call (docs/gpu.md): build the pack from data/ and fetch the wheels the GPU machine lacks,
# then say how much travels. Arguments go to the pack builder, e.g. --data ../main/data --splits ../main/artifacts/splits.json
set -euo pipefail
cd "$(dirname "$0")/.."
python -m huenet.pipeline.gpu.pack "$@"
# grimp: a training run records its code's digest from grimp's import graph; the GPU image lacks it
python -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
    --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
    -d gpu_pack/wheels "$(grep -i '^grimp==' requirements/lock.txt)"
tracked=$(git ls-files -z | xargs -0 cat | wc -c)
pack=$(find gpu_pack -type f -print0 | xargs -0 cat | wc -c)
echo "travels: $((tracked / 1048576)) MiB tracked + $((pack / 1048576)) MiB of gpu_pack = $(((tracked + pack) / 1048576)) MiB (at most 64)"
