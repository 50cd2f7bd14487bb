"""``polymer.compute_properties``: time series carry their own time axis; flags are passed on."""

import io

import numpy as np
import pytest
from aiida import orm
from aiida.plugins import CalculationFactory

from aiida_polymer.chem.builder import CellSpec, build_cell

compute_properties = CalculationFactory("polymer.compute_properties")


def _arrays(**arrays):
    node = orm.ArrayData()
    for name, value in arrays.items():
        node.set_array(name, np.asarray(value))
    return node


def test_diffusion_uses_the_time_axis_that_ran(aiida_profile):
    # chains random-walking with D = 2e-9 m²/s sampled every 100 steps of 0.25 fs (a stage halved twice from 1 fs):
    # D must come from the series' own time axis, whatever timestep the protocol had
    rng = np.random.default_rng(3)
    cell = build_cell(CellSpec(smiles=["*CC*"], n_chains=6, atoms_per_chain=20, density=0.5, seed=1))
    frames, chains, dt, every = 4000, 6, 0.25, 100
    d_si = 2e-9
    step_sd = np.sqrt(2 * d_si * 1e20 / 1e15 * dt * every)  # Å per axis per sample
    com = np.cumsum(rng.normal(0.0, step_sd, (frames, chains, 3)), axis=0)
    steps = np.arange(frames) * every
    n = 500
    thermo = _arrays(step=np.arange(n), vol=rng.normal(20000.0, 50.0, n), etotal=rng.normal(-1000.0, 5.0, n),
                     temp=np.full(n, 300.0), density=rng.normal(0.9, 0.01, n))
    results = compute_properties(
        thermo, _arrays(step=steps[:10], values=np.full((10, chains), 5.0)),
        _arrays(step=steps, time=steps * dt, values=com), _arrays(step=steps, dipole=rng.normal(0, 1, (frames, 3))),
        orm.SinglefileData(io.BytesIO(cell.data_file().encode()), filename="final.data"),
        orm.Dict({"converged": True}),
        orm.Dict({"temperature": 300.0, "pressure": 1.0, "timestep": 1.0, "flags": ["cutoff_exceeds_half_box"]}))
    entry = results["self_diffusion"]
    # the system's COM drift is removed: independent walkers lose 1/N of their MSD
    expected = d_si * (1 - 1 / chains)
    assert entry["value"] == pytest.approx(expected, abs=3 * entry["stderr"])
    assert entry["stderr"] < 0.2 * expected and abs(entry["exponent"] - 1) < 0.15
    assert "subdiffusive" not in entry["flags"]
    assert all("cutoff_exceeds_half_box" in p["flags"] for p in results.get_dict().values())
