"""Speech engines: Edge TTS and Sesame CSM."""
