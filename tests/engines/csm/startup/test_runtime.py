"""What the first compile tells the user about how long it takes."""

from __future__ import annotations

import torch

from wyoming_verba.engines.csm.startup.runtime import compile_estimate


def test_the_cold_compile_estimate_follows_device_and_model_size() -> None:
    cpu = torch.device("cpu")
    assert "about 1-5 minutes for a small model" in compile_estimate(cpu, 64)
    assert "about 3-4 minutes for csm-1b's widths" in compile_estimate(cpu, 2048)
    assert compile_estimate(torch.device("cuda"), 2048).startswith("no GPU figure measured yet")
