"""The Follow page of one run: its state, current stage, process tree, reports and the thermo trace of its
latest MD job, refreshed while it runs."""

from __future__ import annotations

import threading
from html import escape

import ipywidgets as ipw

from .common import classed, header, page_link

REFRESH_SECONDS = 10.0


def current_stage(node) -> list[str]:
    """The chain of processes that are running now, from the run down to the deepest (labels with PKs)."""
    chain = []
    while node is not None:
        chain.append(f"{node.process_label}<{node.pk}>")
        running = [child for child in node.called if not child.is_terminated]
        node = max(running, key=lambda n: n.ctime) if running else None
    return chain


def latest_thermo(node):
    """(job, arrays) of the last LAMMPS job under ``node`` that returned a ``thermo`` output, else None."""
    from aiida import orm

    jobs = [n for n in node.called_descendants if isinstance(n, orm.CalcJobNode) and "thermo" in n.outputs]
    if not jobs:
        return None
    job = max(jobs, key=lambda n: n.ctime)
    thermo = job.outputs.thermo
    return job, {name: thermo.get_array(name) for name in thermo.get_arraynames()}


def thermo_png(arrays: dict, title: str) -> bytes:
    import io

    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    names = [n for n in ("temp", "density", "press", "etotal") if n in arrays]
    figure = Figure(figsize=(9, 2.2), dpi=80, layout="constrained")
    canvas = FigureCanvasAgg(figure)
    axes = figure.subplots(1, max(1, len(names)), squeeze=False).ravel()
    x = arrays.get("step")
    for ax, name in zip(axes, names, strict=False):
        ax.plot(x if x is not None else range(len(arrays[name])), arrays[name], lw=0.8)
        ax.set_title(name, fontsize=8)
        ax.tick_params(labelsize=6)
    figure.suptitle(title, fontsize=8)
    buffer = io.BytesIO()
    canvas.print_png(buffer)
    return buffer.getvalue()


def report_lines(node, limit: int = 60) -> list[str]:
    from ..cli import _report

    return _report(node, limit)


class FollowWidget(ipw.VBox):
    def __init__(self, pk: int | None = None, auto_refresh: bool = True, **kwargs):
        self.pk_input = classed(ipw.IntText(value=pk or 0, description="Run PK"), "polymer-follow-pk")
        self.open_button = ipw.Button(description="Follow", icon="eye")
        self.state = classed(ipw.HTML(), "polymer-follow-state")
        self.tree = classed(ipw.VBox(), "polymer-follow-tree")
        self.report = classed(ipw.HTML(), "polymer-follow-report")
        self.thermo = ipw.VBox()
        self.node = None
        self._auto = auto_refresh
        self._timer = None
        self.open_button.on_click(lambda _: self.follow(self.pk_input.value))
        super().__init__(children=[header("follow"), ipw.HTML("<h2>Follow</h2>"),
                                   ipw.HBox([self.pk_input, self.open_button]), self.state, self.tree,
                                   ipw.HTML("<h3>Thermo of the latest MD job</h3>"), self.thermo,
                                   ipw.HTML("<h3>Report</h3>"), self.report], **kwargs)
        self.add_class("polymer-page")
        if pk:
            self.follow(pk)

    def follow(self, pk: int) -> None:
        from aiida import orm
        from aiida.common.exceptions import NotExistent

        try:
            self.node = orm.load_node(pk)
        except NotExistent:
            self.state.value = f"<span class='polymer-error'>No node with PK {pk}.</span>"
            return
        try:  # aiidalab-widgets-base's live process tree, where it is installed
            with ipw.Output():  # what its import displays (styles, viewer scripts Voilà lacks) goes nowhere
                from aiidalab_widgets_base import ProcessNodesTreeWidget

            tree = ProcessNodesTreeWidget()
            tree.value = self.node.uuid
            self.tree.children = [tree]
        except ImportError:
            self.tree.children = []
        self.refresh()

    def refresh(self) -> None:
        node = self.node
        if node is None:
            return
        state = node.process_state.value if node.process_state else "created"
        stage = " → ".join(current_stage(node)) if not node.is_terminated else "(ended)"
        self.state.value = (f"<p><b>{escape(node.process_label or '')}&lt;{node.pk}&gt;</b>: {escape(state)}"
                            f"{f' [{node.exit_status}]' if node.is_finished else ''} — current stage: "
                            f"<code>{escape(stage)}</code> · {page_link('results', node.pk, 'Results')}</p>")
        self.report.value = "<pre>" + escape("\n".join(report_lines(node)) or "(no reports yet)") + "</pre>"
        found = latest_thermo(node)
        if found:
            job, arrays = found
            self.thermo.children = [ipw.Image(value=thermo_png(arrays, f"{job.process_label}<{job.pk}>"),
                                              format="png")]
        else:
            self.thermo.children = [ipw.HTML("no MD job has returned its thermo yet")]
        if self._auto and not node.is_terminated:
            self._timer = threading.Timer(REFRESH_SECONDS, self.refresh)
            self._timer.daemon = True
            self._timer.start()
