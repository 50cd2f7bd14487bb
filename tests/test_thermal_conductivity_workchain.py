"""``polymer.thermal_conductivity`` with the real LAMMPS on a tiny polyethylene cell (a few thousand steps)."""

import io
import re

import numpy as np
import pytest
from aiida import orm
from aiida.engine import run_get_node
from aiida.plugins import CalculationFactory, WorkflowFactory

from aiida_polymer.chem.builder import CellSpec, build_cell

ThermalConductivity = WorkflowFactory("polymer.thermal_conductivity")
LammpsCalculation = CalculationFactory("polymer.lammps")
compute_thermal_conductivity = CalculationFactory("polymer.compute_thermal_conductivity")
join_pieces = CalculationFactory("polymer.join_pieces")

# fast protocol, cheaper potential; a swap every 5 steps drives a gradient that shows within 1 ps
OVERRIDES = {
    "md": {"timestep": 0.5, "kspace_accuracy": 1e-4, "cutoff_inner": 4.0, "cutoff": 5.0},
    "nvt": {"duration": 0.1, "seed": 5},
    "nemd": {"duration": 1.0, "swap_every": 5, "profile_every": 10, "profile_window": 200, "restart_every": 0},
}
OPTIONS = {"withmpi": False, "resources": {"num_machines": 1}}


@pytest.fixture(scope="module")
def pe_data():
    cell = build_cell(CellSpec(smiles=["*CC*"], n_chains=3, atoms_per_chain=44, density=0.6, seed=4))
    return cell.data_file()


def _builder(lmp, data, analysis=None, **kwargs):
    overrides = {**OVERRIDES, "analysis": analysis or {}}
    final_data = orm.SinglefileData(io.BytesIO(data.encode()), filename="final.data")
    builder = ThermalConductivity.get_builder_from_protocol(lmp, final_data=final_data, protocol="fast",
                                                           overrides=overrides, options=dict(OPTIONS))  # fmt: skip
    for key, value in kwargs.items():
        builder[key] = value
    return builder


def _calcs(node):
    return sorted(node.called_descendants, key=lambda n: n.ctime)


def test_thermal_conductivity_workchain_runs_both_stages(polymer_codes, pe_data):
    # the gates are relaxed: a 1 ps run is far from a linear steady-state profile
    builder = _builder(polymer_codes["lmp"], pe_data, {"r2_min": 0.0, "block_r2_min": 0.0},
                       heat_capacity=orm.Float(1800.0), density=orm.Float(0.8))  # fmt: skip
    builder.protocol = orm.Dict({**builder.protocol.get_dict(), "nemd": {**OVERRIDES["nemd"], "decompose": True}})
    results, node = run_get_node(builder)
    assert node.is_finished_ok, node.exit_message
    calcs = [c for c in _calcs(node) if c.process_class is LammpsCalculation]
    assert len(calcs) == 1  # NVT and NEMD: one job (a phase)
    job = calcs[0]
    nvt, nemd = job.inputs.stage["stages"]
    assert (nvt["name"], nemd["name"]) == ("nemd_nvt", "nemd") and "data_file" in job.inputs
    assert nvt["replicate"] == [3, 1, 1] and nemd["nemd"]["swap_every"] == 5
    # the NVT start is rescaled from the last frame (0.6 g/cm³ here) to the given mean density
    assert nvt["rescale_density"] == 0.8
    assert job.outputs.stage_thermo["nemd_nvt"].get_array("density")[0] == pytest.approx(0.8, abs=1e-4)
    assert job.outputs.output_parameters["stages_completed"] == ["nemd_nvt", "nemd"]
    profile = job.outputs.nemd_profile
    assert profile.get_array("temp").shape == (10, 20)
    atoms = int(re.search(r"^\s*(\d+) atoms", pe_data, re.M).group(1))
    assert profile.get_array("count")[0].sum() == pytest.approx(3 * atoms)  # the replicated cell
    thermo = job.outputs.thermo  # the NEMD stage's
    assert thermo.get_array("step")[0] == 0 and thermo.get_array("step")[-1] == nemd["steps"]
    assert thermo.get_array("lx")[-1] == pytest.approx(3 * thermo.get_array("ly")[-1])

    props = results["properties"].get_dict()
    kappa, diffusivity = props["thermal_conductivity"], props["thermal_diffusivity"]
    assert kappa["unit"] == "W/(m K)" and 0.0 < kappa["value"] < 10.0 and kappa["stderr"] > 0
    assert diffusivity["unit"] == "m^2/s"
    assert diffusivity["value"] == pytest.approx(kappa["value"] / (0.8 * 1000.0 * 1800.0))
    analysis = results["nemd"].get_dict()
    assert analysis["passed"] and analysis["rescaled_to_density"] == 0.8 and len(analysis["block_r2"]) == 4
    assert analysis["temperature_difference"] > 0  # the middle slab is the hot one
    assert analysis["kappa"]["value"] == pytest.approx(kappa["value"])

    # the heat flux split by term (bonded, kspace and convection terms of a real force field)
    heat_flux = job.outputs.nemd_heat_flux
    terms = ["kinetic", "potential", "pair", "bond", "angle", "dihedral", "improper", "kspace"]
    assert sorted(heat_flux.get_arraynames()) == sorted(["step", "time", *terms])
    assert heat_flux.get_array("bond").shape == (10, 20) and np.any(heat_flux.get_array("kspace") != 0)
    parts = analysis["decomposition"]
    assert list(parts["terms"]) == terms and parts["unit"] == "W/(m K)"
    assert parts["kappa"] == pytest.approx(sum(t["kappa"] for t in parts["terms"].values()))
    print(f"closure {parts['closure']}, by term {[round(t['kappa'], 3) for t in parts['terms'].values()]}")


def test_langevin_reservoirs_instead_of_swaps(polymer_codes, pe_data):
    builder = _builder(polymer_codes["lmp"], pe_data, {"r2_min": 0.0, "block_r2_min": 0.0})
    nemd = {**OVERRIDES["nemd"], "method": "langevin", "delta_t": 50.0, "damp": 50.0, "swap_every": 20}
    builder.protocol = orm.Dict({**builder.protocol.get_dict(), "nemd": nemd})
    results, node = run_get_node(builder)
    assert node.is_finished_ok, node.exit_message
    run = next(c for c in _calcs(node) if c.process_class is LammpsCalculation)
    script = run.base.repository.get_object_content("in.lammps")
    assert "fix nemd_hot all langevin 350 350 50" in script and "thermal/conductivity" not in script
    energy = run.outputs.nemd_flux.get_array("energy")
    assert energy[-1] > 0  # heat flowed from the hot reservoir to the cold one
    analysis = results["nemd"].get_dict()
    assert analysis["temperature_difference"] > 20 and analysis["kappa"]["value"] > 0


def test_nonlinear_profile_fails_the_gates_with_flagged_properties(polymer_codes, pe_data):
    # default gates (r² ≥ 0.98 for the mean profile, ≥ 0.9 in every block) on the same 1 ps transient
    results, node = run_get_node(_builder(polymer_codes["lmp"], pe_data))
    assert node.exit_status == ThermalConductivity.exit_codes.ERROR_NONLINEAR_PROFILE.status, node.exit_message
    kappa = results["properties"]["thermal_conductivity"]
    assert {"nonlinear_profile", "nonlinear_profile_blocks"} & set(kappa["flags"])
    assert not results["nemd"]["passed"] and "thermal_diffusivity" not in results["properties"]


def test_interrupted_nemd_stage_is_continued_and_joined(polymer_codes, pe_data):
    # LAMMPS stops itself at its timer (1 s for the NVT + NEMD phase) and the base workchain continues the stage
    # it stopped in from its restart file, then the rest, until done
    options = {**OPTIONS, "max_wallclock_seconds": 2}
    builder = _builder(polymer_codes["lmp"], pe_data, {"r2_min": 0.0, "block_r2_min": 0.0})
    builder.protocol = orm.Dict({**builder.protocol.get_dict(), "nemd": {**OVERRIDES["nemd"], "duration": 2.0}})
    builder.md.lammps.metadata.options = options
    builder.md.max_iterations = orm.Int(20)
    results, node = run_get_node(builder)
    assert node.is_finished_ok, node.exit_message
    runs = [c for c in _calcs(node) if c.process_class is LammpsCalculation]
    if len(runs) == 1:
        pytest.skip("the NVT + NEMD phase finished within LAMMPS's 1 s timer on this machine")
    assert runs[0].exit_status == LammpsCalculation.exit_codes.ERROR_OUT_OF_WALLTIME.status
    nemd_runs = [c for c in runs if c.outputs.output_parameters["series_stage"] == "nemd"]
    analysis = results["nemd"].get_dict()
    stage = next(n for n in node.called if n.process_label == "LammpsBaseWorkChain" and "nemd_flux" in n.outputs)
    joins = [c.process_label for c in stage.called if c.process_label == "join_pieces"]
    assert joins == (["join_pieces"] if len(nemd_runs) > 1 else [])  # the NEMD series of its pieces, joined
    assert stage.outputs.nemd_flux.get_array("step")[-1] == 4000 and analysis["window"][1] == 4000
    # 20 frames of 200 steps, 20 % discarded; a frame whose samples straddle a restart is not written
    assert 16 - (len(nemd_runs) - 1) <= analysis["frames"] <= 16
    assert analysis["flux"]["value"] > 0 and analysis["kappa"]["value"] > 0


def test_unequilibrated_or_aligned_cells_are_skipped(polymer_codes, pe_data):
    aligned = orm.Dict({"nematic_order": {"value": 0.35, "unit": "1", "stderr": 0.02, "flags": []}})
    results, node = run_get_node(_builder(polymer_codes["lmp"], pe_data, equilibrium_properties=aligned))
    assert node.is_finished_ok and not any(c.process_class is LammpsCalculation for c in node.called_descendants)
    entry = results["properties"]["thermal_conductivity"]
    assert entry["value"] is None and entry["flags"] == ["nematic_order", "skipped"]
    assert entry["reason"].startswith("nematic_order: S = 0.350")
    not_converged = orm.Dict({"converged": False, "checks": {"density": {"pass": False}}})
    assert ThermalConductivity.should_skip(None, not_converged.get_dict()) == "not_equilibrated: failing checks density"


def _arrays(**arrays):
    node = orm.ArrayData()
    for name, value in arrays.items():
        node.set_array(name, np.asarray(value))
    return node


def test_pieces_are_joined_then_analysed_with_si_units(aiida_profile):
    # a linear profile (0.5 K/Å on both halves) and 0.01 kcal/mol per fs exchanged, in two pieces: the first was
    # killed at step 2400 after its restart at 2000, from which the second went on (its energy count restarts at 0)
    n, box, timestep = 20, (60.0, 20.0, 25.0), 0.5
    x = (np.arange(n) + 0.5) * box[0] / n
    d = np.minimum(np.abs(x - x[0]), box[0] - np.abs(x - x[0]))
    steps = np.arange(400, 4001, 400)
    temp = np.tile(300.0 + 0.5 * d, (len(steps), 1))
    flux_steps = np.arange(0, 4001, 100)
    energy = 0.01 * flux_steps * timestep
    pieces = {}
    for i, (lo, hi) in enumerate(((0, 2400), (2000, 4000))):
        ps, fs = (steps > lo) & (steps <= hi), (flux_steps >= lo) & (flux_steps <= hi)
        pieces[f"nemd_profile__{i}"] = _arrays(step=steps[ps], temp=temp[ps])
        pieces[f"nemd_flux__{i}"] = _arrays(step=flux_steps[fs], energy=energy[fs] - energy[flux_steps == lo])
        pieces[f"thermo__{i}"] = _arrays(step=[lo, hi], lx=[box[0]] * 2, ly=[box[1]] * 2, lz=[box[2]] * 2,
                                         density=[0.9, 0.9])  # fmt: skip
    joined = join_pieces(**pieces)
    assert joined["nemd_profile"].get_array("step").tolist() == steps.tolist()
    assert joined["nemd_flux"].get_array("step").tolist() == flux_steps.tolist()  # no step twice
    assert np.allclose(joined["nemd_flux"].get_array("energy"), energy)  # the count goes on across pieces
    assert joined["thermo"].get_array("step").tolist() == [0, 2000, 4000]
    parameters = orm.Dict({"timestep": timestep, "heat_capacity": 2000.0, "flags": ["not_converged"]})
    results, node = compute_thermal_conductivity.run_get_node(parameters=parameters, **joined)
    assert node.is_finished_ok, node.exit_message
    flux_si = 0.01 * 4184.0 / 6.02214076e23 / 1e-15 / (2 * box[1] * box[2] * 1e-20)  # W/m²
    kappa = results["properties"]["thermal_conductivity"]
    assert kappa["value"] == pytest.approx(flux_si / 0.5e10, rel=1e-9) and kappa["flags"] == ["not_converged"]
    diffusivity = results["properties"]["thermal_diffusivity"]
    assert diffusivity["value"] == pytest.approx(kappa["value"] / (900.0 * 2000.0))
    assert results["nemd"]["passed"]

    _, node = compute_thermal_conductivity.run_get_node(parameters=orm.Dict({"timestep": timestep, "discard": 0.9}),
                                                        **joined)  # fmt: skip
    assert node.exit_status == 300 and "run longer" in node.exit_message
