#!/usr/bin/env bash
# The loss-calibration sweep behind reports/calibration.csv's validation rows: one DVC experiment per point,
# each one training of the full model (train.variants cut to `full`, so stage train trains that run alone)
# scored by score@full on the validation pairs. Every swept field is set explicitly, so the points do not
# depend on params.yaml's current choice. Queue all points first, then run them two at a time with one torch
# thread each (about 13 minutes per pair of points on 2 cores; 20 with the MI loss on 256 x 256 bins).
#
#   bash sweeps/calibration.sh            # queue, run, collect into reports/calibration.csv
#   bash sweeps/calibration.sh --collect  # only collect the finished experiments
#
# After it: huenet calibration's rule (huenet.pipeline.calibration.choose) picks the config; params.yaml
# must train that pick (tests/test_calibration.py), and a finalist with one seed needs a second one.
set -euo pipefail
cd "$(dirname "$0")/.."

# train.variants cut to `full`: DVC merges an assigned dict into the old one, so the other runs are deleted
ONLY_FULL=(-S '~train.variants.full_seed1' -S '~train.variants.full_seed2' -S '~train.variants.no_mi')

point() {  # point NAME FORM REDUCTION LAMBDA_EMD LAMBDA_MI MI_BINS [SEED]
    dvc exp run --queue score@full -n "$1" "${ONLY_FULL[@]}" -S train.threads=1 \
        -S train.config.steps=2000 -S "train.config.emd_form=$2" -S "train.config.emd_reduction=$3" \
        -S "train.config.lambda_emd=$4" -S "train.config.lambda_mi=$5" -S "train.config.mi_bins=$6" \
        -S "train.config.seed=${7:-0}"
}

if [[ "${1:-}" != "--collect" ]]; then
    # The paper's literal loss (Eq. 12-13 without 1/K, squared: a sum over K = 256 bins; MI on 256 x 256 bins),
    # with its two weights both ways round, since the paper does not say which is which.
    point v-paper-squared-sum-emd100-mi25 squared sum 100 25 null
    point v-paper-squared-sum-emd25-mi100 squared sum 25 100 null
    # The authors' released code: the root of the mean, x 100, MI x 1.
    point v-authors-root-mean-emd100-mi1 root mean 100 1 null
    # Root of the mean with MI on 32 x 32 bins, around the earlier (test-scored) choice, two of them twice.
    for mi in 70 80 85 90 100; do point "v-root-mi$mi-bins32" root mean 100 "$mi" 32; done
    for mi in 85 100; do point "v-root-mi$mi-bins32-seed1" root mean 100 "$mi" 32 1; done
    dvc queue start --jobs 2
    while [[ $(dvc queue status) =~ Queued|Running ]]; do sleep 60; done
fi
huenet calibration reports/calibration.csv
