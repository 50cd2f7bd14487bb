"""Live remote execution: LAMMPS stages through the daemon on a real Slurm cluster reached over SSH.

``scripts/slurm-cluster.sh start`` runs a one-node Slurm (munged, slurmctld, slurmd) and an sshd on 127.0.0.1 on
this machine; the AiiDA computer uses the ``core.ssh_async`` transport and the ``core.slurm`` scheduler, exactly as
for a cluster elsewhere. Without the Debian packages (scripts/system-deps.sh) the module is skipped, except in CI
(``CI=true``), where it fails.
"""

from __future__ import annotations

import io
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from aiida import orm
from aiida.common.exceptions import NotExistent
from aiida.engine import submit
from aiida.plugins import CalculationFactory, WorkflowFactory

from aiida_polymer.chem.builder import CellSpec, build_cell
from aiida_polymer.codes import executables
from aiida_polymer.presets.resources import stage_options

LammpsCalculation = CalculationFactory("polymer.lammps")
Psi4Calculation = CalculationFactory("polymer.psi4")
LammpsBase = WorkflowFactory("polymer.lammps.base")

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "scripts" / "slurm-cluster.sh"
CLUSTER_DIR = Path(os.environ.get("SLURM_LOOPBACK_DIR", ROOT / ".slurm"))
HOST = "slurm-loopback"
LABEL = "slurm-loopback"

def _slurm(*args: str) -> str:
    env = {**os.environ, "SLURM_CONF": str(CLUSTER_DIR / "etc" / "slurm.conf")}
    return subprocess.run(args, env=env, capture_output=True, text=True, check=True, timeout=30).stdout


@pytest.fixture(scope="module")
def slurm_cluster():
    """Start (or reuse) the loopback cluster; fail in CI, skip elsewhere, when its packages are missing.
    A cluster that this fixture started is stopped again at the end of the module."""
    running = subprocess.run([str(SCRIPT), "status"], capture_output=True, timeout=30).returncode == 0
    result = subprocess.run([str(SCRIPT), "start"], capture_output=True, text=True, timeout=120)
    if result.returncode != 0:
        message = f"the loopback Slurm cluster did not start:\n{result.stdout}{result.stderr}"
        if "missing" in result.stderr and os.environ.get("CI", "").lower() not in ("1", "true", "yes"):
            pytest.skip(message + "\n(run scripts/system-deps.sh as root)")
        pytest.fail(message, pytrace=False)
    yield CLUSTER_DIR
    if not running:
        subprocess.run([str(SCRIPT), "stop"], capture_output=True, timeout=60)


@pytest.fixture(scope="module")
def daemon(aiida_config, aiida_profile_factory, daemon_profile):
    """A profile of this module's own with the ZeroMQ broker, and its daemon."""
    with daemon_profile(aiida_config, aiida_profile_factory, "remote-slurm") as client:
        yield client


@pytest.fixture(scope="module")
def slurm_computer(slurm_cluster, daemon):
    """The ``slurm-loopback`` computer (core.ssh_async + core.slurm) and its ``lmp`` code."""
    try:
        computer = orm.load_computer(LABEL)
    except NotExistent:
        computer = orm.Computer(
            label=LABEL,
            hostname=HOST,
            description="one-node Slurm on this machine, over SSH on loopback (scripts/slurm-cluster.sh)",
            transport_type="core.ssh_async",
            scheduler_type="core.slurm",
            workdir=str(slurm_cluster / "work" / "{username}" / "aiida"),
        ).store()
        # `host` is the Host entry of ~/.ssh/config that the script includes (asyncssh reads that file)
        computer.configure(host=HOST, backend="asyncssh", safe_interval=0.2, use_login_shell=True, max_io_allowed=4)
        computer.set_minimum_job_poll_interval(0.5)
        computer.set_default_mpiprocs_per_machine(os.cpu_count() or 1)
        # MPICH's hydra would start ranks through srun inside a Slurm job; on one node fork them directly
        mpiexec = str(Path(sys.executable).parent / "mpiexec")
        computer.set_mpirun_command([mpiexec, "-launcher", "fork", "-np", "{tot_num_mpiprocs}"])
    path, prepend, description = executables()["lmp"]
    try:
        code = orm.load_code(f"lmp@{LABEL}")
    except NotExistent:
        code = orm.InstalledCode(
            label="lmp",
            computer=computer,
            filepath_executable=str(path),
            prepend_text=prepend,
            description=description,
            default_calc_job_plugin="polymer.lammps",
        ).store()
    return computer, code


@pytest.fixture(scope="module")
def pe_data():
    cell = build_cell(CellSpec(smiles=["*CC*"], n_chains=3, atoms_per_chain=44, density=0.6, seed=4))
    return cell.data_file()


def _inputs(code, data, resources, **stage):
    spec = {
        "name": "remote",
        "ensemble": "nvt",
        "steps": 200,
        "temperature": 300.0,
        "thermo_every": 20,
        "kspace_accuracy": 1e-4,
        "cutoff_inner": 4.0,
        "cutoff": 5.0,
        "velocity_seed": 3,
        **stage,
    }
    return {
        "code": code,
        "stage": orm.Dict(spec),
        "data_file": orm.SinglefileData(io.BytesIO(data.encode()), filename="system.data"),
        "metadata": {"options": {"resources": resources, "max_wallclock_seconds": 600, "withmpi": True}},
    }


def _wait(node, daemon, timeout: float, until=None):
    """Poll ``node`` until ``until()`` (default: terminated); on timeout fail with the reports and daemon log."""
    until = until or (lambda: node.is_terminated)
    deadline = time.monotonic() + timeout
    while not until():
        if node.is_excepted:
            pytest.fail(f"{node.process_label}<{node.pk}> excepted: {node.exception}")
        if time.monotonic() > deadline:
            from aiida.cmdline.utils.common import get_workchain_report

            log = Path(daemon.daemon_log_file).read_text(errors="replace")[-6000:]
            pytest.fail(
                f"timed out after {timeout}s: {node.process_label}<{node.pk}> is {node.process_state}\n"
                f"{get_workchain_report(node, 'REPORT')}\n--- daemon log ---\n{log}"
            )
        time.sleep(0.25)


def test_stage_runs_through_slurm_over_ssh(slurm_computer, pe_data, daemon):
    _computer, code = slurm_computer
    # one rank with two OpenMP threads: sbatch --cpus-per-task=2, lmp -sf omp -pk omp 2
    resources = {"num_machines": 1, "num_mpiprocs_per_machine": 1, "num_cores_per_mpiproc": 2}
    node = submit(LammpsBase, lammps=_inputs(code, pe_data, resources, ensemble="npt", sample_every=50))
    _wait(node, daemon, timeout=90)
    assert node.is_finished_ok, f"[{node.exit_status}] {node.exit_message}"
    (calc,) = node.called
    assert calc.is_finished_ok and calc.computer.label == LABEL
    assert calc.get_job_id() and calc.get_scheduler_state().value == "done"
    script = calc.base.repository.get_object_content("_aiidasubmit.sh")
    assert "#SBATCH --cpus-per-task=2" in script and "export OMP_NUM_THREADS=2" in script
    assert "'-sf' 'omp' '-pk' 'omp' '2'" in script
    log = calc.outputs.retrieved.base.repository.get_object_content("log.lammps")
    assert "using 2 OpenMP thread(s) per MPI task" in log
    steps = node.outputs.thermo.get_array("step")
    assert steps[0] == 0 and steps[-1] == 200
    params = node.outputs.output_parameters.get_dict()
    assert params["completed"] and params["last_step"] == 200
    assert node.outputs.rg.get_array("values").shape == (5, 3)
    remote = calc.outputs.remote_folder
    assert remote.computer.label == LABEL and "final.data" in remote.listdir()


def _report(node) -> str:
    from aiida.cmdline.utils.common import get_workchain_report

    return get_workchain_report(node, "REPORT")


def test_cancelled_job_continues_from_its_restart_file(slurm_computer, pe_data, daemon, tmp_path):
    _computer, code = slurm_computer
    # the first job writes restart files up to step 300 and then stalls (as if slow) until it is cancelled;
    # the marker file makes the continuation run straight through
    marker = tmp_path / "stalled"
    stall = [
        f"variable stalled equal is_file({marker})",
        "run 300 upto",
        f'if "${{stalled}} == 0" then "print stalled file {marker}" "shell sleep 120"',
    ]
    resources = {"num_machines": 1, "num_mpiprocs_per_machine": 1}
    inputs = _inputs(code, pe_data, resources, steps=500, restart_every=100, thermo_every=50, extra=stall)
    node = submit(LammpsBase, lammps=inputs)

    def first_job_stalled():
        if not node.called or not marker.exists():
            return False
        job_id = node.called[0].get_job_id()
        return bool(job_id) and _slurm("squeue", "-h", "-j", job_id, "-o", "%T").strip() == "RUNNING"

    _wait(node, daemon, timeout=60, until=first_job_stalled)
    first = node.called[0]
    workdir = Path(first.get_remote_workdir())
    assert {"restart.a", "restart.b"} & {p.name for p in workdir.iterdir()}
    _slurm("scancel", first.get_job_id())

    _wait(node, daemon, timeout=120)
    assert node.is_finished_ok, f"[{node.exit_status}] {node.exit_message}"
    calcs = sorted((n for n in node.called if n.process_class is LammpsCalculation), key=lambda n: n.ctime)
    # the cancelled job is a failure in the history, not a success
    assert calcs[0].is_failed and calcs[0].exit_status == LammpsCalculation.exit_codes.ERROR_INCOMPLETE.status
    stderr = calcs[0].outputs.retrieved.base.repository.get_object_content("_scheduler-stderr.txt")
    assert "CANCELLED" in stderr
    assert [c.exit_status for c in calcs[1:]] == [0]
    settings = calcs[1].inputs.settings.get_dict()
    assert settings["continuation"] and settings["restart_file"] in ("restart.a", "restart.b")
    assert calcs[1].inputs.parent_folder.uuid == calcs[0].outputs.remote_folder.uuid
    steps = calcs[1].outputs.thermo.get_array("step")
    assert steps[0] == 300 and steps[-1] == 500
    assert node.outputs.output_parameters["last_step"] == 500
    # the stage's thermo is both pieces joined: from the start to the end, every step once
    joined = node.outputs.thermo.get_array("step")
    pieces = [(c.pk, c.exit_status, sorted(c.outputs), c.outputs.thermo.get_array("step").tolist()
               if "thermo" in c.outputs else None) for c in calcs]
    assert joined[0] == 0 and joined[-1] == 500 and np.all(np.diff(joined) > 0), (pieces, _report(node))


def test_psi4_job_with_the_preset_options(slurm_computer, daemon):
    """Psi4 (the other code of the pipeline) on the same cluster, sized by ``stage_options`` for Slurm."""
    import numpy as np

    from aiida_polymer.parsers.psi4 import molecule

    computer, _ = slurm_computer
    path, prepend, description = executables()["psi4"]
    if path is None:
        pytest.fail("psi4 is not installed (make install puts Debian's psi4 in place)")
    try:
        code = orm.load_code(f"psi4@{LABEL}")
    except NotExistent:
        code = orm.InstalledCode(label="psi4", computer=computer, filepath_executable=str(path),
                                 prepend_text=prepend, description=description).store()  # fmt: skip
    options = stage_options("psi4", computer, "fast", cores_per_node=2)
    assert options["resources"] == {"num_machines": 1, "num_mpiprocs_per_machine": 1, "num_cores_per_mpiproc": 2}
    water = np.array([[0.0, 0.0, 0.0], [0.0, 0.7572, -0.5865], [0.0, -0.7572, -0.5865]])
    parameters = {"task": "energy", "basis": "sto-3g", "memory": "500 MB", "scf_type": "pk"}
    node = submit(Psi4Calculation, code=code, structure=molecule(["O", "H", "H"], water),
                  parameters=orm.Dict(parameters), metadata={"options": options})  # fmt: skip
    _wait(node, daemon, timeout=90)
    assert node.is_finished_ok, f"[{node.exit_status}] {node.exit_message}"
    node = orm.load_node(node.pk)  # the daemon wrote its repository: not this process's copy of the node
    assert node.get_job_id()
    assert "#SBATCH --cpus-per-task=2" in node.base.repository.get_object_content("_aiidasubmit.sh")
    assert -75.0 < node.outputs.output_parameters["energy"] < -74.9  # HF/STO-3G water: -74.96 Hartree


def test_split_execution_charges_on_slurm_md_on_localhost(slurm_computer, pe_data, daemon):
    """The QM stage (``polymer.charges``: conformers, Psi4 optimisation and ESP, RESP) on the Slurm computer while a
    LAMMPS stage runs on localhost (``core.direct``), both through the daemon: the two-computer set-up."""
    from aiida_polymer.codes import ensure_codes, localhost
    from aiida_polymer.workchains.charges import ChargesWorkChain, protocol

    computer, _ = slurm_computer
    path, prepend, description = executables()["psi4"]
    try:
        psi4 = orm.load_code(f"psi4@{LABEL}")
    except NotExistent:
        psi4 = orm.InstalledCode(label="psi4", computer=computer, filepath_executable=str(path),
                                 prepend_text=prepend, description=description).store()  # fmt: skip
    local = localhost("localhost-split")
    lmp = ensure_codes(local)["lmp"]
    settings = protocol("fast", {"polarizability": None})
    charges = submit(ChargesWorkChain, smiles=orm.Str("*CC*"), code=psi4,
                     parameters=orm.Dict({k: settings[k] for k in ("conformers", "optimize", "esp", "grid",
                                                                   "polarizability")}),
                     options=orm.Dict(stage_options("psi4", computer, "fast", cores_per_node=1)))  # fmt: skip
    md = submit(LammpsBase, lammps=_inputs(lmp, pe_data, {"num_machines": 1, "num_mpiprocs_per_machine": 1}))
    _wait(charges, daemon, timeout=240)
    _wait(md, daemon, timeout=120)
    charges, md = orm.load_node(charges.pk), orm.load_node(md.pk)
    assert charges.is_finished_ok, f"[{charges.exit_status}] {charges.exit_message}"
    assert md.is_finished_ok, f"[{md.exit_status}] {md.exit_message}"
    psi4_jobs = [n for n in charges.called_descendants  # fused (the default): one unit job for all the QM
                 if n.process_type in ("aiida.calculations:polymer.psi4", "aiida.calculations:polymer.psi4.unit")]
    assert psi4_jobs and all(n.computer.label == LABEL and n.get_job_id() for n in psi4_jobs)
    lammps_jobs = [n for n in md.called_descendants if isinstance(n, orm.CalcJobNode)]
    assert lammps_jobs and all(n.computer.label == "localhost-split" for n in lammps_jobs)
    q = charges.outputs.charges["charges"]
    assert len(q) == 6 and abs(sum(q)) < 1e-12
