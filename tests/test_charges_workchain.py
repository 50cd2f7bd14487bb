"""``polymer.charges`` end to end with the real psi4 on polyethylene's unit (ethane when capped), and caching."""

import numpy as np
import pytest
from aiida import orm
from aiida.engine import run_get_node
from aiida.manage.caching import enable_caching
from aiida.plugins import WorkflowFactory
from rdkit import Chem

from aiida_polymer.chem.conformers import search
from aiida_polymer.chem.psi4_unit import parse_unit_output
from aiida_polymer.workchains.charges import protocol

Charges = WorkflowFactory("polymer.charges")


@pytest.fixture
def psi4(polymer_codes):
    return polymer_codes["psi4"]


def _inputs(code, smiles="*CC*", **overrides):
    settings = protocol("fast", overrides)
    return {"smiles": orm.Str(smiles), "code": code, "parameters": orm.Dict(settings),
            "options": orm.Dict({"resources": {"num_machines": 1, "num_mpiprocs_per_machine": 1,
                                               "num_cores_per_mpiproc": 2}})}


def _psi4_jobs(node, entry_point="polymer.psi4"):
    return [n for n in node.called_descendants if n.process_type == f"aiida.calculations:{entry_point}"]


def test_conformer_search_finds_anti_butane_first():
    mol = Chem.AddHs(Chem.MolFromSmiles("CCCC"))
    found = search(mol, n_conformers=30, keep=3)
    assert len(found) == 2  # anti and gauche (gauche+/- are one cluster after alignment)
    assert found[0].energy < found[1].energy
    conf = Chem.Conformer(mol.GetNumAtoms())
    for i, xyz in enumerate(found[0].coords):
        conf.SetAtomPosition(i, xyz.tolist())
    assert abs(Chem.rdMolTransforms.GetDihedralDeg(conf, 0, 1, 2, 3)) == pytest.approx(180.0, abs=5.0)
    again = search(mol, n_conformers=30, keep=3)
    assert np.array_equal(found[0].coords, again[0].coords)  # seeded: cacheable downstream


def test_resp_charges_of_the_unit_and_the_cache(psi4):
    with enable_caching():
        _, first = run_get_node(Charges, **_inputs(psi4))
        assert first.is_finished_ok, first.exit_message
        _, second = run_get_node(Charges, **_inputs(psi4))
    assert second.is_finished_ok
    charges = first.outputs.charges.get_dict()
    q = np.array(charges["charges"])
    assert len(q) == 6 and abs(q.sum()) < 1e-12  # C2H4 repeat unit, caps folded onto C, exactly neutral
    assert q[0] == pytest.approx(q[1], abs=1e-9) and np.ptp(q[2:]) < 1e-9  # equivalent carbons, hydrogens
    capped = np.array(charges["capped_charges"])
    assert len(capped) == 8 and abs(capped.sum()) < 1e-9
    assert -0.4 < capped[0] < 0.0 and 0.0 < capped[-1] < 0.15  # ethane RESP: C ~ -0.1..-0.3, H ~ +0.03..0.1
    pol = first.outputs.polarizability.get_dict()
    assert pol["fragment_mass"] == pytest.approx(28.054, abs=0.01) and pol["method"] == "cphf"
    # ethane: CPHF HF/aug-cc-pVDZ 4.03 Å³ at this HF/STO-3G geometry (4.05 at the MMFF one); a basis without diffuse
    # functions gives 3.34 (6-31G*) or 1.62 (STO-3G)
    assert pol["polarizability_angstrom3"] == pytest.approx(4.04, abs=0.05)

    # fused (the protocols' default): optimisation, ESP and polarizability in one job, reused from the cache
    first_jobs, second_jobs = _psi4_jobs(first, "polymer.psi4.unit"), _psi4_jobs(second, "polymer.psi4.unit")
    assert not _psi4_jobs(first) and not _psi4_jobs(second)
    assert len(first_jobs) == 1 and not first_jobs[0].base.caching.is_created_from_cache
    assert len(second_jobs) == 1 and second_jobs[0].base.caching.is_created_from_cache
    assert second.outputs.charges.get_dict()["charges"] == charges["charges"]
    unit = first_jobs[0]
    assert unit.outputs.output_parameters["stages_completed"] == ["optimize_0", "esp", "polarizability"]
    assert set(unit.outputs.stage_parameters) == {"optimize_0", "esp", "polarizability"}

    # the per-stage mode runs three jobs and gives the same charges and polarizability
    _, staged = run_get_node(Charges, **_inputs(psi4, fused=False))
    assert staged.is_finished_ok and len(_psi4_jobs(staged)) == 3 and not _psi4_jobs(staged, "polymer.psi4.unit")
    assert np.allclose(staged.outputs.charges["capped_charges"], capped, rtol=0, atol=1e-6)
    assert staged.outputs.polarizability["polarizability_au"] == pytest.approx(pol["polarizability_au"], rel=1e-6)
    assert np.allclose(staged.outputs.structure.get_ase().positions, first.outputs.structure.get_ase().positions,
                       atol=1e-8)

    # a job killed after the ESP: the stages it finished are read from its output, the one it was in is not
    text = unit.outputs.retrieved.base.repository.get_object_content("output.dat")
    cut = text[:text.index("\n", text.index('@aiida_polymer stage_done "esp"')) + 1]
    files = {name: unit.outputs.retrieved.base.repository.get_object_content(name)
             for name in ("grid.dat", "grid_esp.dat")}
    killed = parse_unit_output(cut + "\n@aiida_polymer stage \"polarizability\"\n  ==> SCF <==\n", files)
    assert killed.done == ["optimize_0", "esp"] and killed.failed_stage == "polarizability"
    assert killed.job.error_kind == "incomplete" and killed.stages["esp"].esp is not None
    assert len(killed.points) == len(killed.stages["esp"].esp) == unit.outputs.esp.get_array("esp").size


def test_a_unit_job_failing_in_a_stage_continues_stage_by_stage(psi4):
    """The polarizability's SCF gets one iteration: the unit job fails there (exit 410) after the optimisation and
    the ESP; only the polarizability runs again, as a job of its own whose handler gives the SCF more iterations."""
    _, node = run_get_node(Charges, **_inputs(psi4, polarizability={"maxiter": 1}))
    assert node.is_finished_ok, node.exit_message
    unit, = _psi4_jobs(node, "polymer.psi4.unit")
    assert unit.exit_status == 410 and "polarizability" in unit.exit_message
    summary = unit.outputs.output_parameters.get_dict()
    assert summary["stages_completed"] == ["optimize_0", "esp"] and summary["failed_stage"] == "polarizability"
    staged = _psi4_jobs(node)
    assert [n.inputs.parameters["task"] for n in staged] == ["polarizability", "polarizability"]
    assert [n.exit_status for n in staged] == [410, 0]  # maxiter 1, then the handler's maxiter 200
    assert node.outputs.structure.uuid == unit.outputs.stage_structure.optimize_0.uuid
    assert node.outputs.charges.creator.inputs.esp.uuid == unit.outputs.esp.uuid  # fitted to the unit job's ESP
    assert node.outputs.polarizability["polarizability_angstrom3"] == pytest.approx(4.04, abs=0.05)


def test_invalid_smiles_stores_nothing_but_the_failure(psi4):
    _, node = run_get_node(Charges, **_inputs(psi4, smiles="*CC", polarizability=None, esp={"basis": "sto-3g"}))
    assert node.is_finished_ok and "polarizability" not in node.outputs  # an end group: fine
    assert len(node.outputs.charges["charges"]) == 7  # CH2-CH3, the cap folded onto the CH2 carbon
    _, node = run_get_node(Charges, **_inputs(psi4, smiles="*C(*)(*)C"))
    assert node.exit_status == 201 and not node.called


@pytest.mark.parametrize("name", ["fast", "screening", "moderate", "precise"])
def test_protocol_levels_are_valid_psi4_tasks(name):
    from aiida_polymer.chem.psi4_io import Psi4Task

    settings = protocol(name)
    for task in ("optimize", "esp", "polarizability"):
        Psi4Task(task=task, **settings[task])
    assert settings["charges"] == "resp" and settings["esp"]["method"] == "hf" and settings["esp"]["basis"] == "6-31g*"
