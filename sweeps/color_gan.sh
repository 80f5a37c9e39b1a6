#!/usr/bin/env bash
# Trials of Soiffer & Zhang's colour GAN (stage color_gan) towards "half way to the target colour" on the
# validation pairs (color_distance_output / color_distance_source <= 0.5) within 12 minutes on 2 cores: one DVC
# experiment per trial, run one at a time (the stage uses both cores), collected into reports/color_gan_trials.csv.
#
#   bash sweeps/color_gan.sh            # queue, run, collect
#   bash sweeps/color_gan.sh --collect  # only collect the finished experiments
set -euo pipefail
cd "$(dirname "$0")/.."

if [[ "${1:-}" != "--collect" ]]; then
    # from lr 1e-3, 250 generator steps (44% of the way): twice the colour loss, or 1.8x the steps
    dvc exp run --queue color_gan -n cgan-cw300 -S color_gan.config.steps=250 -S color_gan.config.color_weight=300
    dvc exp run --queue color_gan -n cgan-steps450 -S color_gan.config.steps=450 -S color_gan.config.color_weight=100
    dvc queue start -j 1
    while [[ $(dvc queue status) =~ Queued|Running ]]; do sleep 30; done
fi

huenet calibration --color-gan reports/color_gan_trials.csv
