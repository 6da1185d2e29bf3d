"""Bringing the CSM model up and taking it down again.

- `load`: device and dtype choice, `from_pretrained` (one at a time), errors that say what to do.
- `hub`: whether the Hugging Face hub can be reached, in seconds (no retry storm when offline).
- `download`: `wyoming-verba download`, and the one rule for whether csm.model is a directory.
- `compile_cache`: torch.compile's caches under server.data_dir/torch-compile/<key>.
- `runtime`: `CsmRuntime` (worker + prompts); compiling and capturing on the generation thread.
- `lifecycle`: start (load on daemon threads, build, compile, capture), the `CSM ready` line, and
  unload (csm.unload_after_s) with the memory it returned.
- `idle`: the idle watch behind csm.unload_after_s, memory in use, and releasing CUDA memory.
"""
