"""``aiida-polymer campaign``: many polymers as one AiiDA group (submit, status, retry, cancel, repair, close, open)."""

from __future__ import annotations

import json
import time

import click

from ..chem.protocols import NAMES as PROTOCOLS
from .tables import grid


@click.group()
def campaign() -> None:
    """Compute a library of polymers (CSV or SMILES file) as one campaign: an AiiDA group, throttled."""


@campaign.command("submit")
@click.argument("library", type=click.Path(exists=True, dir_okay=False))
@click.option("--group", "label", required=True, help="The campaign's name (its AiiDA group); same name = resume.")
@click.option("--protocol", default="moderate", show_default=True, type=click.Choice(PROTOCOLS))
@click.option("--workflow", default="properties", show_default=True, type=click.Choice(["properties", "cell"]),
              help="properties: the whole pipeline; cell: only the amorphous cell (GAFF2 typing and packing).")
@click.option("--max-concurrent", type=click.IntRange(min=1), help="Workflows running at once (default 4, or the "
              "campaign's).")
@click.option("--code-psi4", help="psi4 code (LABEL@COMPUTER); default psi4@localhost.")
@click.option("--code-lmp", help="LAMMPS code; default lmp@localhost.")
@click.option("--code-antechamber", help="antechamber code; default antechamber@localhost.")
@click.option("--code-parmchk2", help="parmchk2 code; default parmchk2@localhost.")
@click.option("--options-file", type=click.Path(exists=True, dir_okay=False),
              help="YAML: metadata.options per code or stage, as for `aiida-polymer submit`.")
@click.option("--overrides", help="JSON merged into the protocol, as get_builder_from_protocol's overrides.")
@click.option("--temperature", type=float, default=300.0, show_default=True, help="K.")
@click.option("--pressure", type=float, default=1.0, show_default=True, help="atm.")
@click.option("--dry-run", is_flag=True, help="Check every row and print what would be submitted, linked to an "
              "existing run, or rejected (with line numbers); store and submit nothing.")
@click.option("--watch", is_flag=True, help="Keep topping the campaign up as runs finish, until all have ended.")
@click.option("--interval", type=click.FloatRange(min=0.5), default=60.0, show_default=True,
              help="Seconds between top-ups with --watch.")
@click.option("--repair-after", type=click.FloatRange(min=60), help="With --watch and the RabbitMQ broker: when no "
              "active workflow of the campaign (nor any of their processes) has changed for this many seconds, run "
              "`campaign repair` (daemon stopped, every active process given exactly one task, daemon started). "
              "Longer than any job's queue wait plus run time; off by default.")
def submit(library: str, label: str, protocol: str, workflow: str, max_concurrent: int | None,
           code_psi4: str | None, code_lmp: str | None, code_antechamber: str | None, code_parmchk2: str | None,
           options_file: str | None, overrides: str | None, temperature: float, pressure: float, dry_run: bool,
           watch: bool, interval: float, repair_after: float | None) -> None:
    """Submit (or resume) the campaign GROUP over LIBRARY; running it again loses and duplicates nothing."""
    from . import _daemon_problem, _load_profile

    if dry_run and watch:
        raise click.UsageError("--dry-run submits nothing: it cannot --watch")
    if repair_after and not watch:
        raise click.UsageError("--repair-after acts while watching: add --watch (or run campaign repair)")
    try:
        parsed_overrides = json.loads(overrides) if overrides else {}
    except json.JSONDecodeError as exc:
        raise click.BadParameter(f"not JSON: {exc}", param_hint="--overrides") from None
    _load_profile()
    from ..campaign.library import LibraryError, read_library
    from ..campaign.submission import CampaignError, Settings, load_codes, plan, prepare

    try:
        entries, rejected = read_library(library)
    except LibraryError as exc:
        raise click.BadParameter(str(exc), param_hint="LIBRARY") from None
    codes = {name: value for name, value in (("psi4", code_psi4), ("lmp", code_lmp),
                                             ("antechamber", code_antechamber), ("parmchk2", code_parmchk2)) if value}
    settings = Settings(protocol=protocol, workflow=workflow, codes=codes, overrides=parsed_overrides,
                        temperature=temperature, pressure=pressure, max_concurrent=max_concurrent,
                        library=str(library))
    try:
        settings.options = _options(settings, load_codes(settings), options_file)
        if dry_run:
            _print_plan(label, plan(label, entries, rejected, settings), settings)
            return
        problem = _daemon_problem()
        if problem:
            raise click.ClickException(problem)
        group = _while_locked(lambda: prepare(label, entries, rejected, settings), LOCK_PATIENCE)
    except CampaignError as exc:
        raise click.ClickException(str(exc)) from None
    for row in rejected:
        click.echo(f"rejected line {row.line} ({row.id or 'no id'}): {row.reason}")
    _top_up(group, max_concurrent, watch, interval, repair_after)


def _options(settings, codes: dict, options_file: str | None) -> dict:
    from .jobs import OptionsFileError, job_options, read_options_file

    if not options_file:
        return {}
    try:
        return job_options(codes, settings.protocol, read_options_file(options_file),
                           source=f"options file {options_file}")
    except OptionsFileError as exc:
        raise click.BadParameter(str(exc), param_hint="--options-file") from None


LOCK_PATIENCE = 120.0  # s: how long a command without --watch waits for SQLite's write lock


def _while_locked(action, patience: float | None, pause: float = 2.0):
    """``action()``, tried again while SQLite's write lock is held by the daemon's workers (for ``patience``
    seconds; None: for ever); then a clean error instead of ``database is locked``."""
    from aiida.manage import get_manager
    from sqlalchemy.exc import OperationalError

    start = time.monotonic()
    while True:
        try:
            return action()
        except OperationalError as exc:
            if "locked" not in str(exc):
                raise
            get_manager().get_profile_storage().get_session().rollback()
            if patience is not None and time.monotonic() - start > patience:
                raise click.ClickException(
                    f"the database stayed locked by the daemon's workers for {patience:g} s; run the same command "
                    f"again (nothing is lost or duplicated), or use a PostgreSQL profile for large campaigns "
                    f"(aiida-polymer setup --production)") from None
            click.echo(f"the database is busy (locked by the daemon's workers); trying again in {pause:g} s")
            time.sleep(pause)


def _top_up(group, max_concurrent: int | None, watch: bool, interval: float, repair_after: float | None = None) -> None:
    from ..campaign.submission import Batch, submit_batch

    last_repair = time.monotonic()
    while True:
        attempt = Batch()  # kept across the retries of one top-up (what a failed try adopted stays reported)
        batch = _while_locked(lambda attempt=attempt: submit_batch(group, max_concurrent, attempt),
                              None if watch else LOCK_PATIENCE,
                              interval if watch else 2.0)
        for what, keys in (("adopted (found again after an interruption)", batch.adopted),
                           ("linked (already computed or running)", batch.linked), ("submitted", batch.submitted)):
            for key, pk in keys.items():
                click.echo(f"{what}: <{pk}> {key}")
        for key, reason in batch.rejected.items():
            click.echo(f"rejected {key}: {reason}")
        click.echo(f"campaign {group.label!r}: {batch.active} active, {batch.left} to submit"
                   + ("" if watch else f"; aiida-polymer campaign status {group.label}"))
        if not watch or (batch.active == 0 and batch.left == 0):
            return
        if repair_after and time.monotonic() - last_repair > repair_after and _stalled(group, repair_after):
            click.echo(f"no active workflow of campaign {group.label!r} changed for {repair_after:g} s: repairing")
            _repair(group)
            last_repair = time.monotonic()
        try:
            time.sleep(interval)
        except KeyboardInterrupt:
            click.echo(f"stopped watching; the runs go on. Resume with the same command; "
                       f"aiida-polymer campaign status {group.label}")
            raise click.exceptions.Exit(130) from None


def _print_plan(label: str, result, settings) -> None:
    rows = []
    for key, entries in result.submit.items():
        rows += [[str(e["line"]), e["id"], "submit", key] for e in entries[:1]]
        rows += [[str(e["line"]), e["id"], f"same polymer as line {entries[0]['line']}: linked", key]
                 for e in entries[1:]]
    for what, found in (("linked to", result.linked), ("already in the campaign as", result.in_campaign)):
        for key, (pk, entries) in found.items():
            rows += [[str(e["line"]), e["id"], f"{what} <{pk}>", key] for e in entries]
    rows += [[str(r["line"]), r["id"] or "", "rejected", r["reason"]] for r in result.rejected]
    rows.sort(key=lambda r: int(r[0]))
    click.echo(f"dry run of campaign {label!r} ({settings.workflow}, protocol {settings.protocol}, "
               f"{settings.temperature:g} K, {settings.pressure:g} atm): nothing stored, nothing submitted")
    click.echo("\n".join(grid(["line", "id", "action", "polymer key / reason"], rows)))
    click.echo(f"\n{len(result.submit)} to submit (at most {settings.max_concurrent or 4} at a time), "
               f"{len(result.linked)} linked to existing runs, {len(result.in_campaign)} already in the campaign, "
               f"{len(result.rejected)} rejected")


@campaign.command("status")
@click.argument("label")
def status(label: str) -> None:
    """Counts by state, exit codes with messages, time used and left, slowest stages, failures."""
    group = _group(label)
    from ..campaign.status import campaign_status

    click.echo(format_status(campaign_status(group)))


def format_status(s) -> str:
    lines = [f"campaign {s.label!r}: {s.keys} polymers ({s.rows} library rows, {s.rejected} rejected)",
             *grid(["state", "count"], [[state, str(n)] for state, n in s.counts.items()])]
    if s.exit_codes:
        lines += ["", "failures by exit code:",
                  *grid(["code", "count", "message"], [[str(c), str(n), m] for c, m, n in s.exit_codes])]
    eta = "unknown (fewer than two finished)" if s.eta_hours is None else f"{s.eta_hours:.2f} h"
    lines += ["", f"wall time {s.wall_hours:.2f} h (finished workflows), CPU time {s.cpu_hours:.2f} core-h (jobs), "
                  f"estimated time to finish {eta}"]
    if s.jobs:
        lines.append(f"jobs per finished polymer: {sum(s.jobs.values()):.1f} ("
                     + ", ".join(f"{name} {n:.1f}" for name, n in s.jobs.items()) + ")")
    if s.slowest:
        lines += ["slowest stages (mean job time):",
                  *(f"  {stage}: {hours * 3600:.0f} s over {n} jobs" for stage, hours, n in s.slowest)]
    if s.failures:
        lines += ["", "failed:", *(f"  <{pk}> {ident}: {reason}" for pk, ident, reason in s.failures[:20])]
        if len(s.failures) > 20:
            lines.append(f"  ... and {len(s.failures) - 20} more")
        lines.append(f"retry them: aiida-polymer campaign retry {s.label} [--exit-code CODE]")
    return "\n".join(lines)


@campaign.command("retry")
@click.argument("label")
@click.option("--exit-code", "exit_codes", multiple=True,
              help="Only failures with this exit code (a number, or excepted / killed); repeatable.")
@click.option("--protocol", type=click.Choice(PROTOCOLS), help="Retry them at this protocol instead.")
def retry(label: str, exit_codes: tuple[str, ...], protocol: str | None) -> None:
    """Resubmit the failed polymers (the failed runs are kept in the group LABEL/failed)."""
    group = _group(label)
    from ..campaign.submission import retry as retry_failed

    failed = _while_locked(lambda: retry_failed(group, exit_codes, protocol), LOCK_PATIENCE)
    if not failed:
        click.echo(f"campaign {label!r}: nothing to retry" + (f" with exit code {', '.join(exit_codes)}"
                                                              if exit_codes else ""))
        return
    for pk, key, code in failed:
        at = f" at protocol {protocol}" if protocol else ""
        click.echo(f"retrying {key}{at} (was <{pk}>, {code}; kept in group {label}/failed)")
    from . import _daemon_problem

    problem = _daemon_problem()
    if problem:
        raise click.ClickException(problem)
    _top_up(group, None, False, 0)


@campaign.command("cancel")
@click.argument("label")
def cancel(label: str) -> None:
    """Kill the campaign's running workflows; `retry --exit-code killed` resubmits them later."""
    group = _group(label)
    from ..campaign.submission import cancel as cancel_campaign

    asked, active = _while_locked(lambda: cancel_campaign(group), LOCK_PATIENCE)
    click.echo(f"campaign {label!r}: asked {len(asked)} active workflows to stop"
               + (f" ({', '.join(str(pk) for pk in asked)})" if asked else ""))
    if active:
        raise click.ClickException(f"{len(active)} did not stop ({', '.join(str(pk) for pk in active)}): is the "
                                   f"daemon running (verdi daemon status)? Run the command again once it is.")


@campaign.command("repair")
@click.argument("label")
@click.option("--dry-run", is_flag=True, help="Stop and start the daemon all the same, but only say what it would "
              "change in the broker's queue.")
def repair(label: str, dry_run: bool) -> None:
    """Revive workflows that lost their task (RabbitMQ): stop the daemon, give every active process of the profile
    exactly one task (drop tasks of ended processes and duplicates), start the daemon with as many workers."""
    group = _group(label)
    _repair(group, dry_run)


def _stalled(group, quiet_for: float) -> bool:
    from ..campaign.repair import stalled
    from ..campaign.submission import ACTIVE, group_workflows

    nodes = group_workflows(group, "*", {"attributes.process_state": {"in": list(ACTIVE)}}).all(flat=True)
    return stalled(nodes, quiet_for)


def _repair(group, dry_run: bool = False) -> None:
    from ..campaign.repair import RepairError
    from ..campaign.repair import repair as repair_profile
    from ..campaign.submission import ACTIVE, group_workflows

    try:
        done = repair_profile(dry_run=dry_run)
    except RepairError as exc:
        raise click.ClickException(str(exc)) from None
    ours = set(group_workflows(group, "id", {"attributes.process_state": {"in": list(ACTIVE)}}).all(flat=True))
    click.echo(done.summary())
    revived = sorted(ours & set(done.revived))
    click.echo(f"campaign {group.label!r}: {len(ours)} active workflows; {'would revive' if dry_run else 'revived'} "
               f"{len(revived)}" + (f" ({', '.join(str(pk) for pk in revived)})" if revived else ""))


@campaign.command("close")
@click.argument("label")
def close(label: str) -> None:
    """Mark the campaign closed: `aiida-polymer export --public` refuses it."""
    from ..database.access import set_closed

    set_closed(_group(label), True)
    click.echo(f"campaign {label!r} is closed: export --public refuses it")


@campaign.command("open")
@click.argument("label")
def open_(label: str) -> None:
    """Mark the campaign open: `aiida-polymer export --public` may export it."""
    from ..database.access import set_closed

    set_closed(_group(label), False)
    click.echo(f"campaign {label!r} is open: export --public may export it")


def _group(label: str):
    from . import _load_profile

    _load_profile()
    from aiida import orm
    from aiida.common.exceptions import NotExistent

    from ..campaign.submission import SETTINGS

    try:
        group = orm.Group.collection.get(label=label)
    except NotExistent:
        raise click.ClickException(f"no campaign {label!r} (campaigns: verdi group list)") from None
    if SETTINGS not in group.base.extras:
        raise click.ClickException(f"group {label!r} is not a campaign")
    return group
