"""``aiida-polymer gui``: the app's pages (``notebooks/``) served by Voilà inside a Jupyter server on 127.0.0.1,
with the project profile and Jupyter's token: a request without it is refused."""

from __future__ import annotations

import os
import secrets
import sys
from pathlib import Path

import click

HOST = "127.0.0.1"  # loopback only: the server is never open to the network
FIRST_PAGE = "notebooks/new_polymer.ipynb"
# Voilà renders the pages; nbclassic + appmode serve them as AiiDAlab does (/apps/notebooks/...); the rest is off
EXTENSIONS = {"voila": True, "nbclassic": True, "appmode": True, "jupyterlab": False, "notebook": False,
              "jupyter_lsp": False, "jupyter_server_terminals": False}


def server_command(root: str | Path, port: int, token: str) -> list[str]:
    """The Jupyter server's command line: Voilà's extension serves ``/voila/render/<notebook>``; the token is
    required for every page and API call; no browser is opened."""
    if not token:
        raise ValueError("the server needs a token")
    return [sys.executable, "-m", "jupyter_server", f"--ServerApp.ip={HOST}", f"--ServerApp.port={port}",
            "--ServerApp.port_retries=0", "--ServerApp.open_browser=False", "--ServerApp.allow_remote_access=False",
            f"--ServerApp.root_dir={root}", f"--IdentityProvider.token={token}",
            "--ServerApp.terminals_enabled=False", "--VoilaConfiguration.show_tracebacks=True",
            *(f"--ServerApp.jpserver_extensions={name}={on}" for name, on in EXTENSIONS.items()),
            *(["--ServerApp.allow_root=True"] if hasattr(os, "geteuid") and os.geteuid() == 0 else [])]


def page_url(port: int, token: str, page: str = FIRST_PAGE) -> str:
    return f"http://{HOST}:{port}/voila/render/{page}?token={token}"


@click.command("gui")
@click.option("--port", type=int, default=8899, show_default=True, help="Port on 127.0.0.1.")
@click.option("--token", envvar="AIIDA_POLYMER_GUI_TOKEN",
              help="Jupyter token (default: a new random one; env AIIDA_POLYMER_GUI_TOKEN).")
def gui(port: int, token: str | None) -> None:
    """Serve the app (New polymer, Follow, Results, Database) on 127.0.0.1 with the project profile; print its
    URL. Ctrl-C stops the server."""
    from . import REPOSITORY, _load_profile, _profile_name

    _load_profile()  # a missing profile is the usual one-line error with what to do
    from aiida import get_profile

    root = Path(REPOSITORY)
    if not (root / FIRST_PAGE).is_file():
        raise click.ClickException(f"the app's notebooks are not in {root / 'notebooks'}: run from a clone of the "
                                   f"repository (pip install -e '.[gui]')")
    token = token or secrets.token_hex(24)
    env = dict(os.environ, AIIDA_POLYMER_PROFILE=get_profile().name or _profile_name())
    click.echo(f"aiida-polymer app (profile {env['AIIDA_POLYMER_PROFILE']!r}), open in your browser:\n\n"
               f"  {page_url(port, token)}\n\n"
               f"Pages: new_polymer, follow, results, database (links at the top of each). "
               f"Serving on {HOST}:{port} only; Ctrl-C stops it.", err=False)
    sys.stdout.flush()
    command = server_command(root, port, token)
    os.execve(command[0], command, env)
