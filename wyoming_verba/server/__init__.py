"""The server: from an accepted socket to audio-stop.

A request's path, top to bottom:
- `server`: start-up and shutdown (engines, listener, zeroconf, signals); accepts a socket.
- `handler`: one connection; reads events through `wire` (bounded sizes, timed waits), answers
  Describe at once with `info`, passes voice events to `voice_admin` (stored by `voice_store`).
- `request`: synthesize / synthesize-start / -chunk / -stop read into typed, bounded requests
  (`RequestIntake`), queued in the order the client sent them.
- `responder`: serves the queue: audio-start, chunks, audio-stop (or synthesize-stopped), errors
  named, every reply ended; one INFO line per request from `metrics`.
- `service`: the enabled engines and their voices; picks the engine and voice for a request.
- `synthesis`: a request's sentences → the engine → fallback, resampling, fixed-size chunks.
Beside the path: `identity` (the stable server id), `zeroconf` (the mDNS advertisement).

Imports engines, config, core and protocol; never the CLI.
"""
