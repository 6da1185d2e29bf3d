"""Voluptuous schemas handed to Home Assistant, typed for every version we support."""

from __future__ import annotations

from typing import Any

import voluptuous as vol


def ha_schema(schema: vol.Schema) -> Any:
    """The schema, typed loosely: HA 2026.10+ types these parameters as probatio schemas and maps
    a voluptuous one at run time; 2025.4 and 2026.2 have no probatio."""
    return schema
