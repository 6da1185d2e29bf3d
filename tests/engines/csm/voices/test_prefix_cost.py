"""What a voice keeps on the device: the formula docs/csm-engine.md and csm.max_voices rest on."""

from __future__ import annotations

import wave
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from transformers import CsmConfig

from tests.support.serving import ServerFactory, merge
from wyoming_verba.config import ConfigError, parse_config
from wyoming_verba.config.schema import MAX_VOICES, VOICE_PREFIX_MIB_CSM_1B
from wyoming_verba.engines.csm.voices.rules import ROOM_TO_SPEAK


def bytes_per_position(config: Any, dtype_bytes: int) -> int:
    backbone = getattr(config, "backbone_config", None) or config  # tiny and csm-1b alike
    head_dim = getattr(backbone, "head_dim", None) or (
        backbone.hidden_size // backbone.num_attention_heads
    )
    return backbone.num_hidden_layers * 2 * backbone.num_key_value_heads * head_dim * dtype_bytes


async def test_a_prefix_costs_what_the_formula_says(
    start_server: ServerFactory, csm_config: dict[str, Any], tmp_path: Path, tiny_csm_dir: Path
) -> None:
    clip = tmp_path / "v.wav"
    with wave.open(str(clip), "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(24000)
        wav.writeframes((np.sin(np.arange(48000) / 9) * 9000).astype("<i2").tobytes())
    voice = {"name": "v", "reference_audio": str(clip), "reference_text": "I read stories."}
    server = await start_server(merge(csm_config, {"csm": {"voices": [voice]}}))
    engine: Any = server.service.engines["csm"]
    await engine.ready()
    prefix = engine._voices._prefixes["v"]
    config = CsmConfig.from_pretrained(tiny_csm_dir)
    per_position = bytes_per_position(config, prefix.keys[0].element_size())
    assert prefix.length > 25  # 2 s of frames (12.5 a second) and the transcript
    assert prefix.nbytes == prefix.length * per_position


def test_csm_1b_voice_cost_and_the_max_voices_bound() -> None:
    longest = (2048 - ROOM_TO_SPEAK) * bytes_per_position(CsmConfig(), 2)  # bfloat16
    assert longest == VOICE_PREFIX_MIB_CSM_1B * 2**20 == 32 * 2**20
    assert MAX_VOICES * longest <= 4 * 2**30
    parse_config({"csm": {"max_voices": MAX_VOICES}}, environ={})
    with pytest.raises(ConfigError, match="csm.max_voices: value must be at most 128"):
        parse_config({"csm": {"max_voices": 1000}}, environ={})
