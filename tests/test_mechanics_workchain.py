"""``polymer.mechanics`` with the real LAMMPS on a tiny polyethylene cell (a few hundred steps per direction)."""

import io

import numpy as np
import pytest
from aiida import orm
from aiida.engine import run_get_node
from aiida.plugins import CalculationFactory, WorkflowFactory

from aiida_polymer.chem import mechanics
from aiida_polymer.chem.builder import CellSpec, build_cell
from aiida_polymer.chem.lammps_io import read_data

Mechanics = WorkflowFactory("polymer.mechanics")
LammpsCalculation = CalculationFactory("polymer.lammps")

# fast protocol, cheaper potential, 3 % in 300 steps: the plumbing, not the values
OVERRIDES = {
    "md": {"timestep": 1.0, "kspace_accuracy": 1e-4, "cutoff_inner": 4.0, "cutoff": 5.0},
    "deformation": {"strain_rate": 1e11, "max_strain": 0.03, "sample_every": 5, "average": 1},
    "analysis": {"window": [0.0, 0.02], "min_points": 10},
}
OPTIONS = {"withmpi": False, "resources": {"num_machines": 1}}


@pytest.fixture(scope="module")
def pe_data():
    cell = build_cell(CellSpec(smiles=["*CC*"], n_chains=3, atoms_per_chain=44, density=0.6, seed=4))
    return cell.data_file()


def test_mechanics_workchain_deforms_each_axis_and_fits(polymer_codes, pe_data):
    final_data = orm.SinglefileData(io.BytesIO(pe_data.encode()), filename="final.data")
    builder = Mechanics.get_builder_from_protocol(polymer_codes["lmp"], final_data, protocol="fast",
                                                  overrides=OVERRIDES, options=dict(OPTIONS))
    results, node = run_get_node(builder)
    assert node.exit_status in (0, 410), node.exit_message  # 410: a gate (noise of 300 steps may give E < 0)
    calcs = sorted((c for c in node.called_descendants if c.process_class is LammpsCalculation), key=lambda c: c.ctime)
    assert len(calcs) == 3  # one job per direction, each from the same cell
    box = read_data(pe_data).box
    arrays = {}
    for calc in calcs:
        stage = calc.inputs.stage.get_dict()
        axis = stage["uniaxial"]["axis"]
        assert calc.inputs.data_file.uuid == final_data.uuid
        assert stage["uniaxial"]["reference"] == pytest.approx(box.tolist())
        assert stage["steps"] == 300 and stage["ensemble"] == "npt"
        out = calc.outputs.deformation
        strain, step = out.get_array("strain"), out.get_array("step")
        assert strain.shape == (61, 3) and step[0] == 0 and step[-1] == 300  # average 1: a row at step 0 too
        assert out.get_array("time") == pytest.approx(step * 1.0)
        assert strain[-1, "xyz".index(axis)] == pytest.approx(0.03, rel=1e-6)  # the imposed strain, from the box
        assert strain[0] == pytest.approx([0, 0, 0], abs=1e-12)
        arrays[axis] = {"strain": strain, "pressure": out.get_array("pressure")}
    props = results["properties"].get_dict()
    expected, _ = mechanics.mechanical_properties(arrays, window=(0.0, 0.02), min_points=10)
    for name in ("youngs_modulus", "poisson_ratio", "bulk_modulus_uniaxial", "youngs_modulus_x", "poisson_ratio_z"):
        assert props[name]["value"] == pytest.approx(expected[name]["value"])
        assert props[name]["stderr"] == pytest.approx(expected[name]["stderr"])
    assert props["youngs_modulus"]["unit"] == "GPa" and props["poisson_ratio"]["unit"] == "1"
    details = results["mechanics"].get_dict()
    assert set(details["directions"]) == {"x", "y", "z"} and details["window"] == [0.0, 0.02]
    assert (node.exit_status == 0) == details["passed"]
    assert np.isfinite(props["youngs_modulus"]["value"])


def test_protocol_is_checked_before_running(polymer_codes, pe_data):
    final_data = orm.SinglefileData(io.BytesIO(pe_data.encode()), filename="final.data")
    builder = Mechanics.get_builder_from_protocol(polymer_codes["lmp"], final_data, protocol="fast")
    settings = builder.protocol.get_dict()
    settings["deformation"]["strain_rte"] = 1.0
    with pytest.raises(ValueError, match="strain_rte"):
        builder.protocol = orm.Dict(settings)
        run_get_node(builder)
