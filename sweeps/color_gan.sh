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
    while dvc queue status | grep -qE "Queued|Running"; do sleep 30; done
fi

dvc exp show --no-pager --json > build/color_gan_experiments.json
python - <<'PY'
import csv
import json

rows = []
for rev in json.load(open("build/color_gan_experiments.json")):
    for exp in rev.get("experiments") or []:
        if not (exp.get("name") or "").startswith("cgan-"):
            continue
        for run in exp["revs"]:
            metrics = run["data"]["metrics"].get("reports/color_gan.json", {}).get("data")
            config = run["data"]["params"]["params.yaml"]["data"]["color_gan"]["config"]
            if metrics:
                rows.append({"experiment": exp["name"], "split": "validation", "steps": config["steps"],
                             "lr": config["lr"], "color_weight": config["color_weight"],
                             "n_critic": config["n_critic"], "seconds_per_step": metrics["seconds_per_step"],
                             "color_distance_source": metrics["color_distance_source"],
                             "color_distance_output": metrics["color_distance_output"],
                             "fraction_of_the_way": round(1 - metrics["color_distance_output"]
                                                          / metrics["color_distance_source"], 3),
                             "grey_ssim": metrics["grey_ssim"]})
with open("reports/color_gan_trials.csv", "w", newline="") as f:
    writer = csv.DictWriter(f, fieldnames=list(rows[0]))
    writer.writeheader()
    writer.writerows(sorted(rows, key=lambda r: r["experiment"]))
print(f"{len(rows)} trials -> reports/color_gan_trials.csv")
PY
