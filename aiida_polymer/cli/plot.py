"""``aiida-polymer plot``: pictures of one run (``plot run PK``) and of a campaign (``plot campaign GROUP``)."""

from __future__ import annotations

import click

FORMAT = click.Choice(["png", "svg"])


@click.group("plot")
def plot() -> None:
    """Plots of a run or a campaign (PNG or SVG)."""


def _done(written) -> None:
    for path in written:
        click.echo(f"  {path}")


@plot.command("run")
@click.argument("pk", type=int)
@click.option("-o", "--output", "directory", required=True, type=click.Path(file_okay=False),
              help="Folder for thermo, compression, msd and nemd_profile.")
@click.option("--format", "fmt", type=FORMAT, default="png", show_default=True)
@click.option("--only", "only", multiple=True, type=click.Choice(["thermo", "compression", "msd", "nemd"]),
              help="Only these plots (repeatable); default all four.")
def plot_run(pk: int, directory: str, fmt: str, only: tuple[str, ...]) -> None:
    """The plots of the run PK: production thermo with the convergence window, density along the compression,
    the chains' MSD with the fitted window, the NEMD temperature profile with its fits.

    A plot whose data the run does not have (e.g. NEMD skipped) is named with the reason, and the command then
    exits with status 1 after writing the others."""
    from . import _load_profile

    _load_profile()
    from aiida import orm
    from aiida.common.exceptions import NotExistent

    from ..database.plot_data import RUN_PLOTS, render_run
    from ..database.plots import PlotError

    try:
        node = orm.load_node(pk)
    except NotExistent:
        raise click.ClickException(f"no node {pk} (runs: aiida-polymer list)") from None
    try:
        written, missing = render_run(node, directory, fmt, tuple(only) or RUN_PLOTS)
    except PlotError as exc:
        raise click.ClickException(str(exc)) from None
    if written:
        click.echo(f"plots of {node.process_label}<{pk}>:")
        _done(written)
    if missing:
        raise click.ClickException(
            "; ".join(f"no {name} plot for {pk}: {why}" for name, why in missing.items()))


@plot.command("campaign")
@click.argument("label")
@click.option("-o", "--output", "directory", required=True, type=click.Path(file_okay=False),
              help="Folder for distributions, scatter and parity_<reference>.")
@click.option("--format", "fmt", type=FORMAT, default="png", show_default=True)
@click.option("--pareto", default="thermal_conductivity,density", show_default=True,
              help="Two properties, comma-separated: the first is plotted against every other one and the "
                   "Pareto front of the pair is marked; larger is better unless the name starts with '-' "
                   "(e.g. thermal_conductivity,-density).")
@click.option("--reference", help="Parity plot against: experiment, radonpy (RadonPy's published PI1070 table) or a "
                                  "CSV file (columns smiles, property, value; optional spread, unit).")
@click.option("--include-gated", is_flag=True,
              help="Pareto front of every value, those that failed their own check (gated: not results) too; for "
                   "a look at plumbing runs such as the fast protocol's.")
def plot_campaign(label: str, directory: str, fmt: str, pareto: str, reference: str | None,
                  include_gated: bool) -> None:
    """The plots of the campaign (AiiDA group) LABEL: the distribution of every property, one property against
    the others with a Pareto front, and parity against a reference with MAE, bias and r."""
    from . import _load_profile

    _load_profile()
    from aiida import orm
    from aiida.common.exceptions import NotExistent

    from ..database.plot_data import render_campaign
    from ..database.plots import PlotError
    from ..database.reference import ReferenceDataError

    try:
        group = orm.Group.collection.get(label=label)
    except NotExistent:
        raise click.ClickException(f"no group {label!r} (groups: verdi group list)") from None
    try:
        made = render_campaign(group, directory, fmt, pareto, reference, include_gated)
    except (PlotError, ReferenceDataError) as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"plots of campaign {label!r}:")
    _done(made.files)
    among = "values, gated ones included" if include_gated else "results"
    click.echo(f"Pareto front of {pareto} ({among}): {', '.join(made.front) or 'none (no polymer has both)'}")
    for name, stats in made.parity.items():
        r = "-" if stats["r"] is None else f"{stats['r']:.3f}"
        click.echo(f"parity {name}: n={stats['n']} MAE={stats['mae']:.4g} bias={stats['bias']:+.4g} r={r} "
                   f"{stats['unit']}")
