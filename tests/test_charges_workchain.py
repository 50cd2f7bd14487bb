"""``polymer.charges`` end to end with the real psi4 on polyethylene's unit (ethane when capped), and caching."""

import numpy as np
import pytest
from aiida import orm
from aiida.engine import run_get_node
from aiida.manage.caching import enable_caching
from aiida.plugins import WorkflowFactory
from rdkit import Chem

from aiida_polymer.chem.conformers import search
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


def _psi4_jobs(node):
    return [n for n in node.called_descendants if n.process_type == "aiida.calculations:polymer.psi4"]


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

    first_jobs, second_jobs = _psi4_jobs(first), _psi4_jobs(second)
    assert len(first_jobs) == 3 and not any(n.base.caching.is_created_from_cache for n in first_jobs)
    assert len(second_jobs) == 3 and all(n.base.caching.is_created_from_cache for n in second_jobs)
    assert second.outputs.charges.get_dict()["charges"] == charges["charges"]


def test_invalid_smiles_stores_nothing_but_the_failure(psi4):
    _, node = run_get_node(Charges, **_inputs(psi4, smiles="*CC", polarizability=None, esp={"basis": "sto-3g"}))
    assert node.is_finished_ok and "polarizability" not in node.outputs  # an end group: fine
    assert len(node.outputs.charges["charges"]) == 7  # CH2-CH3, the cap folded onto the CH2 carbon
    _, node = run_get_node(Charges, **_inputs(psi4, smiles="*C(*)(*)C"))
    assert node.exit_status == 201 and not node.called


@pytest.mark.parametrize("name", ["fast", "moderate", "precise"])
def test_protocol_levels_are_valid_psi4_tasks(name):
    from aiida_polymer.chem.psi4_io import Psi4Task

    settings = protocol(name)
    for task in ("optimize", "esp", "polarizability"):
        Psi4Task(task=task, **settings[task])
    assert settings["charges"] == "resp" and settings["esp"]["method"] == "hf" and settings["esp"]["basis"] == "6-31g*"
