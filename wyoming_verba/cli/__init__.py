"""The `wyoming-verba` commands; `__main__` only parses the command line.

- `commands`: what each command does — serve, say, voices, health, voice add/delete, download.
- `doctor`: a setup checked line by line (`[ok]` / `[!!]` with the fix).
- `bench`: latency and real-time factor per voice against a running server.

Thin: the client side of the wire (describe, synthesize, voice create/delete) is the protocol
module's `client`; `serve` starts `server.VerbaServer`.
"""
