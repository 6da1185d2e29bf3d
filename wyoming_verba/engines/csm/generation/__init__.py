"""The generation thread: replies in, frames out — all model work off the event loop.

- `worker`: `GenerationWorker`, the thread's loop: schedule → run the frame step → postprocess
  (read each slot's frame, deliver its audio); `call()` runs loading work between frames.
- `scheduler`: `Scheduler`, waiting and running replies: a slot only for a ready sentence, a reply
  idle between sentences lends its slot, csm.queue_timeout_s fails a long wait for the fallback;
  tends running replies between frames (start a sentence, free a finished or cancelled one).
- `running`: `RunningReply`, a reply in its slot: prefill of each sentence (continue, or rebuild
  the context), frames taken, audio delivered in chunks.
- `reply`: `Reply` (sentences in, deliveries out, thread-safe), the slot context's host mirror,
  and fitting: frame caps from text length, text split at words to fit the context.
- `stream`: one reply on the event loop: sentences tokenized off the loop, PCM and SENTENCE_END out.
"""
