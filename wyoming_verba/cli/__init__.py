"""The `wyoming-verba` commands; `__main__` only parses the command line.

- `serve`: the config (file, environment, flags), the port bound before anything heavy starts,
  the server run until a signal, a clean exit.
- `commands`: the other commands — say, voices, health, bench, voice add/delete, download, doctor.
- `say`, `progress`: what `say` tells about the engine that answered; progress on a terminal.
- `doctor`: a setup checked line by line (`[ok]` / `[!!]` with the fix).
- `bench`: latency and real-time factor per voice against a running server.

Thin: the client side of the wire (describe, synthesize, voice create/delete) is the protocol
module's `client`.
"""
