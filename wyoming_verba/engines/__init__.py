"""Speech engines behind one interface (`base.Engine`): text in, PCM out as it is produced.

- `base`: the Engine interface, engine states and errors.
- `edge/`: Microsoft Edge TTS through edge-tts.
- `csm/`: Sesame CSM-1b on the local GPU (transformers), with its own generation loop.

Engines import config, core and protocol; never the server or the CLI.
"""
