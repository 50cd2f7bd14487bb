"""``polymer.equilibrate`` end to end on a tiny system with the real AmberTools and LAMMPS (fast protocol, shrunk)."""

import pytest
from aiida import orm
from aiida.common.links import LinkType
from aiida.engine import run_get_node
from aiida.plugins import WorkflowFactory

from aiida_polymer.chem.analysis import refractive_index
from aiida_polymer.chem.lammps_io import read_data

Equilibrate = WorkflowFactory("polymer.equilibrate")

TINY = {
    "cell": {"n_chains": 3, "atoms_per_chain": 50, "min_box_length": None},  # a tiny box: flagged
    "packing": {"duration": 2},
    "compression": {"duration_scale": 0.004, "min_duration": 0.0},
    "production": {"duration": 3, "max_segments": 2, "sample_every_ps": 0.05, "thermo_every_ps": 0.02},
}
PROPERTIES = {"density", "heat_capacity_cp", "heat_capacity_cv", "isothermal_compressibility",
              "isentropic_compressibility", "isothermal_bulk_modulus", "isentropic_bulk_modulus",
              "volumetric_thermal_expansion", "linear_thermal_expansion", "self_diffusion", "rg", "nematic_order",
              "dielectric_orientational"}


def _label(node) -> str:
    return node.base.links.get_incoming(link_type=(LinkType.CALL_CALC, LinkType.CALL_WORK)).one().link_label


# a PE-b-PP copolymer with blocks of 3 and 1 units (75:25 on long chains), whatever equal fractions the
# Lorentz–Lorenz step assumed
BLOCK = {"copolymer": "block", "block_lengths": [3, 1]}
OPTICAL = {"polarizability": [4.0, 5.7], "repeat_mass": [28.054, 42.081]}


@pytest.fixture(scope="module")
def unconverged(polymer_codes_module):
    overrides = {**TINY, "cell": {**TINY["cell"], **BLOCK}}
    builder = Equilibrate.get_builder_from_protocol(polymer_codes_module["lmp"], ["*CC*", "*CC(*)C"],
                                                    protocol="fast", overrides=overrides)
    builder.optical = orm.Dict(OPTICAL)
    builder.md.lammps.metadata.options = {"withmpi": False, "resources": {"num_machines": 1}}
    return run_get_node(builder)


def test_all_stages_run_in_order(unconverged):
    _, node = unconverged
    assert node.is_finished_ok, node.exit_message
    called = sorted(node.called, key=lambda n: n.ctime)
    labels = [_label(n) for n in called if isinstance(n, orm.WorkChainNode)]
    assert labels == ["cell", "equilibration", "production_01", "production_02"]  # packing + compression: one job
    phase = next(n for n in called if _label(n) == "equilibration")
    stages = ["packing", *(f"compression_{i:02d}" for i in range(1, 22))]
    assert [s["name"] for s in phase.inputs.lammps.stage["stages"]] == stages
    job = next(n for n in phase.called if isinstance(n, orm.CalcJobNode))
    assert sorted(job.outputs.stage_thermo) == sorted(stages)  # each stage's thermo kept
    assert job.outputs.output_parameters["stages_completed"] == stages
    functions = [n.process_label for n in called if isinstance(n, orm.CalcFunctionNode)]
    assert functions == ["check_convergence", "check_convergence", "compute_properties"]


def test_not_converged_is_flagged_after_the_maximum_segments(unconverged):
    results, _ = unconverged
    assert results["convergence"]["converged"] is False
    properties = results["properties"].get_dict()
    assert set(properties) == PROPERTIES | {"refractive_index", "dielectric_constant", "heat_capacity_cp_quantum",
                                            "heat_capacity_cv_quantum"}
    assert all("not_converged" in p["flags"] for p in properties.values())
    # the ~11 Å box of 150 atoms is shorter than twice the 10 Å cut-off: every property says so
    assert all("cutoff_exceeds_half_box" in p["flags"] for p in properties.values())
    assert 0.3 < properties["density"]["value"] < 1.2
    assert properties["density"]["unit"] == "g/cm^3" and properties["density"]["stderr"] > 0


def test_quantum_corrected_heat_capacity_beside_the_classical_one(unconverged):
    """The last production segment dumps the velocities of its last 2 ps (every 4 fs): their spectrum holds the
    degrees of freedom SHAKE leaves (3 per atom less one per X–H bond, at the run's kinetic temperature) and
    lowers Cp and Cv by the same harmonic correction; the classical values stay as they were."""
    results, node = unconverged
    properties = results["properties"].get_dict()
    last = max((n for n in node.called if isinstance(n, orm.WorkChainNode) and _label(n) == "production_02"),
               key=lambda n: n.ctime)
    vdos = last.outputs.vdos
    data = read_data(results["final_data"].get_content())
    hydrogens = int((data.mass < 1.1).sum())
    dof = 3 * len(data.mass) - hydrogens  # each H carries one bond, constrained by SHAKE
    kinetic = float(last.outputs.thermo.get_array("temp")[-500:].mean()) / 300.0
    assert vdos.base.attributes.get("frames") == 501 and vdos.base.attributes.get("atoms") == len(data.mass)
    assert vdos.base.attributes.get("degrees_of_freedom") == pytest.approx(dof * kinetic, rel=0.1)
    correction = vdos.base.attributes.get("correction")
    for name in ("heat_capacity_cp", "heat_capacity_cv"):
        quantum = properties[f"{name}_quantum"]
        assert quantum["value"] == pytest.approx(properties[name]["value"] + correction, rel=1e-12)
        assert quantum["correction"] == correction and "harmonic_quantum_correction" in quantum["flags"]
        assert "harmonic_quantum_correction" not in properties[name]["flags"]
    # most vibrations of a hydrocarbon (C–H bends, C–C stretches) are above kT/h = 6 THz at 300 K: the correction
    # removes between a fifth and four fifths of the classical k_B per degree of freedom
    mass_kg = float(data.mass.sum()) * 1e-3 / 6.02214076e23
    per_dof = correction * mass_kg / 1.380649e-23 / vdos.base.attributes.get("degrees_of_freedom")
    assert -0.8 < per_dof < -0.2, per_dof


def test_refractive_index_uses_the_built_composition(unconverged):
    results, _ = unconverged
    summary = results["cell"]["summary"]
    composition = summary["composition"]
    # blocks of 3 + 1 units cut to the degree of polymerisation (AAAB AA for 6 units): counted on the chains
    dp = summary["degree_of_polymerization"]
    a = 3 * (dp // 4) + min(dp % 4, 3)
    assert summary["unit_counts"] == [a * summary["n_chains"], (dp - a) * summary["n_chains"]]
    assert composition == pytest.approx([a / dp, 1 - a / dp])
    rho = results["properties"]["density"]["value"]
    expected = refractive_index(OPTICAL["polarizability"], rho, OPTICAL["repeat_mass"], composition)
    assert results["properties"]["refractive_index"]["value"] == pytest.approx(expected, rel=1e-12)
    equal = refractive_index(OPTICAL["polarizability"], rho, OPTICAL["repeat_mass"], [0.5, 0.5])
    assert abs(expected - equal) > 1e-3  # the requested-fractions answer would differ


def test_converged_run_stops_after_one_segment(unconverged, polymer_codes_module):
    results, _ = unconverged
    generous = {name: 1e9 for name in ("etotal", "ke", "ebond", "eangle", "edihed", "elong", "density", "evdwl",
                                       "rg")}
    builder = Equilibrate.get_builder_from_protocol(
        polymer_codes_module["lmp"], "*CC*", protocol="fast",
        overrides={**TINY, "compression": {"duration_scale": 0.001, "min_duration": 0.0},
                   "convergence": {"thresholds": generous}})
    builder.pop("cell")
    builder.data_file = results["cell"]["data_file"]
    builder.md.lammps.metadata.options = {"withmpi": False, "resources": {"num_machines": 1}}
    results, node = run_get_node(builder)
    assert node.is_finished_ok, node.exit_message
    assert results["convergence"]["converged"] is True
    assert [_label(n) for n in node.called if _label(n).startswith("production")] == ["production_01"]
    assert not any("not_converged" in p["flags"] for p in results["properties"].get_dict().values())


def test_one_job_per_stage_gives_the_same_run(unconverged, polymer_codes_module):
    """md.fused false (for debugging): 22 jobs instead of one, and the same trajectory to the last digit."""
    fused, _ = unconverged
    builder = Equilibrate.get_builder_from_protocol(polymer_codes_module["lmp"], "*CC*", protocol="fast",
                                                    overrides={**TINY, "md": {"fused": False}})
    builder.pop("cell")
    builder.data_file = fused["cell"]["data_file"]
    builder.md.lammps.metadata.options = {"withmpi": False, "resources": {"num_machines": 1}}
    results, node = run_get_node(builder)
    assert node.is_finished_ok, node.exit_message
    labels = [_label(n) for n in sorted(node.called, key=lambda n: n.ctime) if isinstance(n, orm.WorkChainNode)]
    assert labels == ["packing", *(f"compression_{i:02d}" for i in range(1, 22)), "production_01", "production_02"]
    for column in ("step", "temp", "density", "etotal", "press"):
        assert results["thermo"].get_array(column).tolist() == fused["thermo"].get_array(column).tolist(), column


def test_cell_and_data_file_are_exclusive(polymer_codes):
    builder = Equilibrate.get_builder_from_protocol(polymer_codes["lmp"], "*CC*", protocol="fast")
    builder.data_file = orm.SinglefileData.from_string("x", filename="x.data")
    with pytest.raises(ValueError, match="exactly one"):
        run_get_node(builder)
