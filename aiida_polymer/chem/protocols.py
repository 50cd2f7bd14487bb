"""Protocols as data: YAML files in ``aiida_polymer/protocols`` with ``default_protocol`` and ``protocols``."""

from __future__ import annotations

from importlib.resources import files
from typing import Any

import yaml


def load(filename: str) -> dict[str, Any]:
    """The whole YAML file ``filename`` of ``aiida_polymer/protocols``."""
    return yaml.safe_load((files("aiida_polymer.protocols") / filename).read_text())


def settings(filename: str, name: str | None = None, overrides: dict[str, Any] | None = None) -> dict[str, Any]:
    """One protocol's settings (the file's default when ``name`` is None), ``overrides`` merged section by
    section (a dict updates a dict section, anything else replaces it)."""
    data = load(filename)
    name = name or data["default_protocol"]
    if name not in data["protocols"]:
        raise ValueError(f"unknown protocol {name!r}; choose from {', '.join(data['protocols'])}")
    merged = {key: dict(value) if isinstance(value, dict) else value for key, value in data["protocols"][name].items()}
    for section, values in (overrides or {}).items():
        if isinstance(values, dict) and isinstance(merged.get(section), dict):
            merged[section].update(values)
        else:
            merged[section] = values
    return merged


def steps(duration_ps: float, timestep_fs: float) -> int:
    """MD steps (at least one) for a duration in ps at a timestep in fs."""
    return max(1, round(duration_ps * 1000.0 / timestep_fs))
