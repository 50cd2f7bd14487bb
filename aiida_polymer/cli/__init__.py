"""The ``aiida-polymer`` command line."""

from __future__ import annotations

import os
import subprocess
import sys

import click
from aiida.common.links import LinkType

PROFILE = "aiida-polymer"

# AiiDA starts its daemon with the `verdi` it finds on the PATH when first imported: make it this environment's.
_BIN = os.path.dirname(sys.executable)
if _BIN not in os.environ.get("PATH", "").split(os.pathsep):
    os.environ["PATH"] = _BIN + os.pathsep + os.environ.get("PATH", "")


def _load_profile() -> None:
    from aiida import load_profile

    load_profile(os.environ.get("AIIDA_POLYMER_PROFILE", PROFILE))


@click.group()
def cli() -> None:
    """aiida-polymer: polymer properties from a repeat-unit SMILES, with AiiDA provenance."""


@cli.command()
def setup() -> None:
    """Create (once) the project profile (SQLite + built-in ZeroMQ broker), the localhost computer and codes."""
    from aiida.manage.configuration import get_config, reset_config

    verdi = os.path.join(os.path.dirname(sys.executable), "verdi")
    if PROFILE not in get_config(create=True).profile_names:
        subprocess.run([verdi, "presto", "--profile-name", PROFILE], check=True)
        reset_config()
    _load_profile()
    from ..codes import ensure_codes, localhost

    computer = localhost()
    codes = ensure_codes(computer)
    click.echo(f"profile {PROFILE!r} (AIIDA_PATH={os.environ.get('AIIDA_PATH', '~')}), computer {computer.label!r}, "
               f"codes: {', '.join(sorted(codes))}")


@cli.command()
@click.option("--smiles", default="*CC*", show_default=True, help="Repeat unit with two '*'.")
@click.option("--protocol", default="fast", show_default=True, type=click.Choice(["fast", "moderate", "precise"]))
@click.option("--cell-only", is_flag=True, help="Only build the amorphous cell (no MD).")
def demo(smiles: str, protocol: str, cell_only: bool) -> None:
    """Run the main job on a small polymer through the daemon and print its property table."""
    _load_profile()
    from aiida import orm

    from ..codes import ensure_codes, localhost
    from ..workchains.amorphous_cell import AmorphousCellWorkChain
    from ..workchains.equilibrate import EquilibrateWorkChain

    codes = ensure_codes(localhost())
    if cell_only:
        builder = AmorphousCellWorkChain.get_builder()
        builder.parameters = orm.Dict({"smiles": [smiles]})
        builder.antechamber, builder.parmchk2 = codes["antechamber"], codes["parmchk2"]
    else:
        builder = EquilibrateWorkChain.get_builder_from_protocol(codes["lmp"], smiles, protocol=protocol)
    node = _submit_and_wait(builder)
    if not node.is_finished_ok:
        raise click.ClickException(f"{node.process_label}<{node.pk}> failed [{node.exit_status}]: {node.exit_message}"
                                   f"\nSee: verdi process report {node.pk}")
    click.echo(format_result(node))


@cli.command()
@click.argument("pk", type=int)
def show(pk: int) -> None:
    """Print what a finished run built and its property table."""
    _load_profile()
    from aiida import orm

    click.echo(format_result(orm.load_node(pk)))


def format_result(node) -> str:
    """Cell summary, property table (if any), output nodes and how to inspect them."""
    outputs = node.outputs
    cell = outputs.cell if "cell" in outputs else outputs
    units = [r["smiles"] for r in cell.residues["residues"] if r["role"] == "repeat_unit"] if "residues" in cell else []
    parts = [format_summary(cell.summary.get_dict(), ", ".join(units))] if "summary" in cell else []
    if "properties" in outputs:
        parts.append(format_properties(outputs.properties.get_dict(), outputs.convergence["converged"]))
    returned = node.base.links.get_outgoing(link_type=LinkType.RETURN).all()
    labels = sorted(f"{link.link_label}<{link.node.pk}>" for link in returned)
    parts.append(f"{node.process_label}<{node.pk}> [{node.exit_status}]; outputs: {', '.join(labels)}")
    parts.append(f"Provenance graph: verdi node graph generate {node.pk}\n"
                 f"Report:           verdi process report {node.pk}\n"
                 f"  (profile {PROFILE!r} lives in AIIDA_PATH={os.environ.get('AIIDA_PATH', '~/.aiida')})")
    return "\n\n".join(parts)


def _submit_and_wait(builder):
    """Submit to the daemon (started here if needed, and stopped again afterwards) and follow the reports."""
    import time

    from aiida.engine import submit
    from aiida.engine.daemon.client import get_daemon_client

    client = get_daemon_client()
    started = not client.is_daemon_running
    if started:
        client.start_daemon(number_workers=1)
    try:
        node = submit(builder)
        click.echo(f"submitted {node.process_label}<{node.pk}> to the daemon; following its reports "
                   f"(Ctrl-C stops following, not the job)")
        seen = 0
        while not node.is_terminated:
            time.sleep(2)
            seen = _echo_new_reports(node, seen)
        _echo_new_reports(node, seen)
        return node
    finally:
        if started:
            client.stop_daemon(wait=True)


def _echo_new_reports(node, seen: int) -> int:
    from aiida.orm.logs import Log

    logs = Log.collection.get_logs_for(node)
    for child in node.called_descendants:
        logs += Log.collection.get_logs_for(child)
    logs = sorted(logs, key=lambda entry: entry.time)
    for entry in logs[seen:]:
        click.echo(f"  {entry.time:%H:%M:%S} {entry.message}")
    return len(logs)


UNIT_SCALE = {  # display units: (factor, unit)
    "self_diffusion": (1e9, "1e-9 m^2/s"),
    "isothermal_compressibility": (1e10, "1e-10 1/Pa"), "isentropic_compressibility": (1e10, "1e-10 1/Pa"),
    "isothermal_bulk_modulus": (1e-9, "GPa"), "isentropic_bulk_modulus": (1e-9, "GPa"),
    "volumetric_thermal_expansion": (1e4, "1e-4 1/K"), "linear_thermal_expansion": (1e4, "1e-4 1/K"),
}


def format_properties(table: dict, converged: bool) -> str:
    rows = []
    for name, entry in table.items():
        factor, unit = UNIT_SCALE.get(name, (1.0, entry["unit"]))
        value = entry["value"]
        err = entry.get("stderr")
        text = "n/a" if value is None else f"{value * factor:.4g}"
        if err is not None and value is not None:
            text += f" ± {err * factor:.2g}"
        rows.append((name, text, unit, ", ".join(entry.get("flags", []))))
    widths = [max(len(r[i]) for r in rows) for i in range(3)]
    lines = [f"{'property':<{widths[0]}}  {'value ± standard error':<{widths[1]}}  {'unit':<{widths[2]}}  flags"]
    lines += [f"{n:<{widths[0]}}  {v:<{widths[1]}}  {u:<{widths[2]}}  {f}" for n, v, u, f in rows]
    if not converged:
        lines.append("NOTE: the production run did not meet the convergence criteria; values are flagged.")
    return "\n".join(lines)


def format_summary(s: dict, smiles: str) -> str:
    tact = s["meso_dyad_fraction"]
    rows = [
        ("repeat unit", smiles),
        ("chains x DP", f"{s['n_chains']} x {s['degree_of_polymerization']}"),
        ("atoms", f"{s['n_atoms']} ({s['atoms_per_chain']} per chain)"),
        ("box", f"{s['box_length_angstrom']:.2f} Å cubic (built at {s['density_g_cm3']:.4f} g/cm³)"),
        ("net charge", f"{s['net_charge']:.2e} e"),
        ("min distance", f"{s['min_distance_angstrom']:.3f} Å (any pair), "
                         f"{s['min_nonbonded_distance_angstrom']:.3f} Å (non-bonded)"),
        ("tacticity", f"{s['tacticity_requested']}" + ("" if tact is None else f", meso dyads {tact:.2f}")),
        ("terms", ", ".join(f"{v} {k}" for k, v in s["counts"].items())),
        ("estimated params", str(len(s["estimated_parameters"]))),
    ]
    width = max(len(k) for k, _ in rows)
    return "\n".join(f"{k:<{width}}  {v}" for k, v in rows)

