"""``polymer.thermal_conductivity``: Müller-Plathe reverse NEMD on an equilibrated cell (RadonPy's protocol)."""

from __future__ import annotations

from typing import Any

import numpy as np
from aiida import orm
from aiida.common import AttributeDict
from aiida.engine import ToContext, WorkChain, if_, while_
from aiida.plugins import CalculationFactory, WorkflowFactory

from ..calcfunctions.nemd import compute_thermal_conductivity, skipped_thermal_conductivity
from ..chem import nemd, protocols
from ..chem.analysis import density as analysis_density
from ..chem.lammps_input import PHASE, describe
from ..chem.lammps_io import read_data
from .exclusive import Exclusive

LammpsBaseWorkChain = WorkflowFactory("polymer.lammps.base")
LammpsCalculation = CalculationFactory("polymer.lammps")
STAGE_INPUTS = ("lammps.stage", "lammps.data_file", "lammps.parent_folder")


class ThermalConductivityWorkChain(Exclusive, WorkChain):
    """Replicate the equilibrated cell (default 3×1×1), thermalise it with new velocities (NVT), then run NVE with
    Müller-Plathe kinetic-energy swaps and analyse the slab temperature profile and the exchanged energy
    (:mod:`aiida_polymer.chem.nemd`). The two stages run as one ``polymer.lammps.base`` job (a phase;
    ``md.fused: false``: one each), which continues after a walltime or a killed job like every stage (the NEMD
    outputs of the pieces are joined).

    Given the equilibration's ``equilibrium_properties`` and/or ``convergence``, a cell that did not converge or whose
    chains are aligned (nematic order ≥ 0.1) is skipped: ``properties`` then holds no values, flagged ``skipped``.
    """

    @classmethod
    def define(cls, spec):
        super().define(spec)
        spec.input(
            "final_data",
            valid_type=orm.SinglefileData,
            required=False,
            help="The equilibrated cell (a data file with velocities, e.g. polymer.equilibrate's final_data).",
        )
        spec.input(
            "parent_folder",
            valid_type=orm.RemoteData,
            required=False,
            help="Or the folder of the equilibration's last LAMMPS run (its final.data is used).",
        )
        spec.expose_inputs(LammpsBaseWorkChain, namespace="md", exclude=STAGE_INPUTS)
        spec.inputs["md"]["lammps"].validator = None  # data_file / parent_folder are set per stage here
        spec.input(
            "protocol",
            valid_type=orm.Dict,
            default=lambda: orm.Dict(nemd.protocol()),
            validator=cls._validate_protocol,
            help="Expanded protocol settings (see aiida_polymer/protocols/nemd.yaml), checked against its schema "
            "(aiida_polymer/chem/protocol_schema.py); default: moderate.",
        )
        spec.input(
            "density",
            valid_type=orm.Float,
            required=False,
            help="The equilibrium (mean) density in g/cm³: the cell is rescaled to it before the NVT start (the "
            "last frame of a production run is off by the volume fluctuation), and it is used for the diffusivity. "
            "Default: no rescaling, the mean density of the NEMD run.",
        )
        spec.input(
            "heat_capacity",
            valid_type=orm.Float,
            required=False,
            help="Isobaric specific heat Cp (J/(kg K)); with it the thermal diffusivity κ/(ρ Cp) is output.",
        )
        spec.input(
            "equilibrium_properties",
            valid_type=orm.Dict,
            required=False,
            help="Properties of the equilibration (nematic_order and flags are checked before running).",
        )
        spec.input(
            "convergence",
            valid_type=orm.Dict,
            required=False,
            help="The equilibration's convergence checks; not converged: skip.",
        )
        spec.inputs.validator = cls._validate_inputs
        spec.outline(
            cls.setup,
            if_(cls.should_run)(
                while_(cls.has_stage)(cls.run_stage, cls.inspect_stage),
                cls.analyse,
            ).else_(cls.skip),
        )
        spec.output(
            "properties",
            valid_type=orm.Dict,
            help="{thermal_conductivity, thermal_diffusivity: {value, unit, stderr, flags}}.",
        )
        spec.output(
            "nemd",
            valid_type=orm.Dict,
            required=False,
            help="The analysis: gradient, flux, r² of both halves (mean profile and blocks), profile, flags.",
        )
        spec.exit_code(201, "ERROR_INVALID_PROTOCOL", message="Invalid protocol settings: {message}")
        spec.exit_code(401, "ERROR_STAGE_FAILED", message="MD stage {stage} failed: {message}")
        spec.exit_code(
            402,
            "ERROR_NO_NEMD_OUTPUT",
            message="The NEMD run left no temperature profile or exchanged energy: {message}",
        )
        spec.exit_code(403, "ERROR_ANALYSIS_FAILED", message="The NEMD analysis failed: {message}")
        spec.exit_code(
            410,
            "ERROR_NONLINEAR_PROFILE",
            message="The temperature profile failed the linearity gates "
            "({flags}); the properties are output and flagged.",
        )

    @staticmethod
    def _validate_protocol(value: orm.Dict, _) -> str | None:
        """The schema's message for a protocol Dict that does not fit it (refused before anything runs)."""
        return protocols.check(value.get_dict(), nemd.PROTOCOL_FILE)

    @staticmethod
    def _validate_inputs(inputs, _):
        if ("final_data" in inputs) == ("parent_folder" in inputs):
            return "give exactly one of `final_data` or `parent_folder`"
        return None

    @staticmethod
    def should_skip(properties: dict[str, Any] | None, convergence: dict[str, Any] | None) -> str | None:
        """Why NEMD should not be run on this equilibrated cell (see :func:`aiida_polymer.chem.nemd.skip_reason`)."""
        return nemd.skip_reason(properties, convergence)

    @classmethod
    def get_builder_from_protocol(
        cls,
        code: orm.AbstractCode,
        final_data: orm.SinglefileData | None = None,
        parent_folder: orm.RemoteData | None = None,
        protocol: str | None = None,
        overrides: dict | None = None,
        options: dict | None = None,
    ):
        """A builder with ``fast``/``moderate``/``precise`` settings; ``overrides`` are merged recursively into the
        protocol (e.g. ``{"nemd": {"method": "langevin"}}``); a bad key raises
        :class:`~aiida_polymer.chem.protocols.ProtocolError` naming it."""
        builder = cls.get_builder()
        if final_data is not None:
            builder.final_data = final_data
        if parent_folder is not None:
            builder.parent_folder = parent_folder
        builder.md.lammps.code = code
        builder.md.lammps.metadata.options = options or {
            "resources": {"num_machines": 1, "num_mpiprocs_per_machine": 1}
        }
        builder.protocol = orm.Dict(nemd.protocol(protocol, overrides))
        return builder

    def setup(self):
        settings = self.inputs.protocol.get_dict()
        try:
            stages = nemd.stages(settings)
            analysis = nemd.analysis_parameters(settings)
        except (KeyError, TypeError, ValueError) as exc:
            return self.exit_codes.ERROR_INVALID_PROTOCOL.format(message=repr(exc))
        self.ctx.stages = [s.to_dict() for s in stages]
        if "density" in self.inputs:  # start at the mean density, not the last frame's
            self.ctx.stages[0]["rescale_density"] = self.inputs.density.value
            if "final_data" in self.inputs:
                data = read_data(self.inputs.final_data.get_content())
                last = analysis_density(data.total_mass, float(np.prod(data.box)))
                self.report(f"the cell is rescaled from the last frame's density {last:.4f} to the mean "
                            f"{self.inputs.density.value:.4f} g/cm³")
        if settings["md"].get("fused", True):  # one job: the NVT thermalisation and the NEMD run as a phase
            self.ctx.stages = [{"name": "nemd_phase", PHASE: self.ctx.stages}]
        self.ctx.analysis = analysis
        self.ctx.previous = None
        self.ctx.runs = []
        self.ctx.reason = self.should_skip(
            self.inputs.equilibrium_properties.get_dict() if "equilibrium_properties" in self.inputs else None,
            self.inputs.convergence.get_dict() if "convergence" in self.inputs else None,
        )
        return None

    def should_run(self):
        return self.ctx.reason is None

    def skip(self):
        self.report(f"NEMD skipped: {self.ctx.reason}")
        self.out("properties", skipped_thermal_conductivity(orm.Str(self.ctx.reason)))

    def has_stage(self):
        return bool(self.ctx.stages)

    def run_stage(self):
        stage = self.ctx.stages[0]
        inputs = AttributeDict(self.exposed_inputs(LammpsBaseWorkChain, "md"))
        inputs.lammps = AttributeDict(inputs.lammps)
        inputs.lammps.stage = orm.Dict(stage)
        if self.ctx.previous is not None:
            inputs.lammps.parent_folder = self.ctx.previous.outputs.remote_folder
        elif "final_data" in self.inputs:
            inputs.lammps.data_file = self.inputs.final_data
        else:
            inputs.lammps.parent_folder = self.inputs.parent_folder
        inputs.metadata = {"call_link_label": stage["name"]}
        self.report(f"launching {stage['name']} ({describe(stage)})")
        return ToContext(stage=self.submit(LammpsBaseWorkChain, **inputs))

    def inspect_stage(self):
        stage = self.ctx.stages.pop(0)
        node = self.ctx.stage
        if not node.is_finished_ok:
            return self.exit_codes.ERROR_STAGE_FAILED.format(stage=stage["name"], message=node.exit_message)
        self.ctx.previous = node
        self.ctx.runs.append(node)
        return None

    def analyse(self):
        outputs = self.ctx.previous.outputs  # a stage run in pieces has its series joined by polymer.lammps.base
        if "nemd_profile" not in outputs or "nemd_flux" not in outputs:
            return self.exit_codes.ERROR_NO_NEMD_OUTPUT.format(message="no nemd_profile or nemd_flux output")
        arrays = {name: outputs[name] for name in ("thermo", "nemd_profile", "nemd_flux", "nemd_heat_flux")
                  if name in outputs}
        parameters = {**self.ctx.analysis, "units": "real", "timestep": float(outputs.output_parameters["timestep"])}
        for key in ("density", "heat_capacity"):
            if key in self.inputs:
                parameters[key] = self.inputs[key].value
        if "density" in self.inputs:
            parameters["rescaled_to_density"] = self.inputs.density.value
        if any(stage.outputs.output_parameters.get("cutoff_exceeds_half_box") for stage in self.ctx.runs):
            self.report("WARNING: the pair cut-off exceeded half the box: atoms interact with their own images")
            parameters["flags"] = ["cutoff_exceeds_half_box"]
        results, node = compute_thermal_conductivity.run_get_node(parameters=orm.Dict(parameters), **arrays)
        if not node.is_finished_ok:
            return self.exit_codes.ERROR_ANALYSIS_FAILED.format(message=node.exit_message)
        self.out("properties", results["properties"])
        self.out("nemd", results["nemd"])
        analysis = results["nemd"].get_dict()
        kappa = analysis["kappa"]
        self.report(
            f"kappa = {kappa['value']} ± {kappa['stderr']} {kappa['unit']} (r² of the halves "
            f"{', '.join(f'{r:.3f}' for r in analysis['r2'])}; flags: {analysis['flags'] or 'none'})"
        )
        if (parts := analysis.get("decomposition")) and "error" in parts:
            self.report(f"no heat-flux decomposition: {parts['error']}")
        elif parts:
            shares = ", ".join(f"{t} {v['fraction']:.0%}" for t, v in parts["terms"].items() if v["fraction"])
            closure = "n/a" if parts["closure"] is None else f"{parts['closure']:.3f}"
            self.report(f"heat flux by term: {shares}; microscopic/imposed flux {closure}")
        if not analysis["passed"]:
            return self.exit_codes.ERROR_NONLINEAR_PROFILE.format(flags=", ".join(analysis["flags"]))
        return None
