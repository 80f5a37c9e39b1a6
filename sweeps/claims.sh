#!/usr/bin/env bash
# The claims study behind reports/calibration.csv's rows with study=claims (huenet.pipeline.claims): one DVC
# experiment per run, each one training of the full model (train.variants cut to `full`) scored by score@full on the
# validation pairs, with every studied field set explicitly. Queued first, then run two at a time with one torch
# thread each.
#
#   bash sweeps/claims.sh            # queue, run, collect into reports/calibration.csv
#   bash sweeps/claims.sh --collect  # only collect the finished experiments
#   bash sweeps/claims.sh --queue    # only queue (start the queue yourself: `dvc queue start --jobs 2`)
#
# Runs are queued seed by seed, so that a study cut short has whole seeds; a run whose experiment already exists
# (by name) is not queued again, so the script resumes an interrupted study.
#
# After it and the pipeline's run (`dvc repro`, then `huenet calibration --pipeline`): `dvc repro calibration` writes
# reports/claims.json (the flips' rule and claim 2's verdicts), and the README's results read it (huenet readme).
set -euo pipefail
cd "$(dirname "$0")/.."

# train.variants cut to `full`: DVC merges an assigned dict into the old one, so the other runs are deleted
ONLY_FULL=(-S '~train.variants.full_seed1' -S '~train.variants.full_seed2' -S '~train.variants.no_mi')

DONE=$(dvc exp list --all-commits --name-only 2>/dev/null || true)

point() {  # point NAME FORM REDUCTION LAMBDA_EMD LAMBDA_MI MI_BINS FLIPS SEED
    if grep -qx -- "$1" <<<"$DONE"; then echo "$1: done already"; return; fi
    dvc exp run --queue score@full -n "$1" "${ONLY_FULL[@]}" -S train.threads=1 \
        -S train.config.steps=2000 -S "train.config.emd_form=$2" -S "train.config.emd_reduction=$3" \
        -S "train.config.lambda_emd=$4" -S "train.config.lambda_mi=$5" -S "train.config.mi_bins=$6" \
        -S "train.config.flips=$7" -S "train.config.seed=$8"
}

if [[ "${1:-}" != "--collect" ]]; then
    for seed in 0 1 2; do
        # The flips first, as they decide what the pipeline trains: the paper's vertical against pix2pix's
        # horizontal and both, two seeds each, the calibrated loss. Vertical's runs are the pipeline's own (full,
        # full_seed1, full_seed2), added to the csv by `huenet calibration --pipeline` after `dvc repro`.
        if [[ $seed != 2 ]]; then
            for flips in horizontal both; do
                point "claims-calibrated-mi-$flips-s$seed" root mean 100 80 32 "$flips" "$seed"
            done
        fi
        # Claim 2 under three losses, each with and without the MI loss (MI weight 0, the paper's "w/o"): the
        # paper's Eq. 13 summed over the K = 256 bins, and averaged over them, with EMD x 100 and MI x 25 on K x K
        # bins; the calibrated loss's no-MI seeds 1 and 2 (its seed 0 is the pipeline's no_mi run).
        for reduction in sum mean; do
            point "claims-$reduction-mi-vertical-s$seed" squared "$reduction" 100 25 null vertical "$seed"
            point "claims-$reduction-nomi-vertical-s$seed" squared "$reduction" 100 0 null vertical "$seed"
        done
        [[ $seed != 0 ]] && point "claims-calibrated-nomi-vertical-s$seed" root mean 100 0 32 vertical "$seed"
    done
    [[ "${1:-}" == "--queue" ]] && exit 0
    dvc queue start --jobs 2
    while [[ $(dvc queue status) =~ Queued|Running ]]; do sleep 60; done
fi
huenet calibration reports/calibration.csv
