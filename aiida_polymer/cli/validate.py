"""``aiida-polymer validate``: compute a reference set as a campaign (``validate run``) and compare a campaign's
results with experiment and RadonPy's published table (``validate report``)."""

from __future__ import annotations

import shlex
import sys
from pathlib import Path

import click

from ..chem.protocols import NAMES as PROTOCOLS

SHIPPED = ("experiment", "radonpy")
RADONPY_GUARD = 20  # polymers: a larger RadonPy set needs --only or --all


@click.group("validate")
def validate() -> None:
    """Validation against experiment and RadonPy (Hayashi et al., npj Comput. Mater. 8, 222 (2022))."""


def _references(reference: str):
    """The references of REFERENCE: the shipped experiment or RadonPy set, or a CSV in either format."""
    from ..database import validation as v

    if reference == "experiment":
        return v.read_experiment()
    if reference == "radonpy":
        return v.read_radonpy()
    path = Path(reference)
    if not path.is_file():
        raise click.BadParameter(f"{reference!r} is neither experiment, radonpy nor a file", param_hint="REFERENCE")
    import csv

    with open(path, encoding="utf-8-sig", newline="") as handle:
        header = next(csv.reader(handle), [])
    is_radonpy = "monomer_ID" in header or "density_std" in header
    return v.read_radonpy(path) if is_radonpy else v.read_experiment(path)


@validate.command("run")
@click.argument("reference")
@click.option("--group", "label", required=True, help="The campaign's name (its AiiDA group); same name = resume.")
@click.option("--protocol", default="moderate", show_default=True, type=click.Choice(PROTOCOLS))
@click.option("--max-concurrent", type=click.IntRange(min=1), help="Workflows running at once (default 4).")
@click.option("--only", help="Comma-separated polymer names / RadonPy ids or SMILES of the reference to compute "
                             "(default: all of them).")
@click.option("--all", "everything", is_flag=True, help=f"Every polymer of a reference with more than "
                                                         f"{RADONPY_GUARD} (RadonPy's shipped set has 272).")
@click.option("--library", "library_path", type=click.Path(dir_okay=False),
              help="Where to write the campaign library (default <GROUP>-library.csv here).")
@click.option("--overrides", help="JSON merged into the protocol (e.g. another cell seed for a replicate).")
@click.option("--code-psi4", help="psi4 code (LABEL@COMPUTER); default psi4@localhost.")
@click.option("--code-lmp", help="LAMMPS code; default lmp@localhost.")
@click.option("--code-antechamber", help="antechamber code; default antechamber@localhost.")
@click.option("--code-parmchk2", help="parmchk2 code; default parmchk2@localhost.")
@click.option("--dry-run", is_flag=True, help="Write the library and print what would be submitted; submit nothing.")
@click.option("--watch", is_flag=True, help="Keep topping the campaign up until all runs have ended.")
@click.pass_context
def run(ctx: click.Context, reference: str, label: str, protocol: str, max_concurrent: int | None, only: str | None,
        everything: bool, library_path: str | None, overrides: str | None, code_psi4: str | None,
        code_lmp: str | None, code_antechamber: str | None, code_parmchk2: str | None, dry_run: bool,
        watch: bool) -> None:
    """Compute the polymers of REFERENCE (experiment, radonpy, or a CSV in the format of either) as the campaign
    GROUP at 300 K and 1 atm: writes the campaign library (one row per repeat unit) and submits it as
    `aiida-polymer campaign submit` does. Then: aiida-polymer validate report GROUP -o DIR."""
    from ..database import validation as v
    from .campaign import submit as campaign_submit

    try:
        rows = v.library_rows(_references(reference), only.split(",") if only else None)
    except v.ValidationError as exc:
        raise click.ClickException(str(exc)) from None
    if not rows:
        raise click.ClickException(f"reference {reference!r} has no polymer with a property the pipeline computes")
    if len(rows) > RADONPY_GUARD and not only and not everything:
        raise click.ClickException(f"reference {reference!r} has {len(rows)} polymers: choose some with --only "
                                   f"(names, ids or SMILES), or give --all")
    path = Path(library_path or f"{label}-library.csv")
    v.write_table(rows, ["id", "smiles", "reference_name"], path)
    click.echo(f"library of {len(rows)} polymers from {reference}: {path}")
    ctx.invoke(campaign_submit, library=str(path), label=label, protocol=protocol, max_concurrent=max_concurrent,
               overrides=overrides, code_psi4=code_psi4, code_lmp=code_lmp, code_antechamber=code_antechamber,
               code_parmchk2=code_parmchk2, dry_run=dry_run, watch=watch)


@validate.command("report")
@click.argument("groups", nargs=-1)
@click.option("--table", "tables", multiple=True, type=click.Path(exists=True, dir_okay=False),
              help="An exported campaign table (polymers.csv of aiida-polymer export) instead of, or as well as, "
                   "GROUPS; repeatable.")
@click.option("-o", "--output", "directory", required=True, type=click.Path(file_okay=False),
              help="Folder for validation.csv, stats.csv, parity_experiment/parity_radonpy and summary.md.")
@click.option("--experiment", default="experiment", show_default=True,
              help="Experimental reference: the shipped set (experiment), a CSV in the format of "
                   "experimental_dev.csv, or none.")
@click.option("--radonpy", default="radonpy", show_default=True,
              help="RadonPy reference: the shipped table (radonpy: units of at most 10 heavy atoms), a CSV in the "
                   "format of RadonPy's PI1070.csv, or none.")
@click.option("--format", "fmt", type=click.Choice(["png", "svg"]), default="png", show_default=True)
def report(groups: tuple[str, ...], tables: tuple[str, ...], directory: str, experiment: str, radonpy: str,
           fmt: str) -> None:
    """Compare the results of the campaign(s) GROUPS with experiment and RadonPy: per polymer and property ours
    ± SE (± run-to-run SD over replicates: the same polymer in several GROUPS), experiment (ranges kept) and
    RadonPy ± SD; per property MAE, bias, Pearson and Spearman r, the fraction within RadonPy's SD and the
    distance to experimental ranges; parity plots and a markdown summary. Rows of the same unit and protocol are
    pooled as replicates whatever their overrides: report protocol variants separately."""
    from ..database import validation as v

    for name, value, shipped in (("--experiment", experiment, "experiment"), ("--radonpy", radonpy, "radonpy")):
        if value not in (shipped, "none") and not Path(value).is_file():
            raise click.BadParameter(f"{value!r}: no such file (give {shipped}, none or a CSV file)",
                                     param_hint=name)
    if not groups and not tables:
        raise click.UsageError("give the campaign(s) GROUPS or an exported --table")
    rows, properties = [], []
    for path in tables:
        try:
            table_rows, names = v.read_table(path)
        except v.ValidationError as exc:
            raise click.ClickException(str(exc)) from None
        rows += table_rows
        properties += [name for name in names if name not in properties]
    if groups:
        from . import _load_profile

        _load_profile()
        from aiida import orm
        from aiida.common.exceptions import NotExistent

        from ..database.table import campaign_table

        for label in groups:
            try:
                group = orm.Group.collection.get(label=label)
            except NotExistent:
                raise click.ClickException(f"no group {label!r} (groups: verdi group list)") from None
            table = campaign_table(group)
            rows += table.rows
            properties += [name for name in table.properties if name not in properties]
    groups = groups + tuple(Path(path).name for path in tables)
    if not rows:
        raise click.ClickException(f"no polymer in {', '.join(groups)}")
    units = sorted({str(row.get("smiles") or "") for row in rows})
    try:
        exp = v.index_references(v.read_experiment(None if experiment == "experiment" else experiment), True) \
            if experiment != "none" else {}
        rad = v.index_references(v.read_radonpy(None if radonpy == "radonpy" else radonpy, wanted=units), False) \
            if radonpy != "none" else {}
        result = v.validation_rows(rows, properties, exp, rad)
    except v.ValidationError as exc:
        raise click.ClickException(str(exc)) from None
    if not result.rows:
        raise click.ClickException(f"no polymer of {', '.join(groups)} at 300 K and 1 atm has a reference value "
                                   f"({len(rows)} polymers; without a reference: {', '.join(result.unmatched[:5])}"
                                   f"{' ...' if len(result.unmatched) > 5 else ''})")
    command = "aiida-polymer validate report " + " ".join(shlex.quote(a) for a in sys.argv[3:]) \
        if sys.argv[1:3] == ["validate", "report"] else \
        f"aiida-polymer validate report {' '.join(groups)} -o {directory}"
    written = v.write_report(result, directory, f"validation of {', '.join(groups)}", [command], fmt)
    click.echo(f"validation of {', '.join(groups)}: {len({r['smiles'] for r in result.rows})} polymers with a "
               f"reference, {len(result.rows)} polymer x property rows")
    for s in result.stats:
        within = "" if s["within_sd_fraction"] is None else f" within SD {s['within_sd_fraction']:.2f}"
        inside = "" if s["in_range_fraction"] is None else f" in range {s['in_range_fraction']:.2f}"
        rel = "" if s["relative_bias"] is None else f" ({100 * s['relative_bias']:+.1f} %)"
        click.echo(f"  {s['protocol']} {s['property']} {s['compared']}: n={s['n']} MAE={s['mae']:.4g} "
                   f"bias={s['bias']:+.4g}{rel}{within}{inside} {s['unit']}")
    if result.unmatched:
        click.echo(f"no reference for: {', '.join(result.unmatched)}")
    if result.skipped:
        click.echo(f"not at 300 K and 1 atm, left out: {', '.join(result.skipped)}")
    for path in written:
        click.echo(f"  {path}")
