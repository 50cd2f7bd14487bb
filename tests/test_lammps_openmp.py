"""OpenMP threads for ``polymer.lammps``: ``-sf omp -pk omp T`` and ``OMP_NUM_THREADS`` from the resources."""

import io
import re
from pathlib import Path

import pytest
from aiida import orm
from aiida.engine import run_get_node
from aiida.plugins import CalculationFactory

from aiida_polymer.chem.builder import CellSpec, build_cell

LammpsCalculation = CalculationFactory("polymer.lammps")


@pytest.fixture(scope="module")
def pe_data():
    cell = build_cell(CellSpec(smiles=["*CC*"], n_chains=3, atoms_per_chain=44, density=0.6, seed=4))
    return cell.data_file()


def _inputs(code, data, resources, settings=None, environment=None, dry_run=False):
    stage = {"name": "omp", "ensemble": "nvt", "steps": 100, "temperature": 300.0, "thermo_every": 50,
             "kspace_accuracy": 1e-4, "cutoff_inner": 4.0, "cutoff": 5.0, "velocity_seed": 3}  # fmt: skip
    options = {"withmpi": False, "resources": resources}
    if environment:
        options["environment_variables"] = environment
    inputs = {
        "code": code,
        "stage": orm.Dict(stage),
        "data_file": orm.SinglefileData(io.BytesIO(data.encode()), filename="system.data"),
        "metadata": {"options": options, "dry_run": dry_run, "store_provenance": not dry_run},
    }
    if settings:
        inputs["settings"] = orm.Dict(settings)
    return inputs


def _script(code, data, resources, **kwargs) -> str:
    _, node = run_get_node(LammpsCalculation, **_inputs(code, data, resources, dry_run=True, **kwargs))
    folder = Path(node.dry_run_info["folder"])
    return (folder / node.dry_run_info["script_filename"]).read_text()


@pytest.mark.parametrize(
    ("resources", "settings", "threads"),
    [
        ({"num_machines": 1}, None, None),
        ({"num_machines": 1, "num_mpiprocs_per_machine": 2, "num_cores_per_mpiproc": 1}, None, None),
        ({"num_machines": 1, "num_mpiprocs_per_machine": 1, "num_cores_per_mpiproc": 2}, None, 2),
        ({"num_machines": 1}, {"omp_threads": 3}, 3),
        ({"num_machines": 1, "num_cores_per_mpiproc": 4}, {"omp_threads": 2}, 2),
    ],
)
def test_omp_flags_follow_the_resources(polymer_codes, pe_data, resources, settings, threads):
    script = _script(polymer_codes["lmp"], pe_data, resources, settings=settings)
    exported = re.findall(r"export OMP_NUM_THREADS=(\S+)", script)  # the scheduler may export it first
    if threads is None:
        assert "'-sf'" not in script and set(exported) <= {"1"}
    else:
        assert f"'-sf' 'omp' '-pk' 'omp' '{threads}'" in script
        assert exported[-1] == str(threads)  # the last one, just before lmp, holds


def test_an_explicit_omp_num_threads_is_kept(polymer_codes, pe_data):
    script = _script(
        polymer_codes["lmp"],
        pe_data,
        {"num_machines": 1},
        settings={"omp_threads": 2},
        environment={"OMP_NUM_THREADS": "2"},
    )
    assert script.count("OMP_NUM_THREADS") == 1 and "'-pk' 'omp' '2'" in script


def test_two_threads_run_the_omp_styles(polymer_codes, pe_data):
    resources = {"num_machines": 1, "num_mpiprocs_per_machine": 1, "num_cores_per_mpiproc": 2}
    results, node = run_get_node(LammpsCalculation, **_inputs(polymer_codes["lmp"], pe_data, resources))
    assert node.is_finished_ok, node.exit_message
    log = node.outputs.retrieved.base.repository.get_object_content("log.lammps")
    assert "using 2 OpenMP thread(s) per MPI task" in log
    assert results["output_parameters"]["last_step"] == 100
