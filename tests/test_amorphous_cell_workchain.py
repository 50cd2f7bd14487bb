"""``polymer.amorphous_cell`` on the temporary SQLite profile, with the real antechamber and parmchk2."""

import pytest
from aiida import orm
from aiida.engine import run_get_node
from aiida.plugins import WorkflowFactory

AmorphousCell = WorkflowFactory("polymer.amorphous_cell")


def _run(polymer_codes, **parameters):
    return run_get_node(AmorphousCell, parameters=orm.Dict(parameters), antechamber=polymer_codes["antechamber"],
                        parmchk2=polymer_codes["parmchk2"])


def test_builds_a_cell_with_full_provenance(polymer_codes):
    results, node = _run(polymer_codes, smiles=["*CC(*)c1ccccc1"], n_chains=2, atoms_per_chain=60, seed=3)
    assert node.is_finished_ok, node.exit_message
    summary = results["summary"].get_dict()
    assert summary["n_chains"] == 2 and summary["degree_of_polymerization"] == 3
    assert len(results["structure"].sites) == summary["n_atoms"] == 2 * (3 * 16 + 8)
    assert results["data_file"].get_content().startswith("aiida-polymer amorphous cell")
    residues = results["residues"].get_dict()["residues"]
    assert [r["role"] for r in residues[:3]] == ["repeat_unit", "head_group", "tail_group"]
    assert all(abs(r["net_charge"]) < 1e-12 for r in residues)
    assert results["forcefield"]["gaff2_dat"]["title"].startswith("AMBER General Force Field")

    # The AmberTools calls are ShellJobs with their code, inputs and outputs as nodes.
    jobs = {n.base.links.get_incoming(link_label_filter="code").one().node.label: n for n in node.called
            if isinstance(n, orm.CalcJobNode)}
    assert set(jobs) == {"antechamber", "parmchk2"}
    assert all(job.is_finished_ok for job in jobs.values())
    assert "gaff2" in jobs["antechamber"].inputs.arguments.get_list()
    assert jobs["parmchk2"].inputs.nodes.typed.uuid == jobs["antechamber"].outputs.typed_mol2.uuid
    assert "AmberTools" in jobs["antechamber"].inputs.code.description
    build = next(n for n in node.called if n.process_label == "build_cell")
    assert build.outputs.data_file.uuid == results["data_file"].uuid


@pytest.mark.parametrize("smiles", ["*CC(*", "*CC", "*C[Si](C)(C)*"])
def test_bad_smiles_exit_201_and_nothing_else_is_created(polymer_codes, smiles):
    before = orm.QueryBuilder().append(orm.Node).count()
    _, node = _run(polymer_codes, smiles=[smiles])
    assert node.exit_status == AmorphousCell.exit_codes.ERROR_INVALID_SMILES.status == 201
    assert not node.called and not list(node.outputs)
    assert "*" in node.exit_message or "SMILES" in node.exit_message
    # only the WorkChain node and its input Dict were stored
    assert orm.QueryBuilder().append(orm.Node).count() == before + 2


def test_bad_options_exit_202(polymer_codes):
    _, node = _run(polymer_codes, smiles=["*CC*"], tacticity="heterotactic")
    assert node.exit_status == 202 and "tacticity" in node.exit_message
    _, node = _run(polymer_codes, smiles=["*CC*"], no_such_option=1)
    assert node.exit_status == 202


@pytest.mark.parametrize(("options", "message"), [
    ({"copolymer": "alternating", "fractions": [0.7, 0.3]}, "alternating"),
    ({"copolymer": "block", "block_lengths": [10, 2], "fractions": [0.5, 0.5]}, "block_lengths"),
])
def test_contradictory_composition_exit_202_before_any_job(polymer_codes, options, message):
    _, node = _run(polymer_codes, smiles=["*CC*", "*CC(*)C"], **options)
    assert node.exit_status == 202 and not node.called
    assert message in node.exit_message and "fractions" in node.exit_message


def test_properties_rejects_contradictory_composition_with_exit_202(polymer_codes):
    """polymer.properties refuses the contradiction when its builder is made, and a hand-built input fails the same
    way with exit 202 before the quantum chemistry."""
    Properties = WorkflowFactory("polymer.properties")
    local = {"withmpi": False, "resources": {"num_machines": 1, "num_mpiprocs_per_machine": 1}}
    contradictory = {"copolymer": "alternating", "fractions": [0.7, 0.3]}
    with pytest.raises(ValueError, match="alternating"):
        Properties.get_builder_from_protocol(polymer_codes, ["*CC*", "*CC(*)C"], protocol="fast",
                                             overrides={"equilibrate": {"cell": contradictory}})
    builder = Properties.get_builder_from_protocol(
        polymer_codes, ["*CC*", "*CC(*)C"], protocol="fast", overrides={"equilibrate": {"cell": {
            "copolymer": "alternating"}}}, options={"lammps": local, "amber": local, "psi4": local, "nemd": local})
    parameters = builder.equilibrate.cell.parameters.get_dict()
    builder.equilibrate.cell.parameters = orm.Dict({**parameters, **contradictory})
    _, node = run_get_node(builder)
    assert node.exit_status == 202 and not node.called
    assert "alternating" in node.exit_message


def test_summary_records_composition_and_the_estimated_final_box(polymer_codes):
    results, node = _run(polymer_codes, smiles=["*CC*", "*CC(*)C"], copolymer="block", block_lengths=[10, 2],
                         degree_of_polymerization=12, n_chains=1, atoms_per_chain=60, min_box_length=15.0, seed=2)
    assert node.is_finished_ok, node.exit_message
    s = results["summary"].get_dict()
    assert s["composition"] == pytest.approx([10 / 12, 2 / 12]) and s["unit_counts"] == [10 * s["n_chains"],
                                                                                       2 * s["n_chains"]]
    assert s["n_chains"] > s["n_chains_requested"] == 1
    assert s["estimated_final_box_length_angstrom"] >= 15.0


def test_unbuildable_cell_exit_410(polymer_codes):
    _, node = _run(polymer_codes, smiles=["*CC*"], n_chains=20, atoms_per_chain=200, density=5.0)
    assert node.exit_status == 410 and "density" in node.exit_message


def test_given_charges_are_used_in_the_cell(polymer_codes):
    """Charges from outside (RESP) land on every atom of their fragment in the data file."""
    unit = [-0.2, -0.2, 0.1, 0.1, 0.1, 0.1]  # *CC*: C, C, H x 4 (caps folded)
    end = [-0.3, 0.1, 0.1, 0.1]  # *C: C, H x 3
    results, node = run_get_node(
        AmorphousCell, parameters=orm.Dict({"smiles": ["*CC*"], "n_chains": 2, "atoms_per_chain": 30, "seed": 1,
                                            "charges": "resp"}),
        charges=orm.Dict({"charges": [unit, end, end]}), antechamber=polymer_codes["antechamber"],
        parmchk2=polymer_codes["parmchk2"])
    assert node.is_finished_ok, node.exit_message
    residues = results["residues"].get_dict()
    assert residues["charge_method"] == "resp"
    assert residues["residues"][0]["charges"] == pytest.approx(unit)
    assert residues["residues"][1]["charges"] == pytest.approx(end)
    data = results["data_file"].get_content()
    atoms = data.split("Atoms")[1].split("\n\n")[1].splitlines()
    charges = sorted({round(float(line.split()[3]), 6) for line in atoms})
    assert charges == [-0.3, -0.2, 0.1]


@pytest.mark.parametrize("charges", [None, {"charges": [[0.1] * 6, [0.0] * 4, [0.0] * 4]},
                                     {"charges": [[0.0] * 5, [0.0] * 4, [0.0] * 4]}])
def test_resp_without_valid_charges_exit_202(polymer_codes, charges):
    extra = {} if charges is None else {"charges": orm.Dict(charges)}
    _, node = run_get_node(AmorphousCell, parameters=orm.Dict({"smiles": ["*CC*"], "charges": "resp", "n_chains": 2,
                                                               "atoms_per_chain": 30}),
                           antechamber=polymer_codes["antechamber"], parmchk2=polymer_codes["parmchk2"], **extra)
    assert node.exit_status == 202, node.exit_message
    assert "charges" in node.exit_message
