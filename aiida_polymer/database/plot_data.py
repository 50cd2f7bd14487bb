"""The arrays behind the plots, pulled from AiiDA: one run (its workflow and the jobs it called) and a campaign
(its table), and the files of ``aiida-polymer plot``. The figures themselves are :mod:`.plots` (no AiiDA there).

Where a run keeps what is plotted (found by the call links' labels, as the workflows name them):

- production: the ``production_NN`` children of the equilibration (``polymer.lammps.base``), each with its
  ``thermo``, ``rg``, ``com`` and ``final_data``; the convergence checks are the equilibration's ``convergence``
  output (on the last segment);
- MSD: the last segment's ``com`` (unwrapped chain centres of mass), the chain masses from its ``final_data``, the
  lag window of :func:`aiida_polymer.chem.analysis.self_diffusion` (as ``compute_properties`` ran it);
- compression: the ``equilibration`` job's ``stage_thermo.<stage>`` outputs (a fused phase) or the ``packing`` and
  ``compression_NN`` children's ``thermo`` (``md.fused: false``);
- NEMD: the thermal-conductivity workflow's ``nemd`` output (mean profile, box length, κ, flags, steady-state
  window), ``exclude_neighbours`` from the parameters of the calcfunction that made it, the profile frames from
  the ``nemd_profile`` output of the NEMD job.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from aiida import orm
from aiida.common.links import LinkType

from ..campaign.submission import DESCRIPTION, KEY
from . import plots
from .reference import TITLES, load_reference, reference_values

PROPERTIES = "aiida.workflows:polymer.properties"
EQUILIBRATE = "aiida.workflows:polymer.equilibrate"
NEMD = "aiida.workflows:polymer.thermal_conductivity"
RUN_PLOTS = ("thermo", "compression", "msd", "nemd")
CALLS = (LinkType.CALL_WORK, LinkType.CALL_CALC)
OUTPUTS = (LinkType.RETURN, LinkType.CREATE)


@dataclass
class RunData:
    """What the plots of one run need, as plain arrays; ``missing``: plot -> why its data is not there."""

    title: str
    production: list[dict[str, np.ndarray]] = field(default_factory=list)
    rg: list[np.ndarray] | None = None
    convergence: dict | None = None
    msd: dict[str, Any] | None = None
    compression: list[tuple[str, dict[str, np.ndarray]]] = field(default_factory=list)
    nemd: dict[str, Any] | None = None
    missing: dict[str, str] = field(default_factory=dict)


def _children(node: orm.ProcessNode, prefix: str = "") -> list[tuple[str, orm.ProcessNode]]:
    """(call link label, child) of the processes ``node`` called whose label starts with ``prefix``, by label then
    creation time."""
    links = node.base.links.get_outgoing(link_type=CALLS).all()
    found = [(link.link_label, link.node) for link in links if link.link_label.startswith(prefix)]
    return sorted(found, key=lambda item: (item[0], item[1].ctime))


def _child(node: orm.ProcessNode, label: str) -> orm.ProcessNode | None:
    found = [child for name, child in _children(node, label) if name == label]
    return found[-1] if found else None


def _outputs(node: orm.Node) -> dict[str, orm.Data]:
    return {link.link_label: link.node for link in node.base.links.get_outgoing(link_type=OUTPUTS).all()}


def _arrays(node: orm.ArrayData) -> dict[str, np.ndarray]:
    return {name: node.get_array(name) for name in node.get_arraynames()}


def _parts(node: orm.ProcessNode) -> tuple[orm.ProcessNode | None, orm.ProcessNode | None]:
    """The equilibration and the thermal-conductivity workflows of a run (either may be None)."""
    if node.process_type == PROPERTIES:
        return _child(node, "equilibrate"), _child(node, "nemd")
    if node.process_type == EQUILIBRATE:
        return node, None
    if node.process_type == NEMD:
        return None, node
    raise plots.PlotError(f"node {node.pk} is a {node.process_label or type(node).__name__}, not a polymer run "
                          "(polymer.properties, polymer.equilibrate or polymer.thermal_conductivity)")


def run_data(node: orm.ProcessNode) -> RunData:
    """The arrays of the run ``node`` (a ``polymer.properties``, ``polymer.equilibrate`` or
    ``polymer.thermal_conductivity`` workflow); whatever is not there is named in ``missing`` with the reason."""
    if not isinstance(node, orm.WorkflowNode):
        raise plots.PlotError(f"node {node.pk} is a {type(node).__name__}, not a polymer run")
    equilibrate, nemd = _parts(node)
    data = RunData(title=_title(node))
    if equilibrate is None:
        for name in ("thermo", "compression", "msd"):
            data.missing[name] = "no equilibration in this run"
    else:
        _equilibration(equilibrate, data)
    if nemd is None:
        data.missing["nemd"] = "no NEMD in this run"
    else:
        _nemd(nemd, data)
    return data


def _title(node: orm.ProcessNode) -> str:
    key = node.base.extras.get(KEY, None) or ""
    if not key and (node.description or "").startswith(DESCRIPTION):
        key = node.description[len(DESCRIPTION):]
    return f"{node.process_label}<{node.pk}>" + (f" {key}" if key else "")


def _equilibration(node: orm.ProcessNode, data: RunData) -> None:
    segments = [(name, child, _outputs(child)) for name, child in _children(node, "production_")]
    segments = [(name, child, out) for name, child, out in segments if "thermo" in out]
    if segments:
        data.production = [_arrays(out["thermo"]) for _, _, out in segments]
        if all("rg" in out for _, _, out in segments):
            data.rg = [out["rg"].get_array("values") for _, _, out in segments]
        convergence = _outputs(node).get("convergence")
        data.convergence = convergence.get_dict() if convergence is not None else None
        _msd(segments[-1][2], data)
    else:
        data.missing["thermo"] = data.missing["msd"] = "no finished production segment"
    data.compression = _compression(node)
    if not data.compression:
        data.missing["compression"] = "no packing or compression thermo"


def _msd(outputs: dict[str, orm.Data], data: RunData) -> None:
    from ..calcfunctions.properties import chain_masses
    from ..chem import analysis
    from ..chem.lammps_io import read_data

    if "com" not in outputs:
        data.missing["msd"] = "the last production segment has no chain centres of mass (com)"
        return
    time, values = outputs["com"].get_array("time"), outputs["com"].get_array("values")
    masses = chain_masses(read_data(outputs["final_data"].get_content())) if "final_data" in outputs else None
    try:
        fit = analysis.self_diffusion(time, values, masses=masses)
        lag, per_chain = analysis.msd_multiple_origins(time, values, masses=masses, per_chain=True)
    except ValueError as exc:
        data.missing["msd"] = f"MSD not computable: {exc}"
        return
    data.msd = {"lag": lag, "msd": per_chain.mean(axis=1), "per_chain": per_chain, "window": fit["window"]}


def _stage_order(name: str) -> tuple[int, str]:
    return (0 if name == "packing" else 1, name)


def _compression(node: orm.ProcessNode) -> list[tuple[str, dict[str, np.ndarray]]]:
    fused = _child(node, "equilibration")
    if fused is not None:
        outputs = _outputs(fused)
        names = sorted((label.split("__", 1)[1] for label in outputs if label.startswith("stage_thermo__")),
                       key=_stage_order)
        return [(name, _arrays(outputs[f"stage_thermo__{name}"])) for name in names]
    stages = []
    for name, child in _children(node, ""):
        if name == "packing" or name.startswith("compression_"):
            thermo = _outputs(child).get("thermo")
            if thermo is not None:
                stages.append((name, _arrays(thermo)))
    return sorted(stages, key=lambda item: _stage_order(item[0]))


def _nemd(node: orm.ProcessNode, data: RunData) -> None:
    outputs = _outputs(node)
    if "nemd" not in outputs:
        properties = outputs.get("properties")
        reason = ""
        if properties is not None:
            entry = properties.get_dict().get("thermal_conductivity") or {}
            reason = entry.get("reason") or ""
        state = node.process_state.value if node.process_state else "unknown"
        data.missing["nemd"] = f"NEMD skipped ({reason})" if reason else f"no NEMD analysis (workflow {state})"
        return
    analysis = outputs["nemd"].get_dict()
    exclude = 1
    creator = outputs["nemd"].creator
    if creator is not None and "parameters" in creator.inputs:
        exclude = int(creator.inputs.parameters.get_dict().get("exclude_neighbours", 1))
    frames = None
    jobs = [_outputs(child) for _, child in _children(node, "")]
    profiles = [out["nemd_profile"] for out in jobs if "nemd_profile" in out]
    if profiles:
        steps, temp = profiles[-1].get_array("step"), profiles[-1].get_array("temp")
        start, stop = (analysis.get("window") or [steps[0] - 1, steps[-1]])[:2]
        frames = temp[(steps > start) & (steps <= stop)]
    data.nemd = {"profile": analysis["profile"], "length": analysis["length"], "exclude_neighbours": exclude,
                 "frames": frames, "kappa": analysis.get("kappa"), "flags": analysis.get("flags") or []}


def render_run(node: orm.ProcessNode, folder: str | Path, fmt: str = "png",
               which: tuple[str, ...] = RUN_PLOTS) -> tuple[list[Path], dict[str, str]]:
    """Write the plots ``which`` of the run ``node`` to ``folder`` (``thermo``, ``compression``, ``msd``,
    ``nemd_profile`` .png or .svg). Returns the files written and, for each plot asked for that could not be made,
    why."""
    data = run_data(node)
    folder = Path(folder)
    written, missing = [], {}
    makers = {
        "thermo": (data.production, lambda: plots.production_figure(data.production, data.convergence, data.rg,
                                                                    data.title)),
        "compression": (data.compression, lambda: plots.compression_figure(data.compression, data.title)),
        "msd": (data.msd, lambda: plots.msd_figure(data.msd["lag"], data.msd["msd"], data.msd["window"],
                                                   data.msd["per_chain"], data.title)),
        "nemd": (data.nemd, lambda: plots.nemd_profile_figure(
            data.nemd["profile"], data.nemd["length"], data.nemd["exclude_neighbours"], data.nemd["frames"],
            data.nemd["kappa"], data.nemd["flags"], data.title)),
    }
    files = {"thermo": "thermo", "compression": "compression", "msd": "msd", "nemd": "nemd_profile"}
    for name in which:
        present, make = makers[name]
        if not present:
            missing[name] = data.missing.get(name, "no data")
            continue
        written.append(plots.save_figure(make(), folder / f"{files[name]}.{fmt}"))
    return written, missing


@dataclass
class CampaignPlots:
    """What ``render_campaign`` wrote and found: the files, the Pareto front's polymers, the parity statistics."""

    files: list[Path]
    front: list[str]
    parity: dict[str, dict[str, Any]]


def render_campaign(group: orm.Group, folder: str | Path, fmt: str = "png",
                    pareto: str = "thermal_conductivity,density", reference: str | None = None,
                    include_gated: bool = False) -> CampaignPlots:
    """Write the campaign plots of ``group`` to ``folder``: ``distributions``, ``scatter`` (the first property of
    ``pareto`` against the others, the Pareto front of the pair marked: :func:`.plots.parse_pareto`) and, with a
    ``reference`` (``experiment``, ``radonpy`` or a CSV file), ``parity_<name>``. ``include_gated``: the Pareto
    front of every value, gated ones too (:func:`.plots.scatter_figure`)."""
    from .table import campaign_table

    table = campaign_table(group)
    rows, names = table.rows, list(table.properties)
    if not rows:
        raise plots.PlotError(f"campaign {group.label!r} has no polymer")
    pair, maximize = plots.parse_pareto(pareto)
    for name in pair:
        if name not in names:
            raise plots.PlotError(f"unknown property {name!r} (the campaign's: {', '.join(names) or 'none'})")
    folder = Path(folder)
    title = f"campaign {group.label} ({len(rows)} polymers)"
    files = [plots.save_figure(plots.distribution_figure(rows, names, title), folder / f"distributions.{fmt}")]
    figure, front = plots.scatter_figure(rows, pair[0], names, pair, maximize, title, include_gated)
    files.append(plots.save_figure(figure, folder / f"scatter.{fmt}"))
    parity: dict[str, dict[str, Any]] = {}
    if reference:
        values = reference_values(load_reference(reference))
        label = TITLES.get(reference, Path(reference).stem)
        pairs = plots.parity_pairs(rows, values, names)
        figure, parity = plots.parity_figure(pairs, label, title)
        stem = reference if reference in TITLES else Path(reference).stem
        files.append(plots.save_figure(figure, folder / f"parity_{stem}.{fmt}"))
    return CampaignPlots(files, front, parity)
