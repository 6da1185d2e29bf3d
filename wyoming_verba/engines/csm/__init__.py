"""Sesame CSM-1b on transformers: own frame loop, exact streaming Mimi decode, batched worker."""

from wyoming_verba.engines.csm.engine import CsmEngine

__all__ = ["CsmEngine"]
