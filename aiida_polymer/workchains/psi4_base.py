"""``polymer.psi4.base``: run one Psi4 calculation to completion, recovering from SCF and optimiser failures."""

from __future__ import annotations

from aiida import orm
from aiida.common import AttributeDict
from aiida.engine import BaseRestartWorkChain, ProcessHandlerReport, process_handler, while_
from aiida.plugins import CalculationFactory

from .exclusive import Exclusive

Psi4Calculation = CalculationFactory("polymer.psi4")

# Successive SCF remedies (options both psi4 1.3 and current versions accept): damping, then a different guess.
SCF_REMEDIES = (
    {"damping_percentage": 20.0},
    {"damping_percentage": 40.0, "guess": "gwh"},
    {"damping_percentage": 40.0, "guess": "core"},
)
MIN_SCF_MAXITER = 200


class Psi4BaseWorkChain(Exclusive, BaseRestartWorkChain):
    """SCF not converged: retry with more iterations, damping and another initial guess (one remedy per retry).
    Optimisation not converged: continue from the last geometry (up to ``max_iterations`` calculations in all)."""

    _process_class = Psi4Calculation

    @classmethod
    def define(cls, spec):
        super().define(spec)
        spec.expose_inputs(Psi4Calculation, namespace="psi4")
        spec.outline(cls.setup, while_(cls.should_run_process)(cls.run_process, cls.inspect_process), cls.results)
        spec.expose_outputs(Psi4Calculation)
        spec.exit_code(410, "ERROR_SCF_REMEDIES_EXHAUSTED", message="The SCF did not converge with any remedy.")
        spec.exit_code(420, "ERROR_NO_GEOMETRY", message="The optimisation did not converge and left no geometry.")

    def setup(self):
        super().setup()
        self.ctx.inputs = AttributeDict(self.exposed_inputs(Psi4Calculation, "psi4"))
        self.ctx.scf_remedy = 0

    def _update_parameters(self, **changes) -> dict:
        parameters = {**self.ctx.inputs.parameters.get_dict(), **changes}
        self.ctx.inputs.parameters = orm.Dict(parameters)
        return parameters

    @process_handler(priority=500, exit_codes=[Psi4Calculation.exit_codes.ERROR_SCF_NOT_CONVERGED])
    def handle_scf(self, node):
        """Apply the next SCF remedy with at least MIN_SCF_MAXITER (or twice the previous) iterations."""
        if self.ctx.scf_remedy >= len(SCF_REMEDIES):
            return ProcessHandlerReport(do_break=True, exit_code=self.exit_codes.ERROR_SCF_REMEDIES_EXHAUSTED)
        maxiter = max(MIN_SCF_MAXITER, 2 * int(self.ctx.inputs.parameters.get("maxiter") or 100))
        remedy = SCF_REMEDIES[self.ctx.scf_remedy]
        self.ctx.scf_remedy += 1
        self._update_parameters(maxiter=maxiter, **remedy)
        self.report(f"{node.process_label}<{node.pk}>: SCF not converged; retrying with maxiter {maxiter}, {remedy}")
        return ProcessHandlerReport(do_break=True)

    @process_handler(priority=400, exit_codes=[Psi4Calculation.exit_codes.ERROR_OPTIMIZATION_NOT_CONVERGED])
    def handle_optimization(self, node):
        """Continue the optimisation from the last geometry psi4 reached."""
        if "structure" not in node.outputs:
            self.report(f"{node.process_label}<{node.pk}>: optimisation not converged and no geometry to continue")
            return ProcessHandlerReport(do_break=True, exit_code=self.exit_codes.ERROR_NO_GEOMETRY)
        self.ctx.inputs.structure = node.outputs.structure
        self.report(f"{node.process_label}<{node.pk}>: optimisation not converged; continuing from its last geometry")
        return ProcessHandlerReport(do_break=True)
