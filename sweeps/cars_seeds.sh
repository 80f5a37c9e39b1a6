#!/usr/bin/env bash
# Seeds 1 and 2 of the cars' full model, each one training (cars.variants cut to `full`) scored by score_cars@full on
# the cars' validation pairs: reports/calibration.csv's rows with study=cars, from which notebook 08 states the seed
# spread of the cars table's one-seed verdicts. Run two at a time, one torch thread each.
#
#   bash sweeps/cars_seeds.sh            # queue, run, collect into reports/calibration.csv
#   bash sweeps/cars_seeds.sh --collect  # only collect the finished experiments
#   bash sweeps/cars_seeds.sh --queue    # only queue (start the queue yourself: `dvc queue start --jobs 2`)
#
# A seed whose experiment already exists (by name) is not queued again.
set -euo pipefail
cd "$(dirname "$0")/.."

DONE=$(dvc exp list --all-commits --name-only 2>/dev/null || true)

if [[ "${1:-}" != "--collect" ]]; then
    for seed in 1 2; do
        if grep -qx -- "cars-full-s$seed" <<<"$DONE"; then echo "cars-full-s$seed: done already"; continue; fi
        # cars.variants cut to `full` (no_mi deleted: DVC merges an assigned dict), then its seed added with '+'
        dvc exp run --queue score_cars@full -n "cars-full-s$seed" -S '~cars.variants.no_mi' \
            -S "+cars.variants.full.seed=$seed" -S train.threads=1
    done
    [[ "${1:-}" == "--queue" ]] && exit 0
    dvc queue start --jobs 2
    while [[ $(dvc queue status) =~ Queued|Running ]]; do sleep 60; done
fi
huenet calibration reports/calibration.csv
