"""The ``aiida-polymer`` command line."""

from __future__ import annotations

import os
import subprocess
import sys

import click

from ..chem.protocols import NAMES as PROTOCOLS
from ..production import REPOSITORY as _REPOSITORY
from .tables import PROFILE, format_list, format_properties, format_result

# AiiDA starts its daemon with the `verdi` it finds on the PATH when first imported: make it this environment's.
_BIN = os.path.dirname(sys.executable)
if _BIN not in os.environ.get("PATH", "").split(os.pathsep):
    os.environ["PATH"] = _BIN + os.pathsep + os.environ.get("PATH", "")


DEBUG_ENV = "AIIDA_POLYMER_DEBUG"  # set to 1 for the full traceback of an unexpected error
REPOSITORY = str(_REPOSITORY)


def _profile_name() -> str:
    return os.environ.get("AIIDA_POLYMER_PROFILE", PROFILE)


def _aiida_path() -> str:
    return os.environ.get("AIIDA_PATH") or "(unset: ~)"


def _load_profile() -> None:
    """The project profile, unless a profile is loaded already (inside `verdi`, or tests); a missing
    configuration or profile is a clean error that says how to get it."""
    from aiida import get_profile, load_profile
    from aiida.common.exceptions import ConfigurationError, MissingConfigurationError, ProfileConfigurationError

    if get_profile() is not None:
        return
    name = _profile_name()
    try:
        load_profile(name)
    except (MissingConfigurationError, ProfileConfigurationError, ConfigurationError) as exc:
        raise click.ClickException(_no_profile_message(name, exc)) from None


def _no_profile_message(name: str, exc: Exception) -> str:
    project = os.path.join(REPOSITORY, ".aiida")
    here = os.path.isfile(os.path.join(project, ".aiida", "config.json")) or os.path.isfile(
        os.path.join(project, "config.json"))
    where = f"AIIDA_PATH={_aiida_path()}"
    reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    hints = [("make demo", f"in {REPOSITORY}: installs, creates the profile, runs the demo"),
             ("aiida-polymer setup", f"creates the profile in AIIDA_PATH={_aiida_path()}"),
             (f"export AIIDA_PATH={project}", "the project's profile" + ("" if here else ", once made there"))]
    width = max(len(command) for command, _ in hints)
    lines = [f"the AiiDA profile {name!r} is not there ({where}: {reason}).", "To get it:",
             *(f"  {command:<{width}}  {what}" for command, what in hints)]
    if name != PROFILE:
        lines.append(f"  (AIIDA_POLYMER_PROFILE={name} asks for that profile; unset it for {PROFILE!r})")
    return "\n".join(lines)


class PolymerGroup(click.Group):
    """The ``aiida-polymer`` group: an unexpected error in a command is one line, ``Error: <type>: <message>``,
    with a hint; ``--traceback`` or ``AIIDA_POLYMER_DEBUG=1`` shows the full traceback instead."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except (click.exceptions.ClickException, click.exceptions.Exit, click.exceptions.Abort):
            raise
        except Exception as exc:
            if ctx.params.get("traceback") or os.environ.get(DEBUG_ENV, "").strip() not in ("", "0"):
                raise
            message = str(exc).strip() or repr(exc)
            raise click.ClickException(
                f"{type(exc).__name__}: {message}\n(unexpected: for the full traceback rerun with "
                f"`aiida-polymer --traceback ...` or {DEBUG_ENV}=1)") from None


@click.group(cls=PolymerGroup)
@click.option("--traceback", is_flag=True, help=f"Show the full traceback of an unexpected error (or {DEBUG_ENV}=1).")
def cli(traceback: bool) -> None:
    """aiida-polymer: polymer properties from a repeat-unit SMILES, with AiiDA provenance."""


@cli.command()
@click.option("--production", is_flag=True,
              help="Make the production profile instead: PostgreSQL + RabbitMQ (started by scripts/services.sh, "
                   "on 127.0.0.1), for many daemon workers and large databases.")
@click.option("--profile-name", help=f"Name of the profile (default {PROFILE!r}, or with --production "
                                     "'aiida-polymer-production').")
def setup(production: bool, profile_name: str | None) -> None:
    """Create (once) the project profile (SQLite + built-in ZeroMQ broker), the localhost computer and codes."""
    from aiida.manage.configuration import get_config, reset_config

    if production:
        return _setup_production(profile_name)
    name = profile_name or PROFILE
    verdi = os.path.join(os.path.dirname(sys.executable), "verdi")
    if name not in get_config(create=True).profile_names:
        # --use-zeromq: presto would otherwise pick RabbitMQ whenever it runs here (scripts/services.sh)
        subprocess.run([verdi, "presto", "--use-zeromq", "--profile-name", name], check=True)
        reset_config()
    if profile_name:
        from aiida import load_profile

        load_profile(name, allow_switch=True)
    else:
        _load_profile()
    _setup_computer_and_codes(name)


def _setup_computer_and_codes(name: str) -> None:
    from ..codes import ensure_codes, localhost

    computer = localhost()
    codes = ensure_codes(computer)
    enable_qm_caching(name)
    click.echo(f"profile {name!r} (AIIDA_PATH={os.environ.get('AIIDA_PATH', '~')}), computer {computer.label!r}, "
               f"codes: {', '.join(sorted(codes))}")


def _setup_production(profile_name: str | None) -> None:
    """``setup --production``: services, role and database, the psql_dos + rabbitmq profile, computer and codes."""
    from aiida import load_profile

    from ..production import PRODUCTION_PROFILE, StackError, setup_production

    name = profile_name or PRODUCTION_PROFILE
    try:
        made = setup_production(name)
    except StackError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(made.services)
    database = made.database
    click.echo(f"database {database.name!r} (role {database.user!r}) on 127.0.0.1: "
               f"{'created' if database.created else 'exists'}; its password is in {made.secret} (mode 600)")
    click.echo(f"profile {name!r}: {'created' if made.profile_created else 'exists'} "
               "(core.psql_dos storage, core.rabbitmq broker)")
    load_profile(name, allow_switch=True)
    _setup_computer_and_codes(name)
    click.echo(f"use it with AIIDA_POLYMER_PROFILE={name} aiida-polymer ..., or verdi -p {name} ...; "
               f"start its daemon with: verdi -p {name} daemon start 2")


CACHED = ("aiida.calculations:polymer.psi4", "aiida.calculations:polymer.psi4.unit",
          "aiida.calculations:polymer.conformer_search", "aiida.calculations:polymer.esp_grid",
          "aiida.calculations:polymer.resp_charges", "aiida.calculations:polymer.polarizability_summary")


def enable_qm_caching(profile: str) -> None:
    """Reuse finished Psi4 charge calculations: the same unit at the same protocol is computed once."""
    from aiida.manage.configuration import get_config

    config = get_config()
    current = config.get_option("caching.enabled_for", scope=profile) or []
    config.set_option("caching.enabled_for", sorted(set(current) | set(CACHED)), scope=profile)
    config.store()


@cli.command()
@click.option("--smiles", default="*CC*", show_default=True, help="Repeat unit with two '*'.")
@click.option("--protocol", default="fast", show_default=True, type=click.Choice(PROTOCOLS))
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
        click.echo(format_failure(node))
        raise click.exceptions.Exit(1)
    click.echo(format_result(node))


def properties_builder(codes: dict, smiles: str | list[str], protocol: str, overrides: dict | None = None,
                       options: dict | None = None, **state_point: float | None):
    """The front door's builder; a missing code is named clearly, and bad input (a ValueError from the builder:
    SMILES, composition, protocol overrides, options) is a clean click error."""
    from ..workchains.properties import PropertiesWorkChain

    missing = [name for name in ("lmp", "psi4", "antechamber", "parmchk2") if name not in codes]
    if missing:
        raise click.ClickException(f"no code for {', '.join(missing)}: create it (verdi code create, or "
                                   f"aiida-polymer setup for this machine's) or pass "
                                   f"--code-{missing[0]} LABEL@COMPUTER")
    try:
        return PropertiesWorkChain.get_builder_from_protocol(codes, smiles, protocol, overrides, options,
                                                             **state_point)
    except ValueError as exc:  # bad input (MonomerError, ProtocolError, ...): a usage error, exit code 2
        raise click.UsageError(f"invalid input: {exc}") from None


@cli.command()
@click.argument("smiles", nargs=-1, required=True)
@click.option("--protocol", default="moderate", show_default=True, type=click.Choice(PROTOCOLS))
@click.option("--code-psi4", help="psi4 code (LABEL@COMPUTER); default psi4@localhost.")
@click.option("--code-lmp", help="LAMMPS code; default lmp@localhost.")
@click.option("--code-antechamber", help="antechamber code; default antechamber@localhost.")
@click.option("--code-parmchk2", help="parmchk2 code; default parmchk2@localhost.")
@click.option("--tacticity", type=click.Choice(["atactic", "isotactic", "syndiotactic"]))
@click.option("--head-group", help="End group at the chain heads (one '*'), default *C.")
@click.option("--tail-group", help="End group at the chain tails (one '*'), default *C.")
@click.option("--copolymer", type=click.Choice(["alternating", "random", "block"]),
              help="Layout when several repeat units are given (required then).")
@click.option("--fractions", help="Mole fractions of the repeat units, comma-separated.")
@click.option("--temperature", type=float, help="K (default 300).")
@click.option("--pressure", type=float, help="atm (default 1).")
@click.option("--options-file", type=click.Path(exists=True, dir_okay=False),
              help="YAML: metadata.options per code (lmp, psi4, antechamber, parmchk2) or stage (lammps, nemd, "
                   "psi4, amber), e.g. queue_name, account, max_wallclock_seconds, resources, "
                   "custom_scheduler_commands; merged over the presets' defaults for the codes' computers.")
@click.option("--dry-run", is_flag=True,
              help="Build and check everything, store nothing, and print the job scripts the LAMMPS (and Psi4) "
                   "jobs would get (AiiDA's dry run: folders under ./submit_test/).")
@click.option("--wait", is_flag=True, help="Follow the run until it ends and print its table.")
def submit(smiles: tuple[str, ...], protocol: str, code_psi4: str | None, code_lmp: str | None,
           code_antechamber: str | None, code_parmchk2: str | None, tacticity: str | None, head_group: str | None,
           tail_group: str | None, copolymer: str | None, fractions: str | None, temperature: float | None,
           pressure: float | None, options_file: str | None, dry_run: bool, wait: bool) -> None:
    """Submit SMILES (one or more repeat units) → all properties to the daemon."""
    from ..chem.monomer import MonomerError, parse_repeat_unit

    if len(smiles) > 1 and not copolymer:
        raise click.UsageError(f"{len(smiles)} repeat units given ({', '.join(smiles)}): say how they are laid "
                               f"out with --copolymer alternating, random or block")
    if dry_run and wait:
        raise click.UsageError("--dry-run submits nothing: it cannot --wait")
    try:
        for s in smiles:
            parse_repeat_unit(s)
    except MonomerError as exc:
        raise click.BadParameter(str(exc), param_hint="SMILES") from exc
    cell = {key: value for key, value in (("tacticity", tacticity), ("head_group", head_group),
                                          ("tail_group", tail_group), ("copolymer", copolymer)) if value}
    if fractions:
        try:
            cell["fractions"] = [float(x) for x in fractions.split(",")]
        except ValueError:
            raise click.BadParameter(f"{fractions!r} is not a comma-separated list of numbers",
                                     param_hint="--fractions") from None
    _load_profile()
    codes = _load_codes({"psi4": code_psi4, "lmp": code_lmp, "antechamber": code_antechamber,
                         "parmchk2": code_parmchk2})
    from .jobs import OptionsFileError, job_options, read_options_file

    try:
        options = job_options(codes, protocol, read_options_file(options_file) if options_file else None,
                              source=f"options file {options_file}")
    except OptionsFileError as exc:
        raise click.BadParameter(str(exc), param_hint="--options-file") from None
    builder = properties_builder(codes, list(smiles), protocol, {"equilibrate": {"cell": cell}} if cell else None,
                                 options=options, temperature=temperature, pressure=pressure)
    if dry_run:
        _dry_run(builder, list(smiles), protocol)
        return
    if wait:
        node = _submit_and_wait(builder)
        if not node.is_finished_ok:
            click.echo(format_failure(node))
            raise click.exceptions.Exit(1)
        click.echo(format_result(node))
        return
    node = _submit(builder)
    click.echo(f"submitted {node.process_label}<{node.pk}>; follow it with `verdi process report {node.pk}`, "
               f"then `aiida-polymer show {node.pk}`")


def _load_codes(labels: dict[str, str | None]) -> dict:
    """The codes given (LABEL@COMPUTER; a wrong one is a clean error) and the localhost defaults that exist."""
    from aiida import orm
    from aiida.common.exceptions import MultipleObjectsError, NotExistent

    codes = {}
    for name, label in labels.items():
        try:
            codes[name] = orm.load_code(label or f"{name}@localhost")
        except (NotExistent, MultipleObjectsError, ValueError) as exc:
            if label:
                raise click.BadParameter(f"no code {label!r} ({exc}); codes: verdi code list -A",
                                         param_hint=f"--code-{name}") from None
    return codes


def _dry_run(builder, smiles: list[str], protocol: str) -> None:
    from aiida import orm

    from .jobs import amber_line, dry_run

    before = orm.QueryBuilder().append(orm.ProcessNode).count()
    try:
        jobs = dry_run(builder)
    except ValueError as exc:  # inputs that do not validate, options the scheduler refuses
        raise click.UsageError(f"invalid input: {exc}") from None
    stored = orm.QueryBuilder().append(orm.ProcessNode).count() - before
    click.echo(f"dry run of {builder._process_class.__name__} for {', '.join(smiles)} (protocol {protocol}): "
               f"the inputs are valid; {'nothing' if not stored else f'{stored} process nodes (!)'} stored, "
               f"nothing submitted.")
    for job in jobs:
        folder = os.path.relpath(job["folder"]) if not os.path.relpath(job["folder"]).startswith("..") \
            else job["folder"]
        click.echo(f"\n=== {job['name']}: {job['what']} — {job['code']} ({job['scheduler']})\n"
                   f"=== job script {os.path.join(folder, '_aiidasubmit.sh')} (input files beside it)")
        click.echo(job["script"].rstrip())
    if any("aiida-None" in job["script"] for job in jobs):
        click.echo("\n(job name aiida-None: a real job is named aiida-<PK> after its calculation)")
    line = amber_line(builder._inputs(prune=True))
    if line:
        click.echo(f"\n=== {line}")


def _daemon_problem() -> str | None:
    """Why a submission would not run now (no broker, or a ZeroMQ profile without its daemon), else None."""
    from aiida.manage import get_manager

    manager = get_manager()
    profile = manager.get_profile()
    backend = profile.process_control_backend
    start = f"start it with `verdi -p {profile.name} daemon start` (AIIDA_PATH={_aiida_path()})"
    if backend is None:
        return (f"the profile {profile.name!r} has no broker, so nothing can be submitted to a daemon: use the "
                f"project profile (aiida-polymer setup) or configure one (verdi profile configure-broker)")
    if not manager.get_daemon_client().is_daemon_running:
        if backend == "core.zeromq":
            return f"the daemon is not running: {start}, or use --wait (which starts one for the run)"
        click.echo(f"Warning: the daemon is not running: the run waits until you {start}", err=True)
    return None


def _submit(builder):
    """Submit to the daemon; no daemon or broker is a clean error."""
    from aiida.common.exceptions import InvalidOperation
    from aiida.engine import submit as submit_process

    problem = _daemon_problem()
    if problem:
        raise click.ClickException(problem)
    try:
        return submit_process(builder)
    except InvalidOperation as exc:
        text = str(exc)
        if "daemon is not running" in text:
            raise click.ClickException("the daemon is not running: start it with `verdi daemon start`, or use "
                                       "--wait") from None
        raise click.ClickException(f"cannot submit: {text}") from None


POLYMER_RUNS = ("aiida.workflows:polymer.properties", "aiida.workflows:polymer.equilibrate")


@cli.command()
@click.argument("pk", type=int)
def show(pk: int) -> None:
    """Print what a finished run built and its property table (or how it failed)."""
    _load_profile()
    from aiida import orm
    from aiida.common.exceptions import NotExistent

    try:
        node = orm.load_node(pk)
    except NotExistent:
        raise click.ClickException(f"no node with PK {pk} in the profile {_profile_name()!r} "
                                   f"(recent runs: aiida-polymer list)") from None
    if not isinstance(node, orm.ProcessNode):
        name = type(node).__name__
        raise click.ClickException(f"PK {pk} is {'an' if name[0] in 'AEIOU' else 'a'} {name} "
                                   f"({node.node_type.rstrip('.')}), not a polymer run: `verdi node show {pk}` "
                                   f"shows it; runs: aiida-polymer list")
    process = node.process_type or ""
    ours = process.split(":", 1)[-1].startswith("polymer.")
    if not ours:
        raise click.ClickException(f"PK {pk} is {_describe(node)}, not a polymer run: `verdi process show {pk}` "
                                   f"shows it; runs: aiida-polymer list")
    if not node.is_terminated:
        click.echo(f"{_describe(node)} is still {node.process_state.value if node.process_state else 'created'}: "
                   f"follow it with `verdi process report {pk}`; `aiida-polymer show {pk}` when it ends")
        return
    if not node.is_finished_ok:
        click.echo(format_failure(node))
        if "properties" in node.outputs:  # e.g. NEMD gates failed: the properties are output, flagged
            click.echo("\nWhat it output:\n")
            click.echo(_result(node))
        raise click.exceptions.Exit(1)
    if process in POLYMER_RUNS or "properties" in node.outputs:
        click.echo(_result(node))
    else:
        root = node.caller
        while root is not None and root.caller is not None:
            root = root.caller
        part = f"; part of {_describe(root)}: aiida-polymer show {root.pk}" if root else ""
        click.echo(f"{_describe(node)}, a step of a polymer run{part}\n\n{_footer(node)}")


def _result(node) -> str:
    if node.process_type in POLYMER_RUNS and ("equilibrate" in node.outputs or "cell" in node.outputs):
        return format_result(node)
    return "\n\n".join([format_properties(node.outputs.properties.get_dict(), True), _footer(node)])


def _describe(node) -> str:
    process = (node.process_type or "").split(":", 1)[-1]
    kind = f"{node.process_label}<{node.pk}>"
    return f"{kind} ({process})" if process and process != node.process_label else kind


def _footer(node) -> str:
    from aiida.common.links import LinkType

    links = node.base.links.get_outgoing(link_type=(LinkType.RETURN, LinkType.CREATE)).all()
    labels = sorted(f"{link.link_label}<{link.node.pk}>" for link in links)
    return (f"{node.process_label}<{node.pk}> [{node.exit_status}]; outputs: {', '.join(labels) or '(none)'}\n"
            f"Provenance graph: verdi node graph generate {node.pk}\nReport:           verdi process report {node.pk}")


def _failed(node) -> bool:
    return node.is_excepted or node.is_killed or (node.is_finished and not node.is_finished_ok)


def failing_stage(node):
    """The deepest failed process called (directly or not) by ``node``: the latest failed one at each level."""
    while True:
        failed = sorted((child for child in node.called if _failed(child)), key=lambda n: n.ctime)
        if not failed:
            return node
        node = failed[-1]


def _state(node) -> str:
    if node.is_excepted:
        last = [line for line in (node.exception or "").strip().splitlines() if line.strip()]
        return f"excepted: {last[-1].strip() if last else 'unknown error'}"
    if node.is_killed:
        return f"was killed: {node.process_status or 'no reason given'}"
    return f"failed [{node.exit_status}]: {node.exit_message or '(no exit message)'}"


def _report(node, limit: int = 40) -> list[str]:
    """The report messages (REPORT level and above) of ``node`` and what it called, oldest first; a stored
    traceback is cut to its last line."""
    from aiida.common.log import LOG_LEVEL_REPORT
    from aiida.orm.logs import Log

    nodes = [node, *node.called_descendants]
    entries = []
    for each in nodes:
        entries += [(entry, each) for entry in Log.collection.get_logs_for(each) if entry.loggername and
                    _level(entry.levelname) >= LOG_LEVEL_REPORT]
    entries.sort(key=lambda pair: pair[0].time)
    lines = []
    for entry, each in entries[-limit:]:
        message = entry.message.strip()
        if "Traceback (most recent call last)" in message:
            tail = [line for line in message.splitlines() if line.strip()]
            message = f"{message.split('Traceback')[0].strip()} {tail[-1].strip()} (full traceback: verdi process " \
                      f"report {each.pk})".strip()
        if not message.startswith("["):  # a process's report starts [PK|label|step]
            message = f"[{each.pk}|{each.process_label}]: {message}"
        level = "" if entry.levelname.upper() == "REPORT" else f"{entry.levelname.upper()} "
        lines.append(f"  {entry.time:%Y-%m-%d %H:%M:%S} {level}{message}")
    if len(entries) > limit:
        lines.insert(0, f"  ... ({len(entries) - limit} earlier messages: verdi process report {node.pk})")
    return lines


def _level(name: str) -> int:
    from aiida.common.log import LOG_LEVELS

    return LOG_LEVELS.get(name.upper(), 0)


def format_failure(node) -> str:
    """How a run failed: its exit status and message, the failing stage (the deepest failed process it called)
    with its own exit status and message, and the report of that stage."""
    lines = [f"{_describe(node)} {_state(node)}"]
    stage = failing_stage(node)
    if stage.pk != node.pk:
        label = stage.base.attributes.get("call_link_label", None) or _call_label(stage)
        lines.append(f"failing stage: {_describe(stage)}{f' {label!r}' if label else ''} {_state(stage)}")
    reported = stage if stage.node_type.startswith("process.workflow") or stage.caller is None else stage.caller
    report = _report(reported)
    lines.append(f"report of {_describe(reported)}:" if report else f"no report messages from {_describe(reported)}")
    lines += report
    lines.append(f"more: verdi process report {node.pk}; verdi process show {stage.pk}")
    return "\n".join(lines)


def _call_label(node) -> str | None:
    from aiida.common.links import LinkType

    link = node.base.links.get_incoming(link_type=(LinkType.CALL_CALC, LinkType.CALL_WORK)).first()
    return link.link_label if link else None


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
    """Submit to the daemon (started here if needed) and follow the reports until the run ends; a daemon started
    here is stopped once the run has ended. Ctrl-C (or any error while following) stops following only: the
    daemon keeps running the job, and how to follow it and to stop the daemon is printed."""
    import time

    from aiida.engine.daemon.client import get_daemon_client

    client = get_daemon_client()
    started = not client.is_daemon_running
    if started:
        try:
            client.start_daemon(number_workers=1)
        except Exception as exc:  # DaemonException, timeouts: say so instead of a traceback
            raise click.ClickException(f"could not start the daemon ({type(exc).__name__}: {exc}); start it "
                                       f"with `verdi daemon start` and check `verdi daemon status`") from None
    node = _submit(builder)
    click.echo(f"submitted {node.process_label}<{node.pk}> to the daemon; following its reports "
               f"(Ctrl-C stops following, not the job)")
    seen = 0
    try:
        while not node.is_terminated:
            time.sleep(2)
            seen = _echo_new_reports(node, seen)
        _echo_new_reports(node, seen)
    except (KeyboardInterrupt, Exception) as exc:
        started_here = " (started for this run)" if started else ""
        reason = "Ctrl-C" if isinstance(exc, KeyboardInterrupt) else f"{type(exc).__name__}: {exc}"
        click.echo(f"\nstopped following ({reason}); {node.process_label}<{node.pk}> keeps running in the daemon"
                   f"{started_here}.\n"
                   f"Follow it:       verdi process report {node.pk}   (or: verdi process watch {node.pk})\n"
                   f"Result:          aiida-polymer show {node.pk}\n"
                   f"Stop the daemon: verdi daemon stop   (once the run has ended: stopping it before interrupts "
                   f"the run)\n"
                   f"Kill the run:    verdi process kill {node.pk}")
        raise click.exceptions.Exit(130 if isinstance(exc, KeyboardInterrupt) else 1) from None
    if started:
        client.stop_daemon(wait=True)
    return node


def _echo_new_reports(node, seen: int) -> int:
    from aiida.orm.logs import Log

    logs = Log.collection.get_logs_for(node)
    for child in node.called_descendants:
        logs += Log.collection.get_logs_for(child)
    logs = sorted(logs, key=lambda entry: entry.time)
    for entry in logs[seen:]:
        click.echo(f"  {entry.time:%H:%M:%S} {entry.message}")
    return len(logs)


from .campaign import campaign  # noqa: E402  (the group uses this module's helpers)
from .design import design  # noqa: E402
from .export import export  # noqa: E402
from .gui import gui  # noqa: E402
from .plot import plot  # noqa: E402
from .query import query  # noqa: E402
from .validate import validate  # noqa: E402

cli.add_command(campaign)
cli.add_command(design)
cli.add_command(export)
cli.add_command(gui)
cli.add_command(plot)
cli.add_command(query)
cli.add_command(validate)
