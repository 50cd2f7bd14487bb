"""``aiida-polymer export``: a campaign's table (CSV, Parquet, datapackage.json) and its provenance archive."""

from __future__ import annotations

import click


@click.command("export")
@click.argument("label")
@click.option(
    "-o",
    "--output",
    "directory",
    required=True,
    type=click.Path(file_okay=False),
    help="Folder to write polymers.csv, polymers.parquet, datapackage.json and provenance.aiida to.",
)
@click.option("--long", "long_format", is_flag=True, help="Also the long table (one row per polymer x property).")
@click.option(
    "--public",
    is_flag=True,
    help="For outside the site: refuse a closed campaign; strip user e-mails, "
    "hostnames, work directories and usernames from the table and the archive.",
)
@click.option("--no-archive", is_flag=True, help="Without the provenance archive.")
def export(label: str, directory: str, long_format: bool, public: bool, no_archive: bool) -> None:
    """Export the campaign (AiiDA group) LABEL for reuse."""
    from . import _load_profile

    _load_profile()
    from aiida import orm
    from aiida.common.exceptions import NotExistent

    from ..database.export import ExportError, export_group

    try:
        group = orm.Group.collection.get(label=label)
    except NotExistent:
        raise click.ClickException(f"no group {label!r} (groups: verdi group list)") from None
    try:
        written = export_group(group, directory, long=long_format, public=public, archive=not no_archive)
    except ExportError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"exported {label!r}" + (" (public)" if public else "") + ":")
    for path in written:
        click.echo(f"  {path}")
