"""``polymer.properties`` end to end on a tiny system: psi4 RESP charges → cell → equilibration → properties."""

import numpy as np
import pytest
from aiida import orm
from aiida.common.links import LinkType
from aiida.engine import run_get_node
from aiida.manage.caching import enable_caching
from aiida.plugins import WorkflowFactory

from aiida_polymer.chem.monomer import MonomerError
from tests.test_equilibrate_workchain import PROPERTIES, TINY

Properties = WorkflowFactory("polymer.properties")
LOCAL = {"withmpi": False, "resources": {"num_machines": 1, "num_mpiprocs_per_machine": 1}}


def _builder(codes, smiles="*CC*", **overrides):
    builder = Properties.get_builder_from_protocol(
        codes, smiles, protocol="fast", overrides={"equilibrate": TINY, **overrides},
        options={"lammps": LOCAL, "amber": LOCAL, "psi4": LOCAL})
    return builder


@pytest.fixture(scope="module")
def finished(polymer_codes_module):
    with enable_caching():
        return run_get_node(_builder(polymer_codes_module))


def test_every_stage_is_linked_in_one_graph(finished):
    results, node = finished
    assert node.is_finished_ok, node.exit_message
    labels = sorted(link.link_label for link in node.base.links.get_outgoing(link_type=LinkType.CALL_WORK).all())
    assert labels == ["charges_0", "charges_1", "equilibrate", "nemd"]  # *CC* and the *C end group (head = tail)
    cell = node.outputs.equilibrate.cell
    residues = cell.residues.get_dict()
    assert residues["charge_method"] == "resp"
    charges = results["charges"].get_dict()
    assert residues["residues"][0]["charges"] == pytest.approx(charges["charges"][0])
    assert abs(cell.summary["net_charge"]) < 1e-9


def test_property_table_includes_the_optical_properties(finished):
    results, _ = finished
    table = results["properties"].get_dict()
    assert set(table) == PROPERTIES | {"refractive_index", "dielectric_constant", "thermal_conductivity",
                                       "thermal_diffusivity", "heat_capacity_cp_quantum", "heat_capacity_cv_quantum"}
    assert len(table) == 19
    assert all("not_converged" in entry["flags"] for entry in table.values())  # fast: nothing converges
    units = {"density": "g/cm^3", "heat_capacity_cp": "J/(kg K)", "heat_capacity_cv": "J/(kg K)",
             "heat_capacity_cp_quantum": "J/(kg K)", "heat_capacity_cv_quantum": "J/(kg K)",
             "isothermal_compressibility": "1/Pa", "isentropic_compressibility": "1/Pa",
             "isothermal_bulk_modulus": "Pa", "isentropic_bulk_modulus": "Pa", "volumetric_thermal_expansion": "1/K",
             "linear_thermal_expansion": "1/K", "self_diffusion": "m^2/s", "rg": "Angstrom", "nematic_order": "1",
             "dielectric_orientational": "1", "refractive_index": "1", "dielectric_constant": "1",
             "thermal_conductivity": "W/(m K)", "thermal_diffusivity": "m^2/s"}
    for name, entry in table.items():  # every entry as the table promises: value, unit, stderr, a list of flags
        assert {"value", "unit", "stderr", "flags"} <= set(entry), name
        assert entry["unit"] == units[name] and isinstance(entry["flags"], list), name
        assert entry["value"] is not None and np.isfinite(entry["value"]), name
    n = table["refractive_index"]["value"]
    assert 1.3 < n < 1.7  # polyethylene: 1.48; fast: HF/aug-cc-pVDZ α (4.0 Å³) but an unconverged density
    eps = table["dielectric_constant"]["value"]
    assert eps == pytest.approx(table["dielectric_orientational"]["value"] - 1 + n**2)


def test_fast_protocol_runs_nemd_on_the_unconverged_cell(finished):
    results, node = finished
    kappa = results["properties"]["thermal_conductivity"]
    assert "skipped" not in kappa["flags"] and kappa["unit"] == "W/(m K)"
    assert np.isfinite(kappa["value"]) and kappa["value"] > 0  # noise on fast, but a real κ of a real run
    assert kappa["stderr"] is not None and np.isfinite(kappa["stderr"]) and kappa["stderr"] > 0
    nemd = node.outputs.nemd.nemd.get_dict()  # the analysis: gradient, flux and the fits of both halves
    assert len(nemd["r2"]) == 2


def test_unconverged_cell_skips_nemd_when_equilibrium_is_required(finished, polymer_codes_module):
    """The same run again (every step served from the cache) but with the moderate/precise rule: NEMD skipped."""
    builder = _builder(polymer_codes_module)
    builder.nemd_requires_equilibrium = orm.Bool(True)
    with enable_caching():
        results, node = run_get_node(builder)
    assert node.is_finished_ok, node.exit_message
    lammps = [n for n in node.called_descendants if n.process_type == "aiida.calculations:polymer.lammps"]
    assert lammps and all(n.base.caching.is_created_from_cache for n in lammps)  # nothing re-run
    kappa = results["properties"]["thermal_conductivity"]
    assert kappa["value"] is None and "skipped" in kappa["flags"] and kappa["reason"].startswith("not_equilibrated")
    assert results["properties"]["density"] == finished[0]["properties"]["density"]


def test_replicates_give_the_mean_and_the_run_to_run_sd(finished, polymer_codes_module):
    """Two replicates: the first is the run above (served from the cache), the second a cell of other chains (seed
    + 1) and packing velocities through the same stages; the table is their mean, SD and count."""
    builder = _builder(polymer_codes_module, replicates=2)
    assert builder.replicates.value == 2
    with enable_caching():
        results, node = run_get_node(builder)
    assert node.is_finished_ok, node.exit_message
    labels = sorted(link.link_label for link in node.base.links.get_outgoing(link_type=LinkType.CALL_WORK).all())
    assert labels == ["charges_0", "charges_1", "equilibrate", "equilibrate_r1", "nemd", "nemd_r1"]
    calls = {link.link_label: link.node for link in node.base.links.get_outgoing(link_type=LinkType.CALL_WORK).all()}
    first, second = calls["equilibrate"], calls["equilibrate_r1"]
    assert first.base.caching.is_created_from_cache or first.base.links.get_outgoing().all()
    assert second.inputs.cell.parameters["seed"] == first.inputs.cell.parameters.get("seed", 0) + 1
    assert second.outputs.cell.data_file.get_content() != first.outputs.cell.data_file.get_content()
    tables = [node.outputs.replicates[f"replicate_{r}"].get_dict() for r in (0, 1)]
    assert tables[0]["density"]["value"] == finished[0]["properties"]["density"]["value"]
    rho = [t["density"]["value"] for t in tables]
    assert rho[0] != rho[1]
    density = results["properties"]["density"]
    assert density["value"] == pytest.approx(np.mean(rho), rel=1e-12) and density["count"] == 2
    assert density["run_to_run_sd"] == pytest.approx(abs(rho[0] - rho[1]) / np.sqrt(2), rel=1e-9)
    assert density["stderr"] == pytest.approx(density["run_to_run_sd"] / np.sqrt(2), rel=1e-9)
    kappa = results["properties"]["thermal_conductivity"]
    assert kappa["values"] == [t["thermal_conductivity"]["value"] for t in tables]


def test_mechanics_and_glass_transition_stages_join_the_table(finished, polymer_codes_module):
    """Switched on by their overrides, the deformation and the stepwise cooling run on the equilibrated cell (the
    run above, from the cache) beside NEMD; their values join the table with the equilibration's flags."""
    builder = _builder(polymer_codes_module, mechanics={}, glass_transition={"cooling": {"step": 50.0}})
    assert builder.glass_transition.protocol["cooling"]["step"] == 50.0
    with enable_caching():
        results, node = run_get_node(builder)
    assert node.exit_status in (0, 404), node.exit_message
    calls = {link.link_label: link.node for link in node.base.links.get_outgoing(link_type=LinkType.CALL_WORK).all()}
    assert {"equilibrate", "nemd", "mechanics", "glass_transition"} <= set(calls)
    final = calls["equilibrate"].outputs.final_data
    assert calls["mechanics"].inputs.final_data.uuid == calls["glass_transition"].inputs.final_data.uuid == final.uuid
    table = results["properties"].get_dict()
    for stage, names in (("mechanics", ("youngs_modulus", "poisson_ratio", "bulk_modulus_uniaxial")),
                         ("glass_transition", ("glass_transition_temperature", "thermal_expansion_above_tg",
                                               "thermal_expansion_below_tg"))):
        own = calls[stage].outputs.properties.get_dict()
        for name in names:
            assert table[name]["value"] == own[name]["value"], name
            assert "not_converged" in table[name]["flags"], name  # carried over from the equilibration
    assert table["density"] == finished[0]["properties"]["density"]


def test_failed_nemd_still_outputs_the_table(finished, polymer_codes_module):
    """A NEMD failure (here a NEMD protocol the schema accepts but the stage refuses at run time: a profile window
    not a multiple of profile_every) ends with exit 403, the equilibrium table still output."""
    builder = _builder(polymer_codes_module, nemd={"nemd": {"profile_window": 401}})
    with enable_caching():
        results, node = run_get_node(builder)
    assert node.exit_status == 403, node.exit_message
    table = results["properties"].get_dict()
    assert "thermal_conductivity" not in table and table["density"] == finished[0]["properties"]["density"]


def test_state_point_reaches_every_stage(polymer_codes_module):
    builder = Properties.get_builder_from_protocol(polymer_codes_module, "*CC*", protocol="precise",
                                                   temperature=350.0, pressure=10.0)
    protocol = builder.equilibrate.protocol.get_dict()
    assert protocol["production"]["temperature"] == protocol["compression"]["t_final"] == 350.0
    assert protocol["production"]["pressure"] == protocol["compression"]["p_final"] == 10.0
    nemd = builder.nemd.protocol.get_dict()
    assert nemd["temperature"] == 350.0 and nemd["md"]["timestep"] == 0.2 and nemd["replicate"] == [3, 1, 1]
    assert builder.nemd_requires_equilibrium.value is True
    assert builder.equilibrate.cell.parameters["charges"] == "resp"
    assert builder.charges.parameters["esp"]["basis"] == "6-31g*"


def test_screening_leaves_nemd_out_unless_switched_on(polymer_codes_module):
    builder = Properties.get_builder_from_protocol(polymer_codes_module, "*CC*", protocol="screening")
    assert builder.nemd._inputs(prune=True) == {}
    assert builder.equilibrate.protocol["md"]["timestep"] == 2.0 and builder.equilibrate.protocol["md"]["shake"]
    on = Properties.get_builder_from_protocol(polymer_codes_module, "*CC*", protocol="screening",
                                              overrides={"nemd": {"run": True}})
    assert on.nemd.protocol["run"] is True and on.nemd.protocol["md"]["cutoff"] == 10.0


def test_refractive_index_follows_lorentz_lorenz(finished):
    results, node = finished
    optical = next(n for n in node.called if n.process_label == "assemble_charges").outputs.optical.get_dict()
    rho = results["properties"]["density"]["value"]
    phi = 4 * np.pi / 3 * rho * 6.02214076e23 * 1e-24 * optical["polarizability"][0] / optical["repeat_mass"][0]
    assert results["properties"]["refractive_index"]["value"] == pytest.approx(np.sqrt((1 + 2 * phi) / (1 - phi)))
    assert optical["repeat_mass"] == [pytest.approx(28.054, abs=0.01)]


def test_bad_smiles_fails_before_any_job(polymer_codes_module):
    """The builder refuses it; a hand-built input with it fails with exit 201 before any job."""
    with pytest.raises(MonomerError, match="cannot parse"):
        _builder(polymer_codes_module, smiles="*CC(*")
    builder = _builder(polymer_codes_module)
    parameters = builder.equilibrate.cell.parameters.get_dict()
    builder.equilibrate.cell.parameters = orm.Dict({**parameters, "smiles": ["*CC(*"]})
    _, node = run_get_node(builder)
    assert node.exit_status == 201 and not node.called


def test_cli_show_and_list(finished):
    from click.testing import CliRunner

    from aiida_polymer.cli import cli

    _, node = finished
    runner = CliRunner()
    shown = runner.invoke(cli, ["show", str(node.pk)])
    assert shown.exit_code == 0, shown.output
    assert "refractive_index" in shown.output and "resp" in shown.output and "not_converged" in shown.output
    listed = runner.invoke(cli, ["list"])
    assert listed.exit_code == 0, listed.output
    row = next(line for line in listed.output.splitlines() if line.startswith(str(node.pk)))
    assert "PropertiesWorkChain" in row and "*CC*" in row and " ok " in row


def test_cli_submit_rejects_bad_input(polymer_codes_module):
    from click.testing import CliRunner

    from aiida_polymer.cli import cli

    runner = CliRunner()
    bad = runner.invoke(cli, ["submit", "*CC"])
    assert bad.exit_code == 2 and "*" in bad.output
    missing = runner.invoke(cli, ["submit", "*CC*", "--code-lmp", "nope@localhost"])
    assert missing.exit_code == 2 and "nope@localhost" in missing.output


def test_results_write_the_property_summary(finished):
    """The run leaves the summary that fast queries read (aiida_polymer.database.summary): its own UUID, its
    properties Dict's UUID and every value of that Dict."""
    from aiida_polymer.database.summary import SUMMARY, summarise

    results, node = finished
    properties = results["properties"]
    summary = node.base.extras.get(SUMMARY)
    assert summary == summarise(node.uuid, properties.uuid, properties.get_dict())
    assert summary["workflow"] == node.uuid and summary["properties"] == properties.uuid
    assert {name: summary[name] for name in properties.get_dict()} == {
        name: entry["value"] for name, entry in properties.get_dict().items()}
