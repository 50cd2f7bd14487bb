"""Phases: several MD stages in one LAMMPS job, with the real LAMMPS on a tiny polyethylene cell.

A phase must give what the same stages give as separate jobs, and go on from where it stopped after the walltime,
a kill or a blow-up, each stage's thermo kept apart.
"""

import io

import numpy as np
import pytest
from aiida import orm
from aiida.engine import run_get_node
from aiida.plugins import CalculationFactory, WorkflowFactory

from aiida_polymer.chem.builder import CellSpec, build_cell

LammpsCalculation = CalculationFactory("polymer.lammps")
LammpsBase = WorkflowFactory("polymer.lammps.base")
COMMON = {"temperature": 300.0, "thermo_every": 50, "kspace_accuracy": 1e-4, "cutoff_inner": 4.0, "cutoff": 5.0}


@pytest.fixture(scope="module")
def pe_data():
    cell = build_cell(CellSpec(smiles=["*CC*"], n_chains=3, atoms_per_chain=44, density=0.6, seed=4))
    return orm.SinglefileData(io.BytesIO(cell.data_file().encode()), filename="system.data")


@pytest.fixture
def lmp(polymer_codes):
    return polymer_codes["lmp"]


def _stages(**second) -> list[dict]:
    return [{"name": "s1", "ensemble": "nvt", "steps": 200, "velocity_seed": 3, "minimize_first": True, **COMMON},
            {"name": "s2", "ensemble": "npt", "steps": 400, "restart_every": 100, **COMMON, **second},
            {"name": "s3", "ensemble": "nvt", "steps": 200, "temperature": [300.0, 350.0], "thermo_every": 50,
             "kspace_accuracy": 1e-4, "cutoff_inner": 4.0, "cutoff": 5.0}]


def _options(walltime: int | None = None) -> dict:
    options = {"withmpi": False, "resources": {"num_machines": 1}}
    return {"options": {**options, "max_wallclock_seconds": walltime} if walltime else options}


def _phase(lmp, data, stages, walltime=None) -> dict:
    return {"code": lmp, "stage": orm.Dict({"name": "phase", "stages": stages}), "data_file": data,
            "metadata": _options(walltime)}


def _calcs(node) -> list:
    return sorted((n for n in node.called if n.process_class is LammpsCalculation), key=lambda n: n.ctime)


def test_a_phase_is_its_stages_as_separate_jobs(lmp, pe_data):
    stages = _stages()
    results, phase = run_get_node(LammpsCalculation, **_phase(lmp, pe_data, stages))
    assert phase.is_finished_ok, phase.exit_message
    summary = results["output_parameters"].get_dict()
    assert summary["stages_completed"] == ["s1", "s2", "s3"] and summary["series_stage"] == "s3"
    assert sorted(results["stage_thermo"]) == ["s1", "s2", "s3"]
    separate, inputs = [], {"data_file": pe_data}
    for stage in stages:
        out, node = run_get_node(LammpsCalculation, code=lmp, stage=orm.Dict(stage), metadata=_options(), **inputs)
        assert node.is_finished_ok, node.exit_message
        separate.append(out)
        inputs = {"parent_folder": out["remote_folder"]}
    for stage, out in zip(stages, separate, strict=True):
        fused, alone = results["stage_thermo"][stage["name"]], out["thermo"]
        assert fused.get_array("step").tolist() == list(range(0, stage["steps"] + 1, 50))
        for column in ("temp", "press", "density", "etotal", "lx"):
            np.testing.assert_array_equal(fused.get_array(column), alone.get_array(column), err_msg=column)
    np.testing.assert_array_equal(results["thermo"].get_array("etotal"), separate[-1]["thermo"].get_array("etotal"))
    assert results["final_data"].get_content() == separate[-1]["final_data"].get_content()
    kept = set(results["remote_folder"].listdir())
    assert {"s1.restart", "s1.data", "s2.restart", "s2.data", "s3.restart", "final.restart"} <= kept


def test_a_phase_stopped_by_the_walltime_continues_its_stage_then_runs_the_rest(lmp, pe_data, tmp_path):
    # s2 spends 3 s before its run the first time, so the phase's 2 s (93 % of a 3 s walltime) end in s2 at its
    # first timer check, step 100
    marker = tmp_path / "waited"
    wait = [f"variable waited equal is_file({marker})",
            f'if "${{waited}} == 0" then "print waited file {marker}" "shell sleep 3"']
    _, node = run_get_node(LammpsBase, lammps=_phase(lmp, pe_data, _stages(extra=wait), walltime=3))
    assert node.is_finished_ok, node.exit_message
    calcs = _calcs(node)
    assert [c.exit_status for c in calcs] == [400, 0]
    first = calcs[0].outputs.output_parameters.get_dict()
    assert first["stages_completed"] == ["s1"] and first["restart_file"] == "s2.restart"
    assert [(s["name"], s["completed"], s["last_step"]) for s in first["stages"]] == [("s1", True, 200),
                                                                                    ("s2", False, 100)]
    second = calcs[1]
    assert [s["name"] for s in second.inputs.stage["stages"]] == ["s2", "s3"]
    assert second.inputs.settings["continuation"] and second.inputs.settings["restart_file"] == "s2.restart"
    s2 = second.outputs.stage_thermo["s2"].get_array("step")
    assert s2[0] == 100 and s2[-1] == 400  # the rest of s2, then s3 from its start
    assert second.outputs.stage_thermo["s3"].get_array("step").tolist() == list(range(0, 201, 50))
    assert node.outputs.output_parameters["stages_completed"] == ["s2", "s3"]


def test_a_killed_phase_continues_its_stage_from_the_periodic_restart(lmp, pe_data, tmp_path):
    # the first job dies by SIGKILL in s2 at step 300 (no final files, a log cut inside s2)
    marker = tmp_path / "killed"
    kill = [f"variable killed equal is_file({marker})", "run 300 upto",
            f'if "${{killed}} == 0" then "print killed file {marker}" """shell "kill -9 $PPID" """']
    _, node = run_get_node(LammpsBase, lammps=_phase(lmp, pe_data, _stages(extra=kill)))
    assert node.is_finished_ok, node.exit_message
    calcs = _calcs(node)
    assert [c.exit_status for c in calcs] == [LammpsCalculation.exit_codes.ERROR_INCOMPLETE.status, 0]
    assert "of stage s2" in calcs[0].exit_message
    settings = calcs[1].inputs.settings.get_dict()
    assert settings["continuation"] and settings["restart_file"] in ("restart.a", "restart.b")
    assert [s["name"] for s in calcs[1].inputs.stage["stages"]] == ["s2", "s3"]
    assert calcs[1].outputs.stage_thermo["s2"].get_array("step")[0] == 300


def test_a_phase_that_blows_up_reruns_the_rest_from_the_failing_stage_with_half_the_timestep(lmp, pe_data):
    _, node = run_get_node(LammpsBase, lammps=_phase(lmp, pe_data, _stages(ensemble="nvt", timestep=16.0, steps=300)),
                           max_timestep_halvings=orm.Int(4))
    assert node.is_finished_ok, node.exit_message
    calcs = _calcs(node)
    assert calcs[0].exit_status in (401, 402, 404, 405) and len(calcs) >= 2
    assert calcs[0].outputs.output_parameters["stages_completed"] == ["s1"]
    for calc in calcs[1:]:  # from the data file s1 wrote in the first job, s2 and s3 only
        assert calc.inputs.settings["data_file"] == "s1.data" and not calc.inputs.settings["continuation"]
        assert calc.inputs.parent_folder.pk == calcs[0].outputs.remote_folder.pk
        assert [s["name"] for s in calc.inputs.stage["stages"]] == ["s2", "s3"]
    s2, s3 = calcs[-1].inputs.stage["stages"]
    n = len(calcs) - 1
    assert (s2["timestep"], s2["steps"], s3["timestep"], s3["steps"]) == (16.0 / 2**n, 300 * 2**n, 1.0 / 2**n,
                                                                         200 * 2**n)
