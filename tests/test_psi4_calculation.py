"""``polymer.psi4`` and ``polymer.psi4.base`` with the real psi4 on water (seconds per run)."""

import numpy as np
import pytest
from aiida import orm
from aiida.engine import run_get_node
from aiida.manage.caching import enable_caching
from aiida.plugins import CalculationFactory, WorkflowFactory

from aiida_polymer.parsers.psi4 import molecule

Psi4Calculation = CalculationFactory("polymer.psi4")
Psi4Base = WorkflowFactory("polymer.psi4.base")

WATER = np.array([[0.0, 0.0, 0.0], [0.0, 0.7572, -0.5865], [0.0, -0.7572, -0.5865]])
DISTORTED = np.array([[0.0, 0.0, 0.0], [0.0, 0.9, -0.2], [0.0, -0.6, -0.9]])
SMALL = {"memory": "500 MB", "scf_type": "pk"}


@pytest.fixture
def psi4(polymer_codes):
    if "psi4" not in polymer_codes:
        pytest.fail("psi4 is not installed (make install puts Debian's psi4 in place)")
    return polymer_codes["psi4"]


def _inputs(code, coords=WATER, grid=None, **task):
    inputs = {"code": code, "structure": molecule(["O", "H", "H"], coords),
              "parameters": orm.Dict({"task": "energy", "basis": "sto-3g", **SMALL, **task}),
              "metadata": {"options": {"resources": {"num_machines": 1, "num_mpiprocs_per_machine": 1,
                                                     "num_cores_per_mpiproc": 2}}}}
    if grid is not None:
        array = orm.ArrayData()
        array.set_array("points", grid)
        inputs["grid"] = array
    return inputs


def test_energy_records_version_and_dipole(psi4):
    results, node = run_get_node(Psi4Calculation, **_inputs(psi4))
    assert node.is_finished_ok, node.exit_message
    params = results["output_parameters"].get_dict()
    assert params["version"].startswith("1.")
    assert -75.0 < params["energy"] < -74.9  # HF/STO-3G water: -74.96 Hartree
    assert 1.0 < params["dipole_magnitude_debye"] < 2.5
    assert "structure" not in results and "esp" not in results
    assert node.base.repository.get_object_content("input.dat").startswith("# aiida-polymer psi4 input")


def test_esp_on_grid_matches_point_count(psi4):
    grid = np.array([[0.0, 0.0, 3.0], [3.0, 0.0, 0.0], [0.0, 3.0, 0.0], [0.0, 0.0, -30.0]])
    results, node = run_get_node(Psi4Calculation, **_inputs(psi4, grid=grid, task="esp"))
    assert node.is_finished_ok, node.exit_message
    esp = results["esp"].get_array("esp")
    assert esp.shape == (4,) and np.allclose(results["esp"].get_array("points"), grid)
    dipole = np.array(results["output_parameters"]["dipole_au"])
    far = grid[3] / 0.52917721067  # bohr, far away the potential is the dipole's
    assert esp[3] == pytest.approx(dipole @ far / np.linalg.norm(far) ** 3, rel=0.05)


def test_grid_required_for_esp_only(psi4):
    with pytest.raises(ValueError, match="grid"):
        run_get_node(Psi4Calculation, **_inputs(psi4, task="esp"))


def test_crash_is_typed_and_never_cached(psi4):
    with enable_caching(identifier="aiida.calculations:polymer.psi4"):
        _, first = run_get_node(Psi4Calculation, **_inputs(psi4, basis="no-such-basis"))
        _, second = run_get_node(Psi4Calculation, **_inputs(psi4, basis="no-such-basis"))
    assert first.exit_status == 320 and "BasisSetNotFound" in first.exit_message
    assert not first.base.caching.is_valid_cache
    assert second.exit_status == 320 and not second.base.caching.is_created_from_cache


def test_missing_output(aiida_localhost):
    broken = orm.InstalledCode(label="not-psi4", computer=aiida_localhost, filepath_executable="/bin/true").store()
    _, node = run_get_node(Psi4Calculation, **_inputs(broken))
    assert node.exit_status == 300


def test_scf_failure_is_retried_with_more_iterations(psi4):
    _, node = run_get_node(Psi4Base, psi4=_inputs(psi4, basis="6-31g*", maxiter=2))
    assert node.is_finished_ok, node.exit_message
    calcs = sorted(node.called, key=lambda n: n.ctime)
    assert [c.exit_status for c in calcs] == [410, 0]
    final = calcs[1].inputs.parameters.get_dict()
    assert final["maxiter"] >= 200 and final["damping_percentage"] == 20.0


def test_unconverged_optimization_continues_from_last_geometry(psi4):
    _, node = run_get_node(Psi4Base, psi4=_inputs(psi4, DISTORTED, task="optimize", basis="3-21g", geom_maxiter=2))
    assert node.is_finished_ok, node.exit_message
    calcs = sorted(node.called, key=lambda n: n.ctime)
    assert calcs[0].exit_status == 420 and calcs[-1].exit_status == 0
    assert calcs[1].inputs.structure.uuid == calcs[0].outputs.structure.uuid  # continued from the last geometry
    final = node.outputs.structure.get_ase()
    assert final.get_distance(0, 1) == pytest.approx(final.get_distance(0, 2), abs=2e-3)  # symmetric minimum
    assert 0.95 < final.get_distance(0, 1) < 1.0  # HF/3-21G O-H: 0.967 Å
