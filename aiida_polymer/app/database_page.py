"""The Database page: the campaigns and their status, a filterable and sortable table of the polymers (each row
links to its results), and the scatter plot of two properties with their Pareto front (click a point to open its
results page)."""

from __future__ import annotations

import base64
import io
from html import escape

import ipywidgets as ipw
import numpy as np

from . import models
from .common import classed, header, page_link

TABLE_COLUMNS = ("pk", "smiles", "protocol", "temperature", "state", "density", "heat_capacity_cp",
                 "refractive_index", "dielectric_constant", "thermal_conductivity")
SHOWN_ROWS = 200  # rows drawn in the table (the count says how many matched)


def campaigns() -> list[dict]:
    """Every campaign group (a group with the campaign's settings) with its counts by state."""
    from aiida import orm

    from ..campaign.status import campaign_status
    from ..campaign.submission import SETTINGS

    builder = orm.QueryBuilder().append(orm.Group, filters={"extras": {"has_key": SETTINGS}}, project=["*"])
    found = []
    for (group,) in builder.all():
        try:
            status = campaign_status(group)
            counts = dict(status.counts)
        except Exception as exc:  # a campaign whose settings cannot be read: listed with the reason
            counts = {"unreadable": str(exc)}
        found.append({"label": group.label, "pk": group.pk, "counts": counts, "size": group.count()})
    return sorted(found, key=lambda c: c["label"])


def load_frame(group: str | None):
    """Every polymer of ``group`` (None: the profile) with all columns of :func:`aiida_polymer.database.query`
    that the page shows or plots."""
    from ..database.query import PARTS, PROPERTIES, query

    columns = ["pk", "key", "smiles", "protocol", "temperature", "pressure", "state", "exit_status", "library_id",
               *(f"{name}{part}" for name in PROPERTIES for part in PARTS)]
    return query(group or None, columns=columns)


def table_html(frame, limit: int = SHOWN_ROWS) -> str:
    """The rows (at most ``limit``) as an HTML table, the PK a link to the Results page."""
    columns = [c for c in TABLE_COLUMNS if c in frame.columns]
    head = "".join(f"<th style='text-align:left'>{escape(c)}</th>" for c in columns)
    body = []
    for row in frame.head(limit).to_dict("records"):
        cells = []
        for c in columns:
            value = row.get(c)
            if c == "pk":
                cells.append(f"<td>{page_link('results', int(value), str(int(value)))}</td>")
            elif isinstance(value, float):
                cells.append(f"<td>{'' if np.isnan(value) else f'{value:.4g}'}</td>")
            else:
                cells.append(f"<td>{escape('' if value is None else str(value))}</td>")
        body.append("<tr class='polymer-db-row'>" + "".join(cells) + "</tr>")
    more = f"<p>showing the first {limit} of {len(frame)}</p>" if len(frame) > limit else ""
    return (f"<p class='polymer-db-count'>{len(frame)} polymer{'s' if len(frame) != 1 else ''}</p>"
            f"<table class='polymer-db-table' style='border-collapse:collapse'><thead><tr>{head}</tr></thead>"
            f"<tbody>{''.join(body)}</tbody></table>{more}")


def scatter_html(frame, x: str, y: str, maximize: tuple[bool, bool] = (True, True)) -> str:
    """``y`` against ``x`` of the rows, gated values hollow and grey, the Pareto front of the pair (results only)
    red and joined; a PNG with an image map, so a click on a point opens that polymer's Results page."""
    try:
        from ..database import plots
    except ImportError as exc:  # aiida_polymer.database.plots draws the campaign plots; without it, say so
        return f"<p>Plots are not available: {escape(str(exc))}</p>"
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    rows = frame.to_dict("records")
    xs, ys = plots.column(rows, x), plots.column(rows, y)
    shown = xs["shown"] & ys["shown"]
    both = np.isfinite(xs["value"]) & np.isfinite(ys["value"])
    if not both.any():
        return f"<p class='polymer-scatter-empty'>No polymer has both {escape(x)} and {escape(y)}.</p>"
    front = plots.pareto_front(np.where(shown, xs["value"], np.nan), np.where(shown, ys["value"], np.nan), maximize)
    figure = Figure(figsize=(6.4, 4.4), dpi=90, layout="constrained")
    canvas = FigureCanvasAgg(figure)
    ax = figure.subplots()
    gated = both & ~shown
    ax.scatter(xs["value"][gated], ys["value"][gated], s=18, facecolors="white", edgecolors=plots.GATED,
               label="gated (not a result)")
    ax.scatter(xs["value"][shown & ~front], ys["value"][shown & ~front], s=18, color=plots.SHOWN, label="result")
    order = np.flatnonzero(front)
    order = order[np.argsort(xs["value"][order])]
    ax.plot(xs["value"][order], ys["value"][order], "o--", color=plots.FRONT, ms=5, lw=1, label="Pareto front")
    ax.set_xlabel(plots._label(x, xs["unit"]))
    ax.set_ylabel(plots._label(y, ys["unit"]))
    ax.set_title(f"{len(order)} on the Pareto front ("
                 + ", ".join(("max " if m else "min ") + n for n, m in zip((x, y), maximize, strict=True)) + ")",
                 fontsize=9)
    ax.legend(fontsize=7)
    canvas.draw()
    width, height = canvas.get_width_height()
    points = ax.transData.transform(np.column_stack([xs["value"][both], ys["value"][both]]))
    areas = []
    for (px, py), row in zip(points, [r for r, keep in zip(rows, both, strict=True) if keep], strict=True):
        title = escape(f"{row.get('smiles')} (PK {row['pk']})")
        areas.append(f"<area shape='circle' coords='{px:.0f},{height - py:.0f},6' href='results.ipynb?pk="
                     f"{int(row['pk'])}' target='_self' title='{title}' alt='{title}'>")
    buffer = io.BytesIO()
    canvas.print_png(buffer)
    image = base64.b64encode(buffer.getvalue()).decode()
    return (f"<img class='polymer-scatter' src='data:image/png;base64,{image}' usemap='#polymer-scatter-map' "
            f"width='{width}' height='{height}'><map name='polymer-scatter-map'>{''.join(areas)}</map>")


class DatabaseWidget(ipw.VBox):
    def __init__(self, **kwargs):
        from ..database.query import PROPERTIES

        found = campaigns()
        self.campaigns = classed(ipw.HTML(_campaigns_html(found)), "polymer-campaigns")
        self.group = classed(ipw.Dropdown(options=[("all polymers", "")] + [(c["label"], c["label"]) for c in found],
                                          value="", description="Campaign"), "polymer-db-group")
        self.where = classed(ipw.Text(placeholder="density>1.1, protocol==fast", description="Where",
                                      continuous_update=False, layout=ipw.Layout(width="420px")), "polymer-db-where")
        self.contains = classed(ipw.Text(placeholder="repeat unit contains", description="SMILES",
                                         continuous_update=False), "polymer-db-contains")
        self.sort = ipw.Dropdown(options=list(TABLE_COLUMNS), value="pk", description="Sort by")
        self.descending = ipw.Checkbox(value=False, description="descending", indent=False)
        self.message = classed(ipw.HTML(), "polymer-db-message")
        self.table = classed(ipw.HTML(), "polymer-db-results")
        self.x = ipw.Dropdown(options=PROPERTIES, value="density", description="x")
        self.y = ipw.Dropdown(options=PROPERTIES, value="thermal_conductivity", description="y")
        self.x_max = ipw.Checkbox(value=True, description="max x", indent=False)
        self.y_max = ipw.Checkbox(value=True, description="max y", indent=False)
        self.scatter = classed(ipw.HTML(), "polymer-db-scatter")
        self.frame = None
        self.group.observe(self._load, "value")
        for widget in (self.where, self.contains, self.sort, self.descending):
            widget.observe(self._refresh, "value")
        for widget in (self.x, self.y, self.x_max, self.y_max):
            widget.observe(self._refresh, "value")
        super().__init__(children=[
            header("database"), ipw.HTML("<h2>Database</h2><h3>Campaigns</h3>"), self.campaigns,
            ipw.HTML("<h3>Polymers</h3>"), ipw.HBox([self.group, self.sort, self.descending]),
            ipw.HBox([self.where, self.contains]), self.message, self.table,
            ipw.HTML("<h3>Pairwise plot and Pareto front</h3><p>Click a point to open its results.</p>"),
            ipw.HBox([self.x, self.x_max, self.y, self.y_max]), self.scatter], **kwargs)
        self.add_class("polymer-page")
        self._load()

    def _load(self, _=None) -> None:
        self.frame = load_frame(self.group.value)
        self._refresh()

    def _refresh(self, _=None) -> None:
        from ..database.query import QueryError

        sort = ("-" if self.descending.value else "") + self.sort.value
        try:
            frame = models.filter_frame(self.frame, self.where.value, self.contains.value, sort)
        except QueryError as exc:
            self.message.value = f"<span class='polymer-error'>{escape(str(exc))}</span>"
            return
        self.message.value = ""
        self.table.value = table_html(frame)
        self.scatter.value = scatter_html(frame, self.x.value, self.y.value, (self.x_max.value, self.y_max.value))


def _campaigns_html(found: list[dict]) -> str:
    if not found:
        return "<p>No campaign yet (<code>aiida-polymer campaign submit LIBRARY --group NAME</code>).</p>"
    rows = "".join(f"<tr><td>{escape(c['label'])}</td><td>{c['size']}</td><td>"
                   f"{escape(', '.join(f'{k}: {v}' for k, v in c['counts'].items()))}</td></tr>" for c in found)
    return ("<table class='polymer-db-table'><thead><tr><th style='text-align:left'>campaign</th>"
            "<th style='text-align:left'>workflows</th><th style='text-align:left'>states</th></tr></thead>"
            f"<tbody>{rows}</tbody></table>")
