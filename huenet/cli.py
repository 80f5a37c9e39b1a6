"""The ``huenet`` command: one entry point, a sub-command per task, for the photo tool and for the pipeline.

``huenet TASK ARGS`` imports only the module that does ``TASK`` (:data:`TASKS`), by name, so that painting a photo
starts no training code, and a pipeline stage that runs ``huenet TASK`` depends on that module's import closure and
this file's (:mod:`huenet.pipeline.stage_deps`). ``huenet TASK --help`` prints the task's own options;
``python -m huenet TASK`` is the same command (``torchrun -m huenet train ...`` trains on several processes).

>>> sorted(TASKS)[:3]
['apply-lut', 'calibration', 'check']
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Sequence
from typing import NamedTuple

from huenet import __version__

__all__ = ["TASKS", "Task", "main"]


class Task(NamedTuple):
    """A sub-command: the function ``module:function`` takes the arguments after the task's name."""

    entry: str
    help: str
    audience: str  # "photos" or "pipeline": the group ``huenet --help`` lists it under

    def load(self):
        module, function = self.entry.split(":")
        return getattr(importlib.import_module(module), function)

    @property
    def module(self) -> str:
        return self.entry.split(":")[0]


TASKS: dict[str, Task] = {
    "transfer": Task("huenet.paint.command:transfer_main",
                     "paint SOURCE (an image or a folder of images) with TARGET's colours", "photos"),
    "apply-lut": Task("huenet.paint.command:apply_lut_main", "apply a 3D LUT (.cube) to an image", "photos"),
    "train": Task("huenet.training.train:main", "train one run of params.yaml's train group", "pipeline"),
    "launch": Task("huenet.pipeline.launch:main",
                   "train every run of train.variants, several at a time (stage train)", "pipeline"),
    "readme": Task("huenet.pipeline.report:main", "rewrite README.md's results from reports/table1.json", "pipeline"),
    "calibration": Task("huenet.pipeline.calibration:main",
                        "add the finished sweep experiments to reports/calibration.csv", "pipeline"),
    "deps": Task("huenet.pipeline.stage_deps:main",
                 "rewrite dvc.yaml's code deps and docs/pipeline.md's reruns table", "pipeline"),
    "times": Task("huenet.pipeline.stage_times:main", "write reports/stage_times.md from the executed notebooks",
                  "pipeline"),
    "model-card": Task("huenet.pipeline.model_card:main", "write docs/model_card.md from reports/", "pipeline"),
    "ship": Task("huenet.paint.shipped:main", "write the float16 weights the package ships from a trained model",
                 "pipeline"),
    "check": Task("huenet.pipeline.check:main",
                  "check params.yaml's settings and the bytes of every file DVC tracks", "pipeline"),
}

_GROUPS = {"photos": "paint photos", "pipeline": "the pipeline (run from the repository root)"}


def usage() -> str:
    """``huenet --help``: the tasks by group."""
    lines = [f"usage: huenet TASK [ARGS]   (huenet {__version__})", "",
             "Hue-Net colour transfer: paint a photo with another photo's colours, and the pipeline that trains and "
             "scores it.", ""]
    for audience, title in _GROUPS.items():
        lines.append(f"{title}:")
        lines += [f"  {name:<12} {task.help}" for name, task in TASKS.items() if task.audience == audience]
        lines.append("")
    lines.append("'huenet TASK --help' prints a task's options. Exit status: 0 done, 1 a task's check failed, "
                 "2 bad arguments or input, 130 interrupted.")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    """``huenet TASK ARGS``: run ``TASKS[TASK]`` with ``ARGS``."""
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] in ("-h", "--help"):
        print(usage(), file=sys.stdout if args else sys.stderr)
        return 0 if args else 2
    if args[0] == "--version":
        print(f"huenet {__version__}")
        return 0
    task = TASKS.get(args[0])
    if task is None:
        print(f"huenet: error: unknown task {args[0]!r} (choose from {', '.join(TASKS)})", file=sys.stderr)
        return 2
    return task.load()(args[1:])
