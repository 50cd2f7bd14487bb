"""The ``aiida-polymer`` command line."""

from __future__ import annotations

import os
import subprocess
import sys

import click

from .tables import PROFILE, format_list, format_result

# AiiDA starts its daemon with the `verdi` it finds on the PATH when first imported: make it this environment's.
_BIN = os.path.dirname(sys.executable)
if _BIN not in os.environ.get("PATH", "").split(os.pathsep):
    os.environ["PATH"] = _BIN + os.pathsep + os.environ.get("PATH", "")


def _load_profile() -> None:
    """The project profile, unless a profile is loaded already (inside `verdi`, or tests)."""
    from aiida import get_profile, load_profile

    if get_profile() is None:
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
    enable_qm_caching(PROFILE)
    click.echo(f"profile {PROFILE!r} (AIIDA_PATH={os.environ.get('AIIDA_PATH', '~')}), computer {computer.label!r}, "
               f"codes: {', '.join(sorted(codes))}")


CACHED = ("aiida.calculations:polymer.psi4", "aiida.calculations:polymer.conformer_search",
          "aiida.calculations:polymer.esp_grid", "aiida.calculations:polymer.resp_charges",
          "aiida.calculations:polymer.polarizability_summary")


def enable_qm_caching(profile: str) -> None:
    """Reuse finished Psi4 charge calculations: the same unit at the same protocol is computed once."""
    from aiida.manage.configuration import get_config

    config = get_config()
    current = config.get_option("caching.enabled_for", scope=profile) or []
    config.set_option("caching.enabled_for", sorted(set(current) | set(CACHED)), scope=profile)
    config.store()


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

    codes = ensure_codes(localhost())
    if cell_only:
        builder = AmorphousCellWorkChain.get_builder()
        builder.parameters = orm.Dict({"smiles": [smiles]})
        builder.antechamber, builder.parmchk2 = codes["antechamber"], codes["parmchk2"]
    else:
        builder = properties_builder(codes, smiles, protocol)
    node = _submit_and_wait(builder)
    if not node.is_finished_ok:
        raise click.ClickException(f"{node.process_label}<{node.pk}> failed [{node.exit_status}]: {node.exit_message}"
                                   f"\nSee: verdi process report {node.pk}")
    click.echo(format_result(node))


def properties_builder(codes: dict, smiles: str | list[str], protocol: str, overrides: dict | None = None,
                       **state_point: float | None):
    """The front door's builder; a missing code is named clearly."""
    from ..workchains.properties import PropertiesWorkChain

    missing = [name for name in ("lmp", "psi4", "antechamber", "parmchk2") if name not in codes]
    if missing:
        raise click.ClickException(f"no code for {', '.join(missing)}: create it (verdi code create) or pass "
                                   f"--code-{missing[0]} LABEL@COMPUTER")
    return PropertiesWorkChain.get_builder_from_protocol(codes, smiles, protocol, overrides, **state_point)


@cli.command()
@click.argument("smiles", nargs=-1, required=True)
@click.option("--protocol", default="moderate", show_default=True, type=click.Choice(["fast", "moderate", "precise"]))
@click.option("--code-psi4", help="psi4 code (LABEL@COMPUTER); default psi4@localhost.")
@click.option("--code-lmp", help="LAMMPS code; default lmp@localhost.")
@click.option("--code-antechamber", help="antechamber code; default antechamber@localhost.")
@click.option("--code-parmchk2", help="parmchk2 code; default parmchk2@localhost.")
@click.option("--tacticity", type=click.Choice(["atactic", "isotactic", "syndiotactic"]))
@click.option("--head-group", help="End group at the chain heads (one '*'), default *C.")
@click.option("--tail-group", help="End group at the chain tails (one '*'), default *C.")
@click.option("--copolymer", type=click.Choice(["alternating", "random", "block"]),
              help="Layout when several repeat units are given.")
@click.option("--fractions", help="Mole fractions of the repeat units, comma-separated.")
@click.option("--temperature", type=float, help="K (default 300).")
@click.option("--pressure", type=float, help="atm (default 1).")
@click.option("--wait", is_flag=True, help="Follow the run until it ends and print its table.")
def submit(smiles: tuple[str, ...], protocol: str, code_psi4: str | None, code_lmp: str | None,
           code_antechamber: str | None, code_parmchk2: str | None, tacticity: str | None, head_group: str | None,
           tail_group: str | None, copolymer: str | None, fractions: str | None, temperature: float | None,
           pressure: float | None, wait: bool) -> None:
    """Submit SMILES (one or more repeat units) → all properties to the daemon."""
    _load_profile()
    from aiida import orm
    from aiida.common.exceptions import NotExistent

    from ..chem.monomer import MonomerError, parse_repeat_unit

    try:
        for s in smiles:
            parse_repeat_unit(s)
    except MonomerError as exc:
        raise click.BadParameter(str(exc), param_hint="SMILES") from exc
    codes = {}
    for name, label in (("psi4", code_psi4), ("lmp", code_lmp), ("antechamber", code_antechamber),
                        ("parmchk2", code_parmchk2)):
        try:
            codes[name] = orm.load_code(label or f"{name}@localhost")
        except NotExistent:
            if label:
                raise click.BadParameter(f"no code {label!r}", param_hint=f"--code-{name}") from None
    cell = {key: value for key, value in (("tacticity", tacticity), ("head_group", head_group),
                                          ("tail_group", tail_group), ("copolymer", copolymer)) if value}
    if fractions:
        cell["fractions"] = [float(x) for x in fractions.split(",")]
    builder = properties_builder(codes, list(smiles), protocol, {"equilibrate": {"cell": cell}} if cell else None,
                                 temperature=temperature, pressure=pressure)
    if wait:
        node = _submit_and_wait(builder)
        click.echo(format_result(node))
        return
    from aiida.engine import submit as submit_process

    node = submit_process(builder)
    click.echo(f"submitted {node.process_label}<{node.pk}>; follow it with `verdi process report {node.pk}` "
               f"(the daemon must run: verdi daemon start), then `aiida-polymer show {node.pk}`")


@cli.command()
@click.argument("pk", type=int)
def show(pk: int) -> None:
    """Print what a finished run built and its property table."""
    _load_profile()
    from aiida import orm

    click.echo(format_result(orm.load_node(pk)))


@cli.command("list")
@click.option("--limit", default=20, show_default=True)
def list_runs(limit: int) -> None:
    """Recent runs: state, repeat units and key properties."""
    _load_profile()
    click.echo(format_list(recent_runs(limit)))


def recent_runs(limit: int) -> list:
    from aiida import orm

    query = orm.QueryBuilder().append(orm.WorkflowNode, filters={"process_type": {"in": [
        "aiida.workflows:polymer.properties", "aiida.workflows:polymer.equilibrate"]}}, project="*")
    return [row[0] for row in query.order_by({orm.WorkflowNode: {"ctime": "desc"}}).limit(limit).all()]


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
