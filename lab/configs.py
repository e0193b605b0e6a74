"""Configs as plain dicts, and the fields where two of them differ.

A checkpoint and an output folder each keep the config that made them as JSON;
what is asked for later is compared with it field by field, so a mismatch is
refused with the fields named rather than silently reused.
"""

from __future__ import annotations

import dataclasses
import json


def config_dict(config, **extra) -> dict:
    """A dataclass config (and `extra` entries) as the dict its JSON file would read back as."""
    return json.loads(json.dumps({**dataclasses.asdict(config), **extra}, default=str))


def config_differences(saved: dict, wanted: dict, holder: str = "checkpoint", prefix: str = "") -> list[str]:
    """`field: <holder> has A, config asks for B` for every leaf where two config dicts differ."""
    out = []
    for key in sorted(set(saved) | set(wanted)):
        a, b = saved.get(key), wanted.get(key)
        if isinstance(a, dict) and isinstance(b, dict):
            out += config_differences(a, b, holder, f"{prefix}{key}.")
        elif a != b and not (isinstance(a, list) and tuple(a) == b):
            out.append(f"{prefix}{key}: {holder} has {a!r}, config asks for {b!r}")
    return out
