"""One frame for every slot: the model's step, fixed-shape and free of host syncs.

- `slots`: `SlotState`, per-layer K/V for max_batch slots × 2048 positions, positions, flags, frame
  caps, seeds, per-slot sampling tensors and the step's outputs; `VoicePrefix`.
- `backbone`: embeddings, eager prefill into a slot, the one-token backbone layer step.
- `depth`: the depth-decoder steps over static buffers (codebook 0 + 1, then one step for 2–31).
- `sampling`: temperature / top-k / top-p per slot, the exponential race, counter-based noise.
- `step`: `FrameStep`, one frame for slots [0, rows): eager, regionally compiled, or CUDA graphs.
- `pipeline`: step + Mimi on its own CUDA stream + non-blocking copies to pinned memory.
- `mimi`: `BatchedMimiDecoder`, exact streaming decode for every slot; CSM's sample rate and frame
  size (the only place they are spelled).
- `compat`: transformers 5.17–5.24 differences (cache keyword, Mimi layout), resolved once.

Imports nothing from generation/, startup/ or voices/.
"""
