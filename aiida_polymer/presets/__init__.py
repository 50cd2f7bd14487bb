"""Computer and code presets: YAML files for ``verdi computer setup``, ``verdi computer configure`` and ``verdi code
create core.code.installed`` (``--config FILE``), for Fugaku (PJM), an x86 PBS Pro or Slurm cluster and this machine.

The files hold placeholders ``{{ name }}`` or ``{{ name | default }}``, filled by :func:`render` (or ``python -m
aiida_polymer.presets render ...``); AiiDA's own single-brace placeholders (``{username}``, ``{tot_num_mpiprocs}``)
stay for AiiDA. :func:`apply_policy` sets what the files cannot: the minimum job poll interval.
Default job options per pipeline stage and protocol are in :mod:`aiida_polymer.presets.resources`.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

__all__ = ("PRESETS", "apply_policy", "load", "names", "placeholders", "render", "write")

PRESETS = Path(__file__).parent
KINDS = ("computers", "configure", "codes")
_PLACEHOLDER = re.compile(r"\{\{\s*(\w+)\s*(?:\|\s*(.*?)\s*)?\}\}")


def _path(kind: str, name: str) -> Path:
    if kind not in KINDS:
        raise ValueError(f"unknown preset kind {kind!r}: one of {', '.join(KINDS)}")
    path = PRESETS / kind / f"{name}.yaml"
    if not path.exists():
        raise ValueError(f"no {kind} preset {name!r}: one of {', '.join(names(kind))}")
    return path


def names(kind: str) -> list[str]:
    """The presets of one kind (``computers``, ``configure`` or ``codes``)."""
    return sorted(p.stem for p in (PRESETS / kind).glob("*.yaml"))


def _is_comment(line: str) -> bool:
    return line.lstrip().startswith("#")


def placeholders(kind: str, name: str) -> dict[str, str | None]:
    """Placeholder name -> default (None where a value must be given), from the lines that are not comments."""
    found: dict[str, str | None] = {}
    for line in _path(kind, name).read_text().splitlines():
        for match in () if _is_comment(line) else _PLACEHOLDER.finditer(line):
            if found.get(match[1]) is None:
                found[match[1]] = match[2]
    return found


def render(kind: str, name: str, **values: Any) -> str:
    """The preset's text with its placeholders filled from ``values`` or their defaults (comments stay as they are)."""
    defaults = placeholders(kind, name)
    missing = sorted(k for k, v in defaults.items() if v is None and values.get(k) is None)
    if missing:
        raise ValueError(f"{kind}/{name}: give values for {', '.join(missing)}")
    unknown = sorted(set(values) - set(defaults))
    if unknown:
        raise ValueError(f"{kind}/{name} has no placeholder {', '.join(unknown)}; it has {', '.join(defaults)}")

    def fill(match: re.Match) -> str:
        value = values.get(match[1])
        return str(defaults[match[1]] if value is None else value)

    lines = _path(kind, name).read_text().splitlines(keepends=True)
    return "".join(line if _is_comment(line) else _PLACEHOLDER.sub(fill, line) for line in lines)


def load(kind: str, name: str, **values: Any) -> dict[str, Any]:
    """The filled preset as a dictionary (the option values ``verdi ... --config`` reads)."""
    return yaml.safe_load(render(kind, name, **values))


def write(kind: str, name: str, path: str | Path, **values: Any) -> Path:
    """Write the filled preset to ``path`` (for ``--config path``)."""
    path = Path(path)
    path.write_text(render(kind, name, **values))
    return path


def apply_policy(computer, *, poll_interval: float | None = None) -> None:
    """Set the minimum job poll interval (seconds between two job-list queries of the scheduler for this
    computer, one ``squeue``/``qstat``/``pjstat`` call each, for all jobs of the user); default: 60 s on a
    computer reached over SSH, 1 s on a local one."""
    if poll_interval is None:
        poll_interval = 1.0 if computer.transport_type == "core.local" else 60.0
    computer.set_minimum_job_poll_interval(poll_interval)
