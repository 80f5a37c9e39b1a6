#!/usr/bin/env bash
# The claims study behind reports/calibration.csv's rows with study=claims (huenet.pipeline.claims): one DVC
# experiment per run, each one training of the full model (train.variants cut to `full`) scored by score@full on the
# validation pairs, with every studied field set explicitly. Queued first, then run two at a time with one torch
# thread each, the flips first (the pipeline's flips are read from them), then claim 2's three losses.
#
#   bash sweeps/claims.sh            # queue, run, collect into reports/calibration.csv
#   bash sweeps/claims.sh --collect  # only collect the finished experiments
#
# After it and the pipeline's run (`dvc repro`, then `huenet calibration --pipeline`): `dvc repro calibration` writes
# reports/claims.json (the flips' rule and claim 2's verdicts), and the README's results read it (huenet readme).
set -euo pipefail
cd "$(dirname "$0")/.."

# train.variants cut to `full`: DVC merges an assigned dict into the old one, so the other runs are deleted
ONLY_FULL=(-S '~train.variants.full_seed1' -S '~train.variants.full_seed2' -S '~train.variants.no_mi')

point() {  # point NAME FORM REDUCTION LAMBDA_EMD LAMBDA_MI MI_BINS FLIPS SEED
    dvc exp run --queue score@full -n "$1" "${ONLY_FULL[@]}" -S train.threads=1 \
        -S train.config.steps=2000 -S "train.config.emd_form=$2" -S "train.config.emd_reduction=$3" \
        -S "train.config.lambda_emd=$4" -S "train.config.lambda_mi=$5" -S "train.config.mi_bins=$6" \
        -S "train.config.flips=$7" -S "train.config.seed=$8"
}

if [[ "${1:-}" != "--collect" ]]; then
    # The flips: the paper's vertical against pix2pix's horizontal and both, two seeds each, the calibrated loss.
    # Vertical's runs are the pipeline's own (full, full_seed1, full_seed2: the same trainings), added to the csv by
    # `huenet calibration --pipeline` after `dvc repro`, as is the calibrated loss's no-MI seed 0 (no_mi).
    for seed in 0 1; do
        for flips in horizontal both; do
            point "claims-calibrated-mi-$flips-s$seed" root mean 100 80 32 "$flips" "$seed"
        done
    done
    # Claim 2 under three losses, each with and without the MI loss (MI weight 0, the paper's "w/o"), three seeds:
    # the calibrated loss's other no-MI seeds; the paper's Eq. 13 summed over the K = 256 bins, and averaged over
    # them, with EMD x 100 and MI x 25 on K x K bins.
    for seed in 0 1 2; do
        [[ $seed != 0 ]] && point "claims-calibrated-nomi-vertical-s$seed" root mean 100 0 32 vertical "$seed"
        for reduction in sum mean; do
            point "claims-$reduction-mi-vertical-s$seed" squared "$reduction" 100 25 null vertical "$seed"
            point "claims-$reduction-nomi-vertical-s$seed" squared "$reduction" 100 0 null vertical "$seed"
        done
    done
    dvc queue start --jobs 2
    while [[ $(dvc queue status) =~ Queued|Running ]]; do sleep 60; done
fi
huenet calibration reports/calibration.csv
