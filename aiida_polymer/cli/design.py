"""``aiida-polymer design``: closed-loop design over a candidate library (Bayesian optimisation driving campaigns)."""

from __future__ import annotations

import json

import click

from ..chem.protocols import NAMES as PROTOCOLS


class DesignGroup(click.Group):
    """``design LIBRARY ...`` runs the loop (the ``run`` command); ``design status|plot|run ...`` the others."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if args and args[0] not in self.commands and args[0] not in ("--help", "-h"):
            args = ["run", *args]
        return super().parse_args(ctx, args)


@click.group(cls=DesignGroup)
def design() -> None:
    """Choose which polymers of a library to compute next, round by round, by Bayesian optimisation.

    \b
    aiida-polymer design LIBRARY --objective max:thermal_conductivity --budget 12 --batch 4 --group NAME
    aiida-polymer design status NAME
    aiida-polymer design plot NAME -o progress.png
    """


@design.command("run")
@click.argument("library", type=click.Path(exists=True, dir_okay=False))
@click.option("--objective", "objectives", multiple=True, required=True,
              help="max:PROPERTY, min:PROPERTY or window:PROPERTY:LOW:HIGH; twice for a Pareto front of two.")
@click.option("--constraint", "constraints", multiple=True, help="PROPERTY>VALUE (> >= < <=); repeatable.")
@click.option("--budget", type=click.IntRange(min=1), required=True, help="Polymers to compute in all.")
@click.option("--batch", type=click.IntRange(min=1), required=True, help="Polymers per round.")
@click.option("--group", "label", required=True, help="The design's name (its AiiDA group); same name = resume.")
@click.option("--protocol", default="fast", show_default=True, type=click.Choice(PROTOCOLS))
@click.option("--workflow", default="properties", show_default=True, type=click.Choice(["properties", "synthetic"]),
              help="properties: the whole pipeline; synthetic: the instant RDKit stand-in (tests, benchmarks).")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--max-concurrent", type=click.IntRange(min=1), help="Workflows running at once (default: the batch).")
@click.option("--overrides", help="JSON: protocol overrides, as for campaign submit (synthetic: {\"fail_smarts\": "
              "SMARTS}).")
@click.option("--code-psi4", help="psi4 code (LABEL@COMPUTER); default psi4@localhost.")
@click.option("--code-lmp", help="LAMMPS code; default lmp@localhost.")
@click.option("--code-antechamber", help="antechamber code; default antechamber@localhost.")
@click.option("--code-parmchk2", help="parmchk2 code; default parmchk2@localhost.")
@click.option("--watch", is_flag=True, help="Wait for each round and go on until the budget is spent.")
@click.option("--interval", type=click.FloatRange(min=0.5), default=10.0, show_default=True,
              help="Seconds between looks at the running round with --watch.")
@click.option("--rounds", "max_rounds", type=click.IntRange(min=1), help="Record at most this many new rounds.")
@click.option("--dry-run", is_flag=True, help="Check the objectives and the library and print the next round's "
              "picks; store and submit nothing.")
def run(library: str, objectives: tuple[str, ...], constraints: tuple[str, ...], budget: int, batch: int,
        label: str, protocol: str, workflow: str, seed: int, max_concurrent: int | None, overrides: str | None,
        code_psi4: str | None, code_lmp: str | None, code_antechamber: str | None, code_parmchk2: str | None,
        watch: bool, interval: float, max_rounds: int | None, dry_run: bool) -> None:
    """Start or resume the design GROUP over LIBRARY (CSV with id and smiles columns, or a SMILES file)."""
    from . import _daemon_problem, _load_profile

    if dry_run and watch:
        raise click.UsageError("--dry-run submits nothing: it cannot --watch")
    try:
        parsed_overrides = json.loads(overrides) if overrides else {}
    except json.JSONDecodeError as exc:
        raise click.BadParameter(f"not JSON: {exc}", param_hint="--overrides") from None
    from ..campaign.library import LibraryError
    from ..design.rounds import DesignError, parse_goals

    try:
        parse_goals(objectives, constraints)  # before the profile: bad text is a usage error
    except DesignError as exc:
        raise click.BadParameter(str(exc), param_hint="--objective/--constraint") from None
    _load_profile()
    from ..design import rounds

    arguments = dict(budget=budget, batch=batch, workflow=workflow, protocol=protocol, seed=seed,
                     overrides=parsed_overrides, max_concurrent=max_concurrent)
    codes = {name: value for name, value in (("psi4", code_psi4), ("lmp", code_lmp),
                                             ("antechamber", code_antechamber), ("parmchk2", code_parmchk2)) if value}
    from ..campaign.submission import CampaignError, Settings, load_codes

    try:
        load_codes(Settings(workflow=workflow, codes=codes))  # a missing code is named before anything is stored
        if dry_run:
            click.echo(_dry_run(label, library, objectives, constraints, arguments))
            return
        problem = _daemon_problem()
        if problem:
            raise click.ClickException(problem)
        rounds.run_design(label, library, objectives, constraints, watch=watch, interval=interval,
                          max_rounds=max_rounds, echo=click.echo, codes=codes, **arguments)
    except (DesignError, LibraryError, CampaignError) as exc:
        raise click.ClickException(str(exc)) from None
    except KeyboardInterrupt:
        click.echo(f"stopped; the runs go on. Resume with the same command; aiida-polymer design status {label}")
        raise click.exceptions.Exit(130) from None


def _dry_run(label: str, library: str, objectives, constraints, arguments: dict) -> str:
    """The next round's picks, proposed as the round record would, with nothing stored."""
    from aiida import orm
    from aiida.common.exceptions import NotExistent

    from ..design import rounds

    goals, limits = rounds.parse_goals(objectives, constraints)
    digest = rounds.sha256(library)
    design = rounds.Design(objectives=goals, constraints=limits, budget=arguments["budget"], batch=arguments["batch"],
                           seed=arguments["seed"], workflow=arguments["workflow"], protocol=arguments["protocol"],
                           overrides=arguments["overrides"], library_sha256=digest,
                           library_name=library.rsplit("/", 1)[-1])
    try:
        group = orm.Group.collection.get(label=label)
    except NotExistent:
        group = None
    number, training, config = 1, {}, None
    if group is not None:
        stored = rounds.load_design(group)
        changed = [name for name in rounds.FIXED if getattr(stored, name) != getattr(design, name)]
        if changed:
            raise rounds.DesignError(f"design {label!r} was started with another {', '.join(changed)}")
        records = rounds.round_records(label)
        number = (records[-1].outputs.result["round"] + 1) if records else 1
        inputs = rounds.round_inputs(group, stored, number, stored.batch)
        config = inputs["settings"].get_dict()
        training = {name: node.get_dict() for name, node in inputs.items() if name.startswith("train_")}
    if config is None:
        config = {"group": label, "batch": design.batch, "objectives": design.objectives,
                  "constraints": design.constraints, "seed": design.seed, "protocol": design.protocol,
                  "workflow": design.workflow, "temperature": design.temperature, "pressure": design.pressure,
                  "overrides": design.overrides, "chunk": design.chunk, "library_sha256": digest,
                  "library_name": design.library_name, "training": {}, "excluded": [], "exclude": {},
                  "known_keys": {}, "invalid_lines": [line for line, _, _ in rounds.check_library(library)[2]]}
    from contextlib import contextmanager

    @contextmanager
    def open_library():
        with open(library, encoding="utf-8-sig", errors="replace") as handle:
            yield handle

    result = rounds.propose_round({**config, "round": number}, open_library, training)
    lines = [f"dry run of design {label!r}, round {number}: nothing stored, nothing submitted",
             f"trained on {len(result['training']['polymers'])} polymers, {len(result['excluded'])} excluded; model "
             f"{result['model_hash'] or result['model'].get('mode', '')}"]
    lines += [f"  pick {p['id']} (line {p['line']}): {p['smiles']}  score {p['score']}" for p in result["picks"]]
    lines += [f"  dropped {d['id']}: {d['reason']}" for d in result["dropped"]]
    if result["skipped_rows"]:
        lines.append("skipped rows: " + ", ".join(f"{n} {why}" for why, n in result["skipped_rows"].items()))
    return "\n".join(lines)


@design.command("status")
@click.argument("label")
def status(label: str) -> None:
    """Rounds (picks, finished, failed, running, model hash), best so far, what was excluded and why."""
    from . import _load_profile

    _load_profile()
    from ..design.rounds import DesignError, design_status, format_status

    try:
        click.echo(format_status(design_status(label)))
    except DesignError as exc:
        raise click.ClickException(str(exc)) from None


@design.command("plot")
@click.argument("label")
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False), help="FILE.png or FILE.svg.")
def plot(label: str, output: str) -> None:
    """Best objective so far against the number of polymers computed."""
    from . import _load_profile

    _load_profile()
    from ..database.plots import PlotError
    from ..design.rounds import DesignError, plot_design

    try:
        click.echo(f"  {plot_design(label, output)}")
    except (DesignError, PlotError) as exc:
        raise click.ClickException(str(exc)) from None
