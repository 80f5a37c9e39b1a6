import os

import torch
from hypothesis import HealthCheck, settings

os.environ.setdefault("DVC_NO_ANALYTICS", "1")
torch.set_num_threads(2)

# Hypothesis runs fewer, deterministic examples in CI; torch ops are slow to start.
settings.register_profile(
    "huenet", max_examples=40, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow]
)
settings.load_profile("huenet")
