"""``polymer.lammps``: one MD stage in LAMMPS, from a data file or from a previous run's folder."""

from __future__ import annotations

from aiida import orm
from aiida.common import datastructures
from aiida.engine import CalcJob

from ..chem.lammps_input import (
    FINAL_DATA,
    FINAL_RESTART,
    NEMD_FILES,
    OUTPUT_FILES,
    PHASE,
    UNIAXIAL_FILES,
    VDOS_FILE,
    StageError,
    render,
    render_phase,
    stages_of,
)
from ..workchains.exclusive import Exclusive

INPUT, LOG, DATA, PARENT_DATA, PARENT_RESTART = "in.lammps", "log.lammps", "system.data", "parent.data", \
    "parent.restart"
TIMEOUT_MARGIN = 0.93  # LAMMPS stops itself (and writes its final files) at this fraction of the walltime


def _validate_stage(value: orm.Dict, _) -> str | None:
    try:
        stages_of(value.get_dict())
    except (StageError, TypeError) as exc:
        return f"invalid stage: {exc}"
    return None


def _validate_inputs(inputs, _) -> str | None:
    if ("data_file" in inputs) == ("parent_folder" in inputs):
        return "give exactly one of `data_file` or `parent_folder`"
    return None


def timeout_seconds(seconds: int | None) -> int | None:
    """Seconds LAMMPS may run, leaving it time to write its restart before the scheduler's walltime."""
    return int(seconds * TIMEOUT_MARGIN) if seconds else None


def timeout_for(seconds: int | None) -> str | None:
    """``timer timeout`` value (HH:MM:SS) of :func:`timeout_seconds`."""
    left = timeout_seconds(seconds)
    return None if left is None else f"{left // 3600}:{left % 3600 // 60:02d}:{left % 60:02d}"


class LammpsCalculation(Exclusive, CalcJob):
    """Run one stage (see :class:`aiida_polymer.chem.lammps_input.Stage`), or a phase of several, with
    ``lmp -in in.lammps``.

    With ``parent_folder``, ``settings['continuation']`` chooses between resuming the same stage from a restart
    file (``settings['restart_file']``, default ``final.restart``) and starting a new stage from the parent's
    data file (``settings['data_file']``, default ``final.data``).
    """

    @classmethod
    def define(cls, spec):
        super().define(spec)
        spec.input("stage", valid_type=orm.Dict, validator=_validate_stage, help="The stage specification.")
        spec.input("data_file", valid_type=orm.SinglefileData, required=False, help="LAMMPS data file to start from.")
        spec.input("parent_folder", valid_type=orm.RemoteData, required=False,
                   help="Folder of a previous run: its final.data (new stage) or a restart file (continuation).")
        spec.input("settings", valid_type=orm.Dict, required=False,
                   help="continuation (bool), restart_file (str), data_file (str), cmdline (list of extra lmp "
                        "arguments), omp_threads (int).")
        spec.inputs.validator = _validate_inputs
        options = spec.inputs["metadata"]["options"]
        options["parser_name"].default = "polymer.lammps"
        options["resources"].default = {"num_machines": 1, "num_mpiprocs_per_machine": 1}
        options["withmpi"].default = True

        spec.output("thermo", valid_type=orm.ArrayData, help="Thermo time series, one array per column (of a "
                    "phase: its last stage's).")
        spec.output_namespace("stage_thermo", valid_type=orm.ArrayData, dynamic=True,
                              help="A phase: the thermo series of each stage that ran, by stage name.")
        spec.output("rg", valid_type=orm.ArrayData, required=False,
                    help="Per-chain radius of gyration: step, time (fs), values (frames, chains) in Å.")
        spec.output("com", valid_type=orm.ArrayData, required=False,
                    help="Per-chain unwrapped centre of mass: step, time (fs), values (frames, chains, 3) in Å.")
        spec.output("dipole", valid_type=orm.ArrayData, required=False,
                    help="Total dipole moment: step, time (fs), dipole (frames, 3) in e·Å.")
        spec.output("nemd_profile", valid_type=orm.ArrayData, required=False,
                    help="NEMD slab temperature frames: step, time, coord (reduced), count and temp (frames, slabs).")
        spec.output("nemd_flux", valid_type=orm.ArrayData, required=False,
                    help="NEMD cumulative exchanged kinetic energy: step, time and energy.")
        spec.output("nemd_heat_flux", valid_type=orm.ArrayData, required=False,
                    help="NEMD per-slab heat flux by term (nemd decompose): step, time and one (frames, slabs) array "
                         "per term, kcal/mol·Å/fs summed over the slab's atoms.")
        spec.output("deformation", valid_type=orm.ArrayData, required=False,
                    help="Uniaxial deformation (a stage with uniaxial settings): step, time, strain (frames, 3: the "
                         "engineering strains of lx, ly, lz), pressure (frames, 3: Pxx, Pyy, Pzz in atm), temp.")
        spec.output("vdos", valid_type=orm.ArrayData, required=False,
                    help="Vibrational density of states (frequency THz, dos) of a stage with vdos settings; its "
                         "attributes: the quantum correction of the specific heat (J/(kg K)) and its stderr.")
        spec.output("final_data", valid_type=orm.SinglefileData, required=False, help="write_data at the end.")
        spec.output("output_parameters", valid_type=orm.Dict, help="Summary: steps, completion, timing, version.")
        spec.default_output_node = "output_parameters"

        spec.exit_code(301, "ERROR_NO_LOG", message="log.lammps was not retrieved: LAMMPS did not start.")
        spec.exit_code(302, "ERROR_LOG_UNPARSABLE", message="log.lammps could not be parsed: {message}")
        spec.exit_code(303, "ERROR_NO_THERMO", message="log.lammps holds no thermo output.")
        spec.exit_code(304, "ERROR_INCOMPLETE", message="LAMMPS stopped without finishing (killed or crashed) at "
                                                        "step {step}.")
        spec.exit_code(400, "ERROR_OUT_OF_WALLTIME", message="Stopped by the walltime at step {step}; a restart file "
                                                             "was written.")
        spec.exit_code(401, "ERROR_LOST_ATOMS", message="LAMMPS lost atoms: {message}")
        spec.exit_code(402, "ERROR_BOND_ATOMS_MISSING", message="Bonded atoms missing: {message}")
        spec.exit_code(403, "ERROR_SHAKE", message="SHAKE failed: {message}")
        spec.exit_code(404, "ERROR_OUT_OF_RANGE_ATOMS", message="Out of range atoms (PPPM): {message}")
        spec.exit_code(405, "ERROR_NAN", message="The simulation blew up (NaN or infinite values): {message}")
        spec.exit_code(410, "ERROR_LAMMPS", message="LAMMPS error: {message}")

    def prepare_for_submission(self, folder):
        spec = self.inputs.stage.get_dict()
        stages = stages_of(spec)
        settings = self.inputs.settings.get_dict() if "settings" in self.inputs else {}
        walltime = self.inputs.metadata.options.get("max_wallclock_seconds")
        continuation = bool(settings.get("continuation", False))
        calcinfo = datastructures.CalcInfo()
        calcinfo.local_copy_list, calcinfo.remote_copy_list = [], []
        if "data_file" in self.inputs:
            node = self.inputs.data_file
            calcinfo.local_copy_list.append((node.uuid, node.filename, DATA))
            source = DATA
        else:
            parent = self.inputs.parent_folder
            name, source = ((settings.get("restart_file", FINAL_RESTART), PARENT_RESTART) if continuation
                            else (settings.get("data_file", FINAL_DATA), PARENT_DATA))
            calcinfo.remote_copy_list.append((parent.computer.uuid, f"{parent.get_remote_path()}/{name}", source))
        folder.get_subfolder(".", create=True)
        with folder.open(INPUT, "w") as handle:
            if PHASE in spec:  # the phase's stages share the walltime
                handle.write(render_phase(stages, source, continuation, timeout_seconds(walltime)))
            else:
                stage = stages[0]
                stage.timeout = stage.timeout or timeout_for(walltime)
                handle.write(render(stage, source, continuation))

        codeinfo = datastructures.CodeInfo()
        codeinfo.code_uuid = self.inputs.code.uuid
        codeinfo.cmdline_params = ["-in", INPUT, "-log", LOG, *settings.get("cmdline", [])]
        # OpenMP threads per rank: settings['omp_threads'], else the resources' num_cores_per_mpiproc
        options = self.inputs.metadata.options
        threads = int(settings.get("omp_threads") or (options.get("resources") or {}).get("num_cores_per_mpiproc") or 1)
        if threads > 1:  # the OPENMP package's /omp styles with that many threads
            codeinfo.cmdline_params += ["-sf", "omp", "-pk", "omp", str(threads)]
            if "OMP_NUM_THREADS" not in (options.get("environment_variables") or {}):
                calcinfo.prepend_text = f"export OMP_NUM_THREADS={threads}"
        calcinfo.codes_info = [codeinfo]
        calcinfo.retrieve_list = [LOG, FINAL_DATA, *OUTPUT_FILES.values(), *NEMD_FILES.values()]
        calcinfo.retrieve_list += list(UNIAXIAL_FILES.values())
        calcinfo.retrieve_temporary_list = [VDOS_FILE]  # large: parsed into the vdos output, then deleted
        return calcinfo
