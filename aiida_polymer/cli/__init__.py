"""The ``aiida-polymer`` command line."""

from __future__ import annotations

import os
import subprocess
import sys

import click

PROFILE = "aiida-polymer"


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
@click.option("--smiles", default="*CC(*)c1ccccc1", show_default=True, help="Repeat unit with two '*'.")
@click.option("--chains", "n_chains", default=10, show_default=True)
@click.option("--atoms-per-chain", default=1000, show_default=True)
@click.option("--tacticity", default="atactic", show_default=True)
def demo(smiles: str, n_chains: int, atoms_per_chain: int, tacticity: str) -> None:
    """Build an amorphous cell (polystyrene by default) and print what was built."""
    _load_profile()
    from aiida import orm
    from aiida.engine import run_get_node

    from ..codes import ensure_codes, localhost
    from ..workchains.amorphous_cell import AmorphousCellWorkChain

    codes = ensure_codes(localhost())
    parameters = {"smiles": [smiles], "n_chains": n_chains, "atoms_per_chain": atoms_per_chain,
                  "tacticity": tacticity}
    results, node = run_get_node(AmorphousCellWorkChain, parameters=orm.Dict(parameters),
                                 antechamber=codes["antechamber"], parmchk2=codes["parmchk2"])
    if not node.is_finished_ok:
        raise click.ClickException(f"WorkChain<{node.pk}> failed [{node.exit_status}]: {node.exit_message}")
    click.echo(format_summary(node, results["summary"].get_dict()))


def format_summary(node, s: dict) -> str:
    tact = s["meso_dyad_fraction"]
    rows = [
        ("repeat unit", ", ".join(node.inputs.parameters["smiles"])),
        ("chains x DP", f"{s['n_chains']} x {s['degree_of_polymerization']}"),
        ("atoms", f"{s['n_atoms']} ({s['atoms_per_chain']} per chain)"),
        ("box", f"{s['box_length_angstrom']:.2f} Å cubic"),
        ("density", f"{s['density_g_cm3']:.4f} g/cm³"),
        ("net charge", f"{s['net_charge']:.2e} e"),
        ("min distance", f"{s['min_distance_angstrom']:.3f} Å (any pair), "
                         f"{s['min_nonbonded_distance_angstrom']:.3f} Å (non-bonded)"),
        ("tacticity", f"{s['tacticity_requested']}" + ("" if tact is None else f", meso dyads {tact:.2f}")),
        ("terms", ", ".join(f"{v} {k}" for k, v in s["counts"].items())),
        ("estimated params", str(len(s["estimated_parameters"]))),
    ]
    width = max(len(k) for k, _ in rows)
    out = [f"{k:<{width}}  {v}" for k, v in rows]
    out.append("")
    outputs = sorted((label, node.outputs[label].pk) for label in node.outputs)
    out.append(f"WorkChain<{node.pk}> finished; outputs: " + ", ".join(f"{k}<{pk}>" for k, pk in outputs))
    out.append(f"Provenance graph: verdi node graph generate {node.pk}")
    out.append(f"  (profile {PROFILE!r} lives in AIIDA_PATH={os.environ.get('AIIDA_PATH', '~/.aiida')})")
    out.append(f"Report:           verdi process report {node.pk}")
    return "\n".join(out)
