"""``polymer.glass_transition``: the calcfunction on synthetic holds with a known break (pieces joined), and the
workchain with the real LAMMPS on a tiny polyethylene cell (a few thousand steps; Tg itself is noise there)."""

import io

import numpy as np
import pytest
from aiida import orm
from aiida.engine import run_get_node
from aiida.plugins import CalculationFactory, WorkflowFactory

from aiida_polymer.chem import glass_transition as tg
from aiida_polymer.chem.builder import CellSpec, build_cell

GlassTransition = WorkflowFactory("polymer.glass_transition")
LammpsCalculation = CalculationFactory("polymer.lammps")
compute_glass_transition = CalculationFactory("polymer.compute_glass_transition")

OVERRIDES = {
    "md": {"timestep": 1.0, "kspace_accuracy": 1e-4, "cutoff_inner": 4.0, "cutoff": 5.0},
    "cooling": {"t_initial": 300.0, "heat_rate": 1.0e5, "t_start": 400.0, "t_end": 200.0, "step": 20.0,
                "rate": 1.0e5, "hold": 0.5, "start_hold": 0.5, "thermo_every": 50, "discard": 0.2},
    "analysis": {"min_points": 10, "min_side": 3},
}
OPTIONS = {"withmpi": False, "resources": {"num_machines": 1}}


def _array(**arrays):
    node = orm.ArrayData()
    for key, values in arrays.items():
        node.set_array(key, np.asarray(values))
    return node


def test_compute_glass_transition_joins_pieces_and_finds_the_break(aiida_profile):
    """Synthetic holds: v(T) two lines meeting at 380 K; the hold at 450 K is split over two runs (the first
    piece's rows from step 600 on are replaced by the continuation's), the hold at 300 K was cut short in one run
    and rerun from its start in the next."""
    schedule = tg.CoolingSchedule(t_start=600, t_end=200, step=10, rate=1000, hold=1, start_hold=1, timestep=1.0,
                                  thermo_every=100)
    step = np.arange(0, 1001, 100)
    holds = {}
    for i, t in enumerate(schedule.temperatures):
        v = 1.0 + 2e-4 * (t - 380) + (4e-4 * (t - 380) if t > 380 else 0.0)
        rho = np.full(step.size, 1.0 / v)
        series = {"step": step, "density": rho, "temp": np.full(step.size, t)}
        name = tg.hold_name(i)
        if t == 450:
            holds[f"{name}__0"] = _array(**{k: np.where(step >= 600, 9.9, x) if k == "density" else x
                                            for k, x in series.items()})
            holds[f"{name}__1"] = _array(**{k: x[step >= 600] for k, x in series.items()})
        elif t == 300:
            holds[f"{name}__0"] = _array(**{k: x[:4] * (2 if k == "density" else 1) for k, x in series.items()})
            holds[f"{name}__1"] = _array(**series)
        else:
            holds[f"{name}__0"] = _array(**series)
    parameters = orm.Dict({"schedule": schedule.to_dict(), "analysis": {"min_side": 3}, "flags": []})
    results, node = compute_glass_transition.run_get_node(parameters=parameters, **holds)
    assert node.is_finished_ok, node.exit_message
    table = results["holds"]
    assert len(table.get_array("density")) == 41
    t = table.get_array("set_temperature")
    assert table.get_array("density")[t == 450][0] == pytest.approx(1.0 / (1.0 + 2e-4 * 70 + 4e-4 * 70))
    assert table.get_array("density")[t == 300][0] == pytest.approx(1.0 / (1.0 - 2e-4 * 80))
    props = results["properties"].get_dict()
    assert props["glass_transition_temperature"]["value"] == pytest.approx(380.0, abs=0.5)
    # α = slope/v(Tg), v(380 K) = 1; the break on a grid of 0.36 K biases the slopes by a few 0.1 %
    assert props["thermal_expansion_above_tg"]["value"] == pytest.approx(6e-4, rel=5e-3)
    assert props["thermal_expansion_below_tg"]["value"] == pytest.approx(2e-4, rel=5e-3)
    assert results["glass_transition"]["n"] == 41


@pytest.fixture(scope="module")
def pe_data():
    cell = build_cell(CellSpec(smiles=["*CC*"], n_chains=3, atoms_per_chain=44, density=0.8, seed=4))
    return cell.data_file()


def test_glass_transition_workchain_runs_the_cooling_as_one_job(polymer_codes, pe_data):
    final_data = orm.SinglefileData(io.BytesIO(pe_data.encode()), filename="final.data")
    builder = GlassTransition.get_builder_from_protocol(polymer_codes["lmp"], final_data, protocol="fast",
                                                        overrides=OVERRIDES, options=dict(OPTIONS))
    results, node = run_get_node(builder)
    entry = results["properties"]["glass_transition_temperature"]
    gated = [f for f in entry["flags"] if f in tg.GATE_FLAGS]
    assert node.exit_status == (410 if gated else 0), node.exit_message  # 0.5-ps holds of 132 atoms: noise
    calcs = [c for c in node.called_descendants if c.process_class is LammpsCalculation]
    assert len(calcs) == 1  # the whole cooling is one job (a phase)
    stages = calcs[0].inputs.stage["stages"]
    names = [s["name"] for s in stages]
    assert names[:4] == ["tg_heat", "tg_hold_000", "tg_ramp_001", "tg_hold_001"] and len(names) == 1 + 11 + 10
    assert stages[0]["temperature"] == [300.0, 400.0] and stages[2]["temperature"] == [400.0, 380.0]
    assert all(s["ensemble"] == "npt" and s["shake"] for s in stages)
    # each hold's density is the mean of its thermo after the discarded 20 % (500 steps: samples 150 … 500)
    holds = results["holds"]
    assert holds.get_array("set_temperature").tolist() == [400.0 - 20 * i for i in range(11)]
    thermo = calcs[0].outputs.stage_thermo
    for i in range(11):
        series = thermo[tg.hold_name(i)]
        step, rho = series.get_array("step"), series.get_array("density")
        assert holds.get_array("density")[i] == pytest.approx(rho[(step > 100) & (step <= 500)].mean(), rel=1e-9)
    ramp = thermo["tg_ramp_005"]
    assert ramp.get_array("step")[-1] == 200  # 20 K at 1e5 K/ns: 0.2 ps
    assert entry["unit"] == "K" and results["properties"]["thermal_expansion_above_tg"]["unit"] == "1/K"
    assert results["glass_transition"]["n"] == 11
