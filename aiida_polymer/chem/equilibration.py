"""The equilibration protocol (packing, 21-step compression, NPT production) expanded into MD stages.

The protocol is data (``aiida_polymer/protocols/equilibrate.yaml``); this module only turns its durations in ps
into steps and its symbolic temperatures/pressures into numbers.
"""

from __future__ import annotations

from typing import Any

from . import protocols
from .lammps_input import Stage

PROTOCOL_FILE = "equilibrate.yaml"


def load_protocols() -> dict[str, Any]:
    return protocols.load(PROTOCOL_FILE)


def protocol(name: str | None = None, overrides: dict[str, Any] | None = None) -> dict[str, Any]:
    """One protocol's validated settings with ``overrides`` merged in recursively, and the file's
    ``larsen_21_step`` table (:func:`aiida_polymer.chem.protocols.settings`; a bad key raises
    :class:`~aiida_polymer.chem.protocols.ProtocolError`)."""
    return protocols.settings(PROTOCOL_FILE, name, overrides)


def _md(settings: dict[str, Any]) -> dict[str, Any]:
    md = settings["md"]
    return {"timestep": md["timestep"], "kspace_accuracy": md["kspace_accuracy"], "cutoff_inner": md["cutoff_inner"],
            "cutoff": md["cutoff"], **({"lj": md["lj"]} if "lj" in md else {})}  # else the Stage's default


def packing_stage(settings: dict[str, Any], seed: int = 1) -> Stage:
    """LJ-only short-cutoff potential, minimise, heat to the packing temperature while compressing."""
    p, md = settings["packing"], settings["md"]
    steps = protocols.steps(p["duration"], md["timestep"])
    return Stage(name="packing", ensemble="nvt", potential="lj_short", lj_cutoff=p.get("lj_cutoff", 3.0),
                 minimize_first=True, velocity_seed=seed, temperature=[300.0, float(p["temperature"])],
                 deform_density=float(p["density"]), steps=steps, thermo_every=max(1, steps // 20),
                 **_md(settings))


def compression_stages(settings: dict[str, Any]) -> list[Stage]:
    """The 21-step table with the protocol's temperatures, pressures and duration scale; no stage shorter than
    ``min_duration`` ps (a barostat needs a few of its damping times, 1 ps, to respond to a pressure step)."""
    c, md = settings["compression"], settings["md"]
    temperatures = {"t_max": c["t_max"], "t_final": c["t_final"]}
    stages = []
    for i, (ensemble, temp, pressure, duration) in enumerate(settings["larsen_21_step"], 1):
        steps = protocols.steps(max(duration * c["duration_scale"], c.get("min_duration", 0.0)), md["timestep"])
        stage: dict[str, Any] = {"name": f"compression_{i:02d}", "ensemble": ensemble,
                                 "temperature": float(temperatures[temp]), "steps": steps,
                                 "shake": md.get("shake", False), "thermo_every": max(1, steps // 10), **_md(settings)}
        if ensemble == "npt":
            stage["pressure"] = float(c["p_final"] if pressure == "p_final" else pressure * c["p_max"])
        stages.append(Stage(**stage))
    return stages


def production_stage(settings: dict[str, Any], segment: int = 1) -> Stage:
    """One NPT production segment, sampling Rg, MSD and dipole moment."""
    p, md = settings["production"], settings["md"]
    steps = protocols.steps(p["duration"], md["timestep"])
    return Stage(name=f"production_{segment:02d}", ensemble="npt", temperature=float(p["temperature"]),
                 pressure=float(p["pressure"]), steps=steps, restart_every=max(1, steps // 10),
                 shake=md.get("shake", False), thermo_every=protocols.steps(p["thermo_every_ps"], md["timestep"]),
                 sample_every=protocols.steps(p["sample_every_ps"], md["timestep"]), vdos=_vdos(p, md, steps),
                 **_md(settings))


def _vdos(production: dict[str, Any], md: dict[str, Any], steps: int) -> dict[str, int] | None:
    """The velocity dump of a production segment (its last ``vdos.duration`` ps), or None."""
    v = production.get("vdos")
    if not v:
        return None
    every = protocols.steps(v["sample_every_fs"] / 1000.0, md["timestep"])
    frames = min(protocols.steps(v["duration"], md["timestep"]) // every, steps // every) + 1
    return {"every": every, "frames": frames, "atoms": int(v["atoms"])}
