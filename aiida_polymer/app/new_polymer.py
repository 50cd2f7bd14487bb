"""The New polymer page: the repeat unit(s) checked as you type and drawn with their head and tail, the cell's
options, the protocol with its cost estimate, a code per stage, submit."""

from __future__ import annotations

import ipywidgets as ipw

from . import models
from .common import classed, header, page_link

STAGES = {"psi4": "Psi4 (QM: charges, polarizability)", "lmp": "LAMMPS (MD)", "antechamber": "antechamber (typing)",
          "parmchk2": "parmchk2 (parameters)"}


def code_choices(name: str) -> list[tuple[str, int]]:
    """(LABEL@COMPUTER, pk) of the codes that can run the stage ``name``: those of its plugin (``polymer.psi4``,
    ``polymer.lammps``; the AmberTools shell codes by their label)."""
    from aiida import orm

    from ..codes import PLUGINS

    builder = orm.QueryBuilder().append(orm.AbstractCode, filters={"attributes.input_plugin": PLUGINS[name]},
                                        project=["*"])
    codes = [code for (code,) in builder.all()]
    if PLUGINS[name] == "core.shell":
        codes = [code for code in codes if code.label.startswith(name)]
    return sorted(((code.full_label, code.pk) for code in codes), key=lambda item: (item[0] != f"{name}@localhost",
                                                                                    item[0]))


def submit_request(request: models.Request, codes: dict, submit=None):
    """Submit ``request`` (a checked :class:`~aiida_polymer.app.models.Request`) through the front door's
    builder; ``submit`` (default :func:`aiida.engine.submit`, after checking the daemon) is given the builder."""
    from ..workchains.properties import PropertiesWorkChain

    if not request.ok:
        raise ValueError("; ".join(request.errors))
    builder = PropertiesWorkChain.get_builder_from_protocol(
        codes, list(request.units), request.protocol, request.overrides or None, temperature=request.temperature,
        pressure=request.pressure)
    builder.metadata.label = "app: " + ".".join(request.units)
    if submit is None:
        from aiida.engine import submit as engine_submit

        from ..cli import _daemon_problem

        problem = _daemon_problem()
        if problem:
            raise RuntimeError(problem)
        submit = engine_submit
    return submit(builder)


class NewPolymerWidget(ipw.VBox):
    """The form. ``submit`` (tests) replaces :func:`aiida.engine.submit`; ``with_codes=False`` leaves the code
    choice out (no profile needed)."""

    def __init__(self, submit=None, with_codes: bool = True, **kwargs):
        self._submit = submit
        self.units = classed(ipw.Textarea(value="", placeholder="*CC(*)c1ccccc1   (several units: one per line)",
                                          description="Repeat unit", continuous_update=True,
                                          layout=ipw.Layout(width="560px", height="64px")), "polymer-smiles-input")
        self.message = classed(ipw.HTML(), "polymer-smiles-message")
        self.depiction = classed(ipw.HTML(), "polymer-depiction")
        self.tacticity = ipw.Dropdown(options=models.TACTICITIES, value="atactic", description="Tacticity")
        self.head_group = ipw.Text(placeholder="*C", description="Head group")
        self.tail_group = ipw.Text(placeholder="*C", description="Tail group")
        self.copolymer = ipw.Dropdown(options=models.COPOLYMERS, value="random", description="Copolymer")
        self.fractions = ipw.Text(placeholder="0.5, 0.5", description="Fractions")
        self.copolymer_box = ipw.HBox([self.copolymer, self.fractions], layout=ipw.Layout(display="none"))
        self.temperature = ipw.BoundedFloatText(value=300.0, min=1.0, max=2000.0, description="T (K)")
        self.pressure = ipw.BoundedFloatText(value=1.0, min=1e-3, max=1e5, description="P (atm)")
        self.protocol = classed(ipw.ToggleButtons(options=models.PROTOCOLS, value="fast", description="Protocol"),
                                "polymer-protocol")
        self.cores = ipw.BoundedIntText(value=2, min=1, max=100000, description="MD cores")
        self.cost = classed(ipw.HTML(), "polymer-cost")
        self.codes = {}
        if with_codes:
            for name, title in STAGES.items():
                choices = code_choices(name)
                self.codes[name] = ipw.Dropdown(options=choices, value=choices[0][1] if choices else None,
                                                description=name, description_tooltip=title,
                                                layout=ipw.Layout(width="420px"))
        self.submit_button = classed(ipw.Button(description="Submit", button_style="success", icon="play",
                                                disabled=True), "polymer-submit")
        self.status = classed(ipw.HTML(), "polymer-submit-status")
        self.submitted = None
        for widget in (self.units, self.head_group, self.tail_group, self.fractions, self.copolymer,
                       self.tacticity):
            widget.observe(self._changed, "value")
        for widget in (self.protocol, self.cores):
            widget.observe(self._cost, "value")
        self.submit_button.on_click(self._on_submit)
        missing = [name for name, widget in self.codes.items() if widget.value is None]
        hint = (f"<br><span class='polymer-error'>No code for {', '.join(missing)}: <code>aiida-polymer setup</code> "
                f"creates this machine's, <code>verdi code create</code> one on a cluster.</span>" if missing else "")
        codes_box = [ipw.HTML("<b>Codes</b> (the computer of each: QM on an x86 cluster, MD on Fugaku, ...)" + hint),
                     *self.codes.values()] if self.codes else []
        super().__init__(children=[
            header("new_polymer"), ipw.HTML("<h2>New polymer</h2>"), self.units, self.message, self.depiction,
            ipw.HBox([self.tacticity, self.head_group, self.tail_group]), self.copolymer_box,
            ipw.HBox([self.temperature, self.pressure]), self.protocol, self.cores, self.cost, *codes_box,
            self.submit_button, self.status], **kwargs)
        self.add_class("polymer-page")
        self._changed()

    # -- reactions -------------------------------------------------------------------------------------------
    def _changed(self, _=None) -> None:
        check = models.check_units(self.units.value)
        for name in ("polymer-ok", "polymer-error"):
            self.message.remove_class(name)
        if not self.units.value.strip():
            self.message.value = "Type a repeat unit: a SMILES with two * (head and tail), e.g. <code>*CC(*)C</code>"
        elif check.ok:
            self.message.add_class("polymer-ok")
            self.message.value = "✓ " + ", ".join(check.canonical) + " (RDKit canonical)"
        else:
            self.message.add_class("polymer-error")
            self.message.value = "<br>".join(_escape(e) for e in check.errors)
        self.depiction.value = (check.svg + "<div><span style='color:#d82626'>* head</span> · "
                                "<span style='color:#2659d8'>* tail</span></div>") if check.svg else ""
        self.copolymer_box.layout.display = "flex" if len(check.units) > 1 else "none"
        request = self.request()
        self.submit_button.disabled = not request.ok or (bool(self.codes) and not self._codes())
        if check.ok and not request.ok:
            self.message.remove_class("polymer-ok")
            self.message.add_class("polymer-error")
            self.message.value = "<br>".join(_escape(e) for e in request.errors)
        self._cost()

    def _cost(self, _=None) -> None:
        units = models.check_units(self.units.value, depict=False)
        estimate = models.cost_estimate(self.protocol.value, units.units if units.ok else ["*CC*"],
                                        cores=self.cores.value, overrides=self.request().overrides)
        self.cost.value = f"<b>Cost estimate</b> — {_escape(estimate.text())}"

    def request(self) -> models.Request:
        return models.make_request(self.units.value, self.protocol.value, self.tacticity.value,
                                   self.head_group.value, self.tail_group.value, self.copolymer.value,
                                   self.fractions.value, self.temperature.value, self.pressure.value)

    def _codes(self) -> dict:
        from aiida import orm

        return {name: orm.load_code(widget.value) for name, widget in self.codes.items() if widget.value is not None}

    def _on_submit(self, _=None) -> None:
        request = self.request()
        self.submit_button.disabled = True
        try:
            node = submit_request(request, self._codes(), submit=self._submit)
        except Exception as exc:  # shown on the page: the message says what to do
            self.status.value = f"<span class='polymer-error'>Not submitted: {_escape(str(exc))}</span>"
            self.submit_button.disabled = False
            return
        self.submitted = node
        self.status.value = (f"<span class='polymer-ok'>Submitted {node.process_label}&lt;{node.pk}&gt;.</span> "
                             f"{page_link('follow', node.pk, 'Follow it')} · "
                             f"{page_link('results', node.pk, 'its results')}")
        self.submit_button.disabled = False


def _escape(text: str) -> str:
    from html import escape

    return escape(text)
