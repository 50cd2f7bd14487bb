"""The Results page of one run: what it is, the property table (value ± standard error, unit, flags explained in
words), the run's plots, the provenance graph as a picture and downloads (the table as CSV, the run as an AiiDA
archive)."""

from __future__ import annotations

import base64
import csv
import io
import tempfile
from html import escape
from pathlib import Path

import ipywidgets as ipw

from . import models
from .common import classed, header, page_link


def properties_csv(table: dict) -> str:
    """The property table as CSV: name, value, stderr, unit, flags (``;``-separated), in SI units as stored."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["property", "value", "stderr", "unit", "flags"])
    for name, entry in table.items():
        writer.writerow([name, entry.get("value"), entry.get("stderr"), entry.get("unit") or "",
                         ";".join(entry.get("flags") or [])])
    return out.getvalue()


def data_link(data: bytes, filename: str, mime: str, text: str, css: str) -> str:
    encoded = base64.b64encode(data).decode()
    return f"<a download='{escape(filename)}' href='data:{mime};base64,{encoded}' class='{css}'>{escape(text)}</a>"


def describe(node) -> str:
    state = node.process_state.value if node.process_state else "created"
    if node.is_finished:
        state = "finished ok" if node.is_finished_ok else f"failed [{node.exit_status}]: {node.exit_message or ''}"
    key = node.base.extras.get("polymer_key", None) or node.description or ""
    return f"{node.process_label}&lt;{node.pk}&gt; — {escape(state)}" + (f" — <code>{escape(key)}</code>"
                                                                       if key else "")


def provenance_png(node) -> bytes | None:
    """The run, its inputs, outputs and the processes it called, drawn by AiiDA's graph tool (Graphviz); None
    without Graphviz."""
    import shutil

    if shutil.which("dot") is None:
        return None
    from aiida.tools.visualization import Graph

    graph = Graph(graph_attr={"rankdir": "LR", "size": "14,8"})
    graph.add_incoming(node, annotate_links="label")
    graph.add_outgoing(node, annotate_links="label")
    return graph.graphviz.pipe(format="png")


def run_plots(node) -> tuple[list[Path], dict[str, str]]:
    """The run's plots (thermo traces, compression, MSD, NEMD profile) as PNG files, and why each missing one is
    missing; the plotting is :mod:`aiida_polymer.database.plot_data`'s."""
    try:
        from ..database.plot_data import render_run
    except ImportError as exc:  # the plots module is not there (yet): say so instead of failing the page
        return [], {"plots": f"plotting not available ({exc})"}
    folder = Path(tempfile.mkdtemp(prefix="polymer-plots-"))
    return render_run(node, folder)


class ResultsWidget(ipw.VBox):
    """The results of the run ``pk`` (None: a field to type one and the recent runs)."""

    def __init__(self, pk: int | None = None, **kwargs):
        self.pk_input = classed(ipw.IntText(value=pk or 0, description="Run PK"), "polymer-results-pk")
        self.open_button = classed(ipw.Button(description="Open", icon="folder-open"), "polymer-results-open")
        self.body = classed(ipw.VBox(), "polymer-results-body")
        self.open_button.on_click(lambda _: self.show(self.pk_input.value))
        super().__init__(children=[header("results"), ipw.HTML("<h2>Results</h2>"),
                                   ipw.HBox([self.pk_input, self.open_button]), self.body], **kwargs)
        self.add_class("polymer-page")
        if pk:
            self.show(pk)
        else:
            self.body.children = [recent_runs_html()]

    def show(self, pk: int) -> None:
        from aiida import orm
        from aiida.common.exceptions import NotExistent

        try:
            node = orm.load_node(pk)
        except NotExistent:
            self.body.children = [ipw.HTML(f"<p class='polymer-error'>No node with PK {pk}.</p>"),
                                  recent_runs_html()]
            return
        if not isinstance(node, orm.WorkflowNode):
            self.body.children = [ipw.HTML(f"<p class='polymer-error'>PK {pk} is a {type(node).__name__}, not a "
                                           f"polymer run.</p>"), recent_runs_html()]
            return
        parts: list[ipw.Widget] = [ipw.HTML(f"<h3 class='polymer-results-title'>{describe(node)}</h3>"
                                            f"<p>{page_link('follow', node.pk, 'Follow / report')}</p>")]
        if "properties" in node.outputs:
            table = node.outputs.properties.get_dict()
            parts.append(classed(ipw.HTML(models.property_table_html(table)), "polymer-properties"))
            downloads = [data_link(properties_csv(table).encode(), f"polymer-{node.pk}-properties.csv", "text/csv",
                                   "properties (CSV)", "polymer-download-csv")]
            self.archive_button = classed(ipw.Button(description="Prepare archive (.aiida)", icon="download",
                                                     layout=ipw.Layout(width="auto")),
                                          "polymer-archive-button")
            self.archive_link = ipw.HTML()
            self.archive_button.on_click(lambda _: self._archive(node))
            parts.append(ipw.HBox([ipw.HTML("Downloads: " + " · ".join(downloads) + " · "), self.archive_button,
                                   self.archive_link]))
        else:
            parts.append(ipw.HTML("<p>No property table (yet): the run has not returned one.</p>"))
        plots = classed(ipw.VBox([ipw.HTML("<h3>Plots</h3>")]), "polymer-run-plots")
        files, missing = run_plots(node)
        plots.children += tuple(classed(ipw.Image(value=path.read_bytes(), format="png",
                                                  layout=ipw.Layout(max_width="1000px")), "polymer-plot")
                                for path in files)
        if missing:
            plots.children += (ipw.HTML("<ul>" + "".join(f"<li>{escape(name)}: {escape(why)}</li>"
                                                         for name, why in missing.items()) + "</ul>"),)
        parts.append(plots)
        graph = provenance_png(node)
        parts.append(ipw.HTML("<h3>Provenance</h3>"))
        parts.append(classed(ipw.Image(value=graph, format="png", layout=ipw.Layout(max_width="760px")),
                             "polymer-provenance") if graph else ipw.HTML("Graphviz (dot) is not installed."))
        self.body.children = parts

    def _archive(self, node) -> None:
        from aiida.tools.archive import create_archive

        self.archive_button.disabled = True
        path = Path(tempfile.mkdtemp(prefix="polymer-archive-")) / f"polymer-{node.pk}.aiida"
        create_archive([node], filename=path)
        self.archive_link.value = data_link(path.read_bytes(), path.name, "application/zip", path.name,
                                            "polymer-download-archive")


def recent_runs_html(limit: int = 20) -> ipw.HTML:
    from aiida import orm

    from ..cli import POLYMER_RUNS

    builder = orm.QueryBuilder().append(orm.WorkflowNode, filters={"process_type": {"in": list(POLYMER_RUNS)}},
                                        project=["id", "attributes.process_state", "description", "label"])
    builder.order_by({orm.WorkflowNode: {"id": "desc"}}).limit(limit)
    rows = "".join(f"<li>{page_link('results', pk, f'PK {pk}')} {escape(state or '')} "
                   f"<code>{escape((description or label or '')[:80])}</code></li>"
                   for pk, state, description, label in builder.all())
    return ipw.HTML(f"<p>Recent runs:</p><ul class='polymer-recent'>{rows or '<li>none yet</li>'}</ul>")
