"""The machine a benchmark or a pipeline run ran on, as reports name it."""

from __future__ import annotations

import datetime
import os
import platform
from pathlib import Path


def cpu_name() -> str:
    """The CPU's model name from /proc/cpuinfo (Linux), else what ``platform`` knows."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def benchmark_footer(load_before: float, load_after: float) -> list[str]:
    """A benchmark report's last lines: machine, torch version, date and the 1-minute load around the timings."""
    import torch  # loaded already in a benchmark; `huenet times`, which imports this module, needs no torch

    return [
        f"- machine: {cpu_name()}, {os.cpu_count()} logical CPUs, {platform.system()} {platform.release()}",
        f"- torch {torch.__version__}",
        f"- date: {datetime.datetime.now().astimezone().isoformat(timespec='seconds')}",
        f"- 1-minute load average: {load_before:.1f} before, {load_after:.1f} after, on {os.cpu_count()} CPUs "
        "(a load above the CPU count inflates the times)",
        "",
    ]
