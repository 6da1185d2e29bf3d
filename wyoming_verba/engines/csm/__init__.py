"""Sesame CSM-1b on transformers: our own frame loop, exact streaming Mimi decode, batched replies.

A request's sentences become one reply; the generation thread gives it a slot, runs one frame
step for every slot at once, and streams each slot's audio back as it is made.

- `engine`: `CsmEngine`, the Engine interface only (loading state, speaking) over the parts below.
- `tempo`: rate and volume applied to the audio (`context.verba` options).
- `generation/`: the generation thread — worker (the loop), scheduler (waiting/running, admission,
  lending, queue timeout), running (a reply in its slot), reply (+ fitting), stream (event loop).
- `model/`: one frame for every slot — slots, backbone, depth, sampling, step, pipeline, mimi,
  compat (transformers shims).
- `startup/`: bringing the model up and down — load, download, compile_cache, runtime,
  lifecycle, idle.
- `voices/`: what a voice is — registry, rules, prefixes, prompts, tokens.

Imports point downward — engine → startup → voices → generation → model (tests/test_layers.py);
nothing here imports the server or the CLI. docs/csm-engine.md walks through one frame and
what each property is proven by.
"""

from wyoming_verba.engines.csm.engine import CsmEngine

__all__ = ["CsmEngine"]
