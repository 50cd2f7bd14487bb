"""What every page shares: the profile, the page's query string, links between pages, the look."""

from __future__ import annotations

import os
from urllib.parse import urlparse

import ipywidgets as ipw

PROFILE_ENV = "AIIDA_POLYMER_PROFILE"  # set by `aiida-polymer gui`; unset in an AiiDAlab container: its default
PAGES = {"new_polymer": "New polymer", "follow": "Follow", "results": "Results", "database": "Database"}
STYLE = """<style>
.polymer-page { max-width: 1100px; }
.polymer-ok { color: #1a7f37; }
.polymer-error { color: #b42318; white-space: pre-wrap; }
.polymer-property-table td, .polymer-property-table th, .polymer-db-table td, .polymer-db-table th
  { padding: 2px 8px; border-bottom: 1px solid #ddd; }
.polymer-gated td { color: #888; }
.polymer-nav a { margin-right: 1.2em; }
</style>"""


def load_profile():
    """The profile of ``$AIIDA_POLYMER_PROFILE`` (as ``aiida-polymer gui`` sets it), else AiiDA's default one;
    nothing if one is loaded already."""
    from aiida import get_profile
    from aiida import load_profile as load

    if get_profile() is None:
        load(os.environ.get(PROFILE_ENV) or None)
    return get_profile()


def query_string() -> str:
    """The page's query string: Voilà gives it to the kernel as ``QUERY_STRING``; appmode defines
    ``jupyter_notebook_url`` in the notebook's namespace."""
    if os.environ.get("QUERY_STRING"):
        return os.environ["QUERY_STRING"]
    try:
        from IPython import get_ipython

        shell = get_ipython()
        url = shell.user_ns.get("jupyter_notebook_url", "") if shell is not None else ""
    except ImportError:  # pragma: no cover - IPython comes with ipywidgets
        url = ""
    return urlparse(url).query if url else ""


def page_link(page: str, pk: int | None = None, text: str | None = None) -> str:
    """A link to another page, relative, so it works under appmode and Voilà alike."""
    target = f"{page}.ipynb" + (f"?pk={pk}" if pk is not None else "")
    return f"<a href='{target}' target='_self' class='polymer-link-{page}'>{text or PAGES.get(page, page)}</a>"


def header(current: str) -> ipw.HTML:
    links = " ".join(f"<b>{title}</b>" if name == current else page_link(name) for name, title in PAGES.items())
    return ipw.HTML(STYLE + f"<div class='polymer-nav'>{links}</div>")


def classed(widget, *names: str):
    for name in names:
        widget.add_class(name)
    return widget
