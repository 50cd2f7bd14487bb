"""``aiida-polymer query``: conditions, sort and columns over the polymer database, as a table or CSV."""

from __future__ import annotations

import click


class QueryUsageError(click.ClickException):
    """A query that cannot be run as asked: one line, ``Error: ...``, exit code 2 (a usage error)."""

    exit_code = 2


@click.command("query")
@click.argument("group", required=False)
@click.option("-w", "--where", "where", multiple=True, metavar="CONDITION",
              help="COLUMN OP VALUE, e.g. 'density>1.1' or protocol==fast (OP: > >= < <= == !=); repeat for and.")
@click.option("-s", "--sort", help="Columns to sort by, comma-separated; '-' first for descending "
                                   "(-thermal_conductivity). Default: by key.")
@click.option("-c", "--columns", help="Columns to show, comma-separated (default: pk, smiles, protocol, temperature, "
                                      "pressure, state and every property's value).")
@click.option("-n", "--limit", type=click.IntRange(min=0), help="At most this many rows (after sorting).")
@click.option("-f", "--format", "output_format", type=click.Choice(["table", "csv"]), default="table",
              show_default=True)
def query(group: str | None, where: tuple[str, ...], sort: str | None, columns: str | None, limit: int | None,
          output_format: str) -> None:
    """The polymers of the campaign GROUP (default: every polymer workflow of the profile) that meet every
    --where, sorted and with the columns asked for. Columns: the key fields (key, smiles, protocol,
    temperature, pressure, tacticity, head_group, tail_group, overrides_hash), pk, library_id, state,
    exit_status, workflow_uuid, properties_uuid and per property NAME, NAME_stderr, NAME_unit, NAME_flags."""
    from . import _load_profile

    _load_profile()
    from ..database.query import QueryError, UnknownGroupError
    from ..database.query import query as run_query

    try:
        frame = run_query(group, where=where, sort=sort, columns=columns)
    except UnknownGroupError as exc:
        raise click.ClickException(str(exc)) from None
    except QueryError as exc:
        raise QueryUsageError(str(exc)) from None
    if limit is not None:
        frame = frame.head(limit)
    if output_format == "csv":
        click.echo(frame.to_csv(index=False), nl=False)
    elif frame.empty:
        click.echo(f"no polymers match ({', '.join(frame.columns)})")
    else:
        click.echo(frame.to_string(index=False, na_rep="", float_format=lambda x: f"{x:.6g}"))
