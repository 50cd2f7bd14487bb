"""``polymer.lammps`` and ``polymer.lammps.base`` with the real LAMMPS on a tiny polyethylene cell."""

import io
import itertools

import numpy as np
import pytest
from aiida import orm
from aiida.engine import run_get_node
from aiida.plugins import CalculationFactory, WorkflowFactory

from aiida_polymer.chem.builder import CellSpec, build_cell

LammpsCalculation = CalculationFactory("polymer.lammps")
LammpsBase = WorkflowFactory("polymer.lammps.base")


@pytest.fixture(scope="module")
def pe_data():
    cell = build_cell(CellSpec(smiles=["*CC*"], n_chains=3, atoms_per_chain=44, density=0.6, seed=4))
    return cell.data_file()


@pytest.fixture
def lmp(polymer_codes):
    return polymer_codes["lmp"]


def _inputs(lmp, data, **stage):
    spec = {"name": "test", "ensemble": "nvt", "steps": 200, "temperature": 300.0, "thermo_every": 20,
            "kspace_accuracy": 1e-4, "cutoff_inner": 4.0, "cutoff": 5.0, "velocity_seed": 3, **stage}
    return {"code": lmp, "stage": orm.Dict(spec),
            "data_file": orm.SinglefileData(io.BytesIO(data.encode()), filename="system.data"),
            "metadata": {"options": {"withmpi": False, "resources": {"num_machines": 1}}}}


def test_nvt_stage_outputs(lmp, pe_data):
    results, node = run_get_node(LammpsCalculation, **_inputs(lmp, pe_data, ensemble="npt", sample_every=50,
                                                             minimize_first=True))
    assert node.is_finished_ok, node.exit_message
    thermo = results["thermo"]
    steps = thermo.get_array("step")
    assert steps[0] == 0 and steps[-1] == 200 and len(steps) == 11
    assert np.all(np.isfinite(thermo.get_array("enthalpy"))) and np.all(thermo.get_array("vol") > 0)
    params = results["output_parameters"].get_dict()
    assert params["completed"] and not params["timeout"] and params["last_step"] == 200
    assert params["version"].startswith("22 Jul 2025")
    assert results["rg"].get_array("values").shape == (5, 3)  # steps 0, 50, ..., 200 x 3 chains
    assert results["com"].get_array("values").shape == (5, 3, 3)  # frames x chains x (x, y, z)
    assert results["dipole"].get_array("dipole").shape == (5, 3)
    for name in ("rg", "com", "dipole"):  # the time axis of what ran: steps x the stage's timestep (fs)
        assert results[name].get_array("time").tolist() == [0.0, 50.0, 100.0, 150.0, 200.0]
    assert params["timestep"] == 1.0 and params["cutoff"] == 5.0
    assert params["cutoff_exceeds_half_box"] is (params["min_box_length"] < 10.0)
    assert results["final_data"].get_content().count("Velocities") == 1


def test_blow_up_is_a_typed_exit_code(lmp, pe_data):
    _, node = run_get_node(LammpsCalculation, **_inputs(lmp, pe_data, timestep=40.0, steps=2000))
    assert node.exit_status in (401, 402, 404, 405), node.exit_message


def test_base_workchain_halves_the_timestep_until_it_runs(lmp, pe_data):
    inputs = _inputs(lmp, pe_data, timestep=16.0, steps=500)
    _, node = run_get_node(LammpsBase, lammps=inputs, max_timestep_halvings=orm.Int(4))
    assert node.is_finished_ok, node.exit_message
    calcs = sorted(node.called, key=lambda n: n.ctime)
    assert calcs[0].exit_status in (401, 402, 404, 405)
    timesteps = [c.inputs.stage["timestep"] for c in calcs]
    steps = [c.inputs.stage["steps"] for c in calcs]
    assert timesteps == [16.0 / 2**i for i in range(len(calcs))] and len(calcs) >= 2
    assert [t * s for t, s in zip(timesteps, steps, strict=True)] == [16.0 * 500] * len(calcs)


def test_halving_keeps_damping_times_and_the_time_axis(lmp, pe_data):
    # after halvings the thermostat/barostat damping stay 100/1000 fs of the original 16 fs step, and every series'
    # time axis is what ran (steps × the halved timestep), not the first stage's timestep
    inputs = _inputs(lmp, pe_data, ensemble="npt", timestep=16.0, steps=500, sample_every=50)
    results, node = run_get_node(LammpsBase, lammps=inputs, max_timestep_halvings=orm.Int(4))
    assert node.is_finished_ok, node.exit_message
    last = sorted(node.called, key=lambda n: n.ctime)[-1]
    assert last.inputs.stage["timestep"] < 16.0
    assert (last.inputs.stage["tdamp"], last.inputs.stage["pdamp"]) == (1600.0, 16000.0)
    script = last.base.repository.get_object_content("in.lammps")
    assert "iso 1 1 16000" in script and "temp 300 300 1600" in script
    for name in ("rg", "com", "dipole"):  # the sampling interval doubled with each halving: 800 fs apart
        time, steps = results[name].get_array("time"), results[name].get_array("step")
        assert time.tolist() == pytest.approx(np.arange(0.0, 8001.0, 800.0).tolist())
        assert steps[-1] == last.inputs.stage["steps"]


def test_base_workchain_gives_up_after_the_allowed_halvings(lmp, pe_data):
    _, node = run_get_node(LammpsBase, lammps=_inputs(lmp, pe_data, timestep=200.0, steps=100),
                           max_timestep_halvings=orm.Int(1))
    assert node.exit_status == LammpsBase.exit_codes.ERROR_TIMESTEP_HALVINGS_EXHAUSTED.status
    assert len(node.called) == 2


def test_base_workchain_continues_after_the_walltime(lmp, pe_data, tmp_path):
    # the first job spends 2 s before its run, so its 1 s timer runs out at the first check whatever the machine's
    # speed; the continuations do not wait (on a slow machine they may time out again, which is also handled)
    marker = tmp_path / "waited"
    wait = [f"variable waited equal is_file({marker})",
            f'if "${{waited}} == 0" then "print waited file {marker}" "shell sleep 2"']
    inputs = _inputs(lmp, pe_data, steps=6000, timeout="0:00:01", thermo_every=1000, restart_every=5000,
                     extra=wait)
    results, node = run_get_node(LammpsBase, lammps=inputs, max_iterations=orm.Int(20))
    assert node.is_finished_ok, node.exit_message
    calcs = sorted((n for n in node.called if n.process_class is LammpsCalculation), key=lambda n: n.ctime)
    assert calcs[0].exit_status == 400 and len(calcs) >= 2
    assert calcs[0].outputs.output_parameters["last_step"] == 100  # the timer's first check after the wait
    assert all(c.inputs.settings["continuation"] for c in calcs[1:])
    assert results["output_parameters"]["last_step"] == 6000
    # every continuation picked up where the previous one stopped
    for previous, current in itertools.pairwise(calcs):
        assert current.outputs.thermo.get_array("step")[0] >= previous.outputs.output_parameters["last_step"] - 1000


def test_many_walltime_continuations_are_bounded_by_progress_and_joined(lmp, pe_data):
    # every run spends 2 s before its run, so its 1 s timer stops it 100 steps on: 8 pieces, more than AiiDA's
    # default of 5 iterations, which were shared with the blow-up retries; the series of the pieces are joined
    inputs = _inputs(lmp, pe_data, steps=800, timeout="0:00:01", thermo_every=50, sample_every=50,
                     restart_every=400, extra=["shell sleep 2"])
    results, node = run_get_node(LammpsBase, lammps=inputs)
    assert node.is_finished_ok, node.exit_message
    calcs = sorted(node.called_descendants, key=lambda n: n.ctime)
    runs = [c for c in calcs if c.process_class is LammpsCalculation]
    assert len(runs) == 8 and [c.exit_status for c in runs] == [400] * 7 + [0]
    assert [c.process_label for c in calcs if c.process_class is not LammpsCalculation] == ["join_pieces"]
    assert results["thermo"].get_array("step").tolist() == list(range(0, 801, 50))  # every step once
    for name in ("rg", "com", "dipole"):
        assert results[name].get_array("step").tolist() == list(range(0, 801, 50))
    assert results["com"].get_array("values").shape == (17, 3, 3)


def test_base_workchain_continues_a_killed_job_from_its_periodic_restart(lmp, pe_data, tmp_path):
    # the first job dies by SIGKILL at step 300 (like a node failure: no final files, a truncated log)
    marker = tmp_path / "killed"
    kill = [f"variable killed equal is_file({marker})", "run 300 upto",
            f'if "${{killed}} == 0" then "print killed file {marker}" """shell "kill -9 $PPID" """']
    inputs = _inputs(lmp, pe_data, steps=500, restart_every=100, thermo_every=50, extra=kill)
    _results, node = run_get_node(LammpsBase, lammps=inputs)
    assert node.is_finished_ok, node.exit_message
    calcs = sorted((n for n in node.called if n.process_class is LammpsCalculation), key=lambda n: n.ctime)
    assert [c.exit_status for c in calcs] == [LammpsCalculation.exit_codes.ERROR_INCOMPLETE.status, 0]
    assert calcs[1].inputs.settings["continuation"]
    assert calcs[1].inputs.settings["restart_file"] in ("restart.a", "restart.b")
    steps = calcs[1].outputs.thermo.get_array("step")
    assert steps[0] == 300 and steps[-1] == 500  # resumed from the newest periodic restart, up to the target
    # the stage's series: the killed run up to its restart, then the continuation, each step once
    assert _results["thermo"].get_array("step").tolist() == list(range(0, 501, 50))


def test_heat_flux_terms_with_kspace(lmp, pe_data):
    # every virial term LAMMPS can split off, parsed into one array per term, with its time axis
    nemd = {"decompose": True, "swap_every": 10, "profile_every": 10, "profile_window": 100, "n_slabs": 10}
    results, node = run_get_node(LammpsCalculation, **_inputs(lmp, pe_data, ensemble="nve", timestep=0.5, nemd=nemd))
    assert node.is_finished_ok, node.exit_message
    heat_flux = results["nemd_heat_flux"]
    assert set(heat_flux.get_arraynames()) == {"step", "time", "kinetic", "potential", "pair", "bond", "angle",
                                               "dihedral", "improper", "kspace"}
    assert heat_flux.get_array("step").tolist() == [100, 200] and heat_flux.get_array("kspace").shape == (2, 10)
    assert heat_flux.get_array("time").tolist() == [50.0, 100.0]  # fs: steps × the timestep the stage ran
    assert np.any(heat_flux.get_array("bond") != 0) and np.any(heat_flux.get_array("kspace") != 0)


def test_shake_is_refused_in_nemd(lmp, pe_data):
    # constrained bonds remove degrees of freedom the slab temperatures count: slabs would read cold, κ high
    with pytest.raises(ValueError, match="nemd cannot run with shake"):
        run_get_node(LammpsCalculation, **_inputs(lmp, pe_data, ensemble="nve", shake=True, nemd={}))
