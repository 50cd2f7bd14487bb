"""Young's modulus and Poisson's ratio from uniaxial deformation (aiida_polymer/chem/mechanics.py): the analysis on
synthetic stress–strain series of known E and ν, the standard errors against the spread of many noisy replicas, and
the LAMMPS input it writes."""

import math

import numpy as np
import pytest

from aiida_polymer.chem import mechanics
from aiida_polymer.chem.analysis import ATM
from aiida_polymer.chem.lammps_input import StageError

GPA_PER_ATM = ATM * 1e-9


def synthetic_run(axis: str, e_gpa: float, nu: float, *, n: int = 400, max_strain: float = 0.03,
                  stress_noise: float = 0.0, strain_noise: float = 0.0, rho: float = 0.0, pressure: float = 1.0,
                  rng: np.random.Generator | None = None) -> dict[str, np.ndarray]:
    """Rows of a run stretched along ``axis``: σ = E ε (GPa) on top of the imposed pressure (atm), lateral strains
    −ν ε, with AR(1) noise of correlation ``rho`` between rows (stress noise in GPa)."""
    rng = rng or np.random.default_rng(0)
    a = "xyz".index(axis)

    def noise(scale: float, size: tuple[int, ...]) -> np.ndarray:
        white = rng.normal(0.0, scale, size)
        out = np.empty_like(white)
        out[0] = white[0]
        for i in range(1, len(white)):
            out[i] = rho * out[i - 1] + math.sqrt(1 - rho**2) * white[i]
        return out

    eps = np.linspace(0.0, max_strain, n)
    strain = np.empty((n, 3))
    pressure_tensor = np.full((n, 3), pressure) + noise(stress_noise / GPA_PER_ATM, (n, 3))
    for b in range(3):
        strain[:, b] = eps if b == a else -nu * eps + noise(strain_noise, (n,))
    pressure_tensor[:, a] -= e_gpa * eps / GPA_PER_ATM  # tension: the pressure along the axis drops
    return {"strain": strain, "pressure": pressure_tensor}


def test_exact_series_give_e_and_nu():
    runs = {axis: synthetic_run(axis, 3.2, 0.35) for axis in "xyz"}
    props, details = mechanics.mechanical_properties(runs, window=(0.0, 0.02))
    assert props["youngs_modulus"]["value"] == pytest.approx(3.2, rel=1e-9)
    assert props["poisson_ratio"]["value"] == pytest.approx(0.35, rel=1e-9)
    assert props["bulk_modulus_uniaxial"]["value"] == pytest.approx(3.2 / (3 * (1 - 0.7)), rel=1e-9)
    for axis in "xyz":
        assert props[f"youngs_modulus_{axis}"]["value"] == pytest.approx(3.2, rel=1e-9)
        assert props[f"poisson_ratio_{axis}"]["unit"] == "1"
    assert props["youngs_modulus"]["unit"] == "GPa" and props["youngs_modulus"]["flags"] == []
    assert details["directions"]["x"]["strain_range"][1] <= 0.02 and details["passed"]


def test_window_selects_the_small_strain_slope():
    """A stress that stiffens beyond 2 %: the 0–2 % window sees only the linear part."""
    run = synthetic_run("y", 2.0, 0.4, max_strain=0.06)
    eps = run["strain"][:, 1]
    run["pressure"][:, 1] -= np.where(eps > 0.02, 5.0 * (eps - 0.02), 0.0) / GPA_PER_ATM
    d = mechanics.direction_moduli(run["strain"], run["pressure"], "y", window=(0.0, 0.02))
    assert d["youngs_modulus"]["value"] == pytest.approx(2.0, rel=1e-9)
    assert mechanics.direction_moduli(run["strain"], run["pressure"], "y", window=(0.0, 0.06))[
        "youngs_modulus"]["value"] > 2.5


def test_lateral_ratios_are_averaged_and_not_swapped():
    """Different lateral contractions (an anisotropic cell): ν is their mean, each one is reported."""
    run = synthetic_run("z", 1.0, 0.3)
    eps = run["strain"][:, 2]
    run["strain"][:, 0] = -0.2 * eps
    run["strain"][:, 1] = -0.4 * eps
    d = mechanics.direction_moduli(run["strain"], run["pressure"], "z")
    assert d["poisson_ratio"]["value"] == pytest.approx(0.3, rel=1e-9)
    assert d["lateral_ratios"] == pytest.approx({"x": 0.2, "y": 0.4})


def test_noisy_series_recovered_and_standard_errors_calibrated():
    """200 replicas with correlated noise (AR(1), ρ = 0.8, statistical inefficiency (1 + ρ)/(1 − ρ) = 9): the
    estimates scatter around the truth by about the SE they report (measured: scatter/SE 1.14; a plain least-squares
    SE would be ~3× too small). The reblocking estimate of g falls short for longer correlations (ρ = 0.95: the SE
    is ~1.4× too small), as reblocking does with few independent samples."""
    rng = np.random.default_rng(42)
    e_hat, e_se, nu_hat, nu_se, g = [], [], [], [], []
    for _ in range(200):
        run = synthetic_run("x", 3.0, 0.38, n=600, stress_noise=0.02, strain_noise=2e-4, rho=0.8, rng=rng)
        d = mechanics.direction_moduli(run["strain"], run["pressure"], "x")
        e_hat.append(d["youngs_modulus"]["value"])
        e_se.append(d["youngs_modulus"]["stderr"])
        nu_hat.append(d["poisson_ratio"]["value"])
        nu_se.append(d["poisson_ratio"]["stderr"])
        g.append(d["stress_fit"]["inefficiency"])
    assert np.median(g) > 4.0
    for values, ses, truth in ((e_hat, e_se, 3.0), (nu_hat, nu_se, 0.38)):
        values, ses = np.array(values), np.array(ses)
        assert abs(values.mean() - truth) < 3 * values.std() / math.sqrt(len(values))  # unbiased
        ratio = values.std() / ses.mean()
        assert 0.7 < ratio < 1.4, ratio  # the SE matches the scatter


def test_average_standard_error_is_the_larger_of_fit_and_spread():
    rng = np.random.default_rng(1)
    runs = {axis: synthetic_run(axis, e, 0.3, stress_noise=0.0005, rng=rng) for axis, e in zip("xyz", (2.0, 2.2, 2.4),
                                                                                             strict=True)}
    props, _ = mechanics.mechanical_properties(runs)
    e = props["youngs_modulus"]
    assert e["value"] == pytest.approx(2.2, abs=0.01)
    assert e["stderr_directions"] == pytest.approx(np.std([2.0, 2.2, 2.4], ddof=1) / math.sqrt(3), rel=0.05)
    assert e["stderr"] == max(e["stderr_fit"], e["stderr_directions"]) == e["stderr_directions"]
    fit = mechanics.combine([1.0, 1.0, 1.0], [0.3, 0.3, 0.3])
    assert fit["stderr"] == pytest.approx(0.3 / math.sqrt(3)) and fit["stderr_directions"] == 0.0


def test_bulk_modulus_and_its_error():
    k, se = mechanics.bulk_modulus(3.0, 0.1, 0.25, 0.01)
    assert k == pytest.approx(2.0)
    assert se == pytest.approx(math.hypot(0.1 / 1.5, 6 * 3.0 / 1.5**2 * 0.01))
    runs = {"x": synthetic_run("x", 1.0, 0.55)}
    props, details = mechanics.mechanical_properties(runs)
    assert "unphysical" in props["poisson_ratio"]["flags"] and "unphysical" in props["bulk_modulus_uniaxial"]["flags"]
    assert not details["passed"]


def test_short_runs_are_flagged_or_refused():
    run = synthetic_run("x", 1.0, 0.3, n=40, max_strain=0.01)
    d = mechanics.direction_moduli(run["strain"], run["pressure"], "x", window=(0.0, 0.02))
    assert "strain_window_not_reached" in d["flags"] and "few_strain_points" not in d["flags"]
    few = mechanics.direction_moduli(run["strain"][:6], run["pressure"][:6], "x", min_points=10)
    assert "few_strain_points" in few["flags"]
    with pytest.raises(mechanics.MechanicsError, match="samples with axial strain"):
        mechanics.direction_moduli(run["strain"][:2], run["pressure"][:2], "x")


def test_units_lj_and_metal():
    run = synthetic_run("x", 1.0, 0.3)
    d = mechanics.direction_moduli(run["strain"], run["pressure"], "x", units="lj")
    assert d["youngs_modulus"]["value"] == pytest.approx(1.0 / GPA_PER_ATM, rel=1e-9)
    assert d["youngs_modulus"]["unit"] == "epsilon/sigma^3"
    m = mechanics.direction_moduli(run["strain"], run["pressure"], "x", units="metal")
    assert m["youngs_modulus"]["value"] == pytest.approx(1e-4 / GPA_PER_ATM, rel=1e-9)


SETTINGS = {"temperature": 300.0, "pressure": 1.0,
            "md": {"timestep": 1.0, "kspace_accuracy": 1e-5, "cutoff_inner": 8.0, "cutoff": 12.0, "shake": True},
            "deformation": {"strain_rate": 1e8, "max_strain": 0.03, "sample_every": 10, "average": 10,
                            "pdamp": 1000.0}}


def test_input_deforms_each_axis_from_the_same_cell():
    text = mechanics.deformation_input("system.data", SETTINGS)
    parts = text.split("clear\n")
    assert len(parts) == 3
    for axis, part in zip("xyz", parts, strict=True):
        lateral = [a for a in "xyz" if a != axis]
        assert "read_data system.data" in part  # every direction from the same starting cell
        assert "pair_style lj/charmm/coul/long 8 12" in part and "kspace_style pppm 1e-05" in part
        assert "fix shake all shake" in part
        assert (f"fix integrate all npt temp 300 300 100 {lateral[0]} 1 1 1000 {lateral[1]} 1 1 1000 couple none"
                in part)
        assert f"fix uniaxial all deform 1 {axis} erate 1e-07 units box remap x" in part
        assert f"file deform_{axis}.dat" in part and "c_thermo_press[1] c_thermo_press[2] c_thermo_press[3]" in part
        assert "run 300000 upto start 0 stop 300000" in part  # 3 % at 1e8 1/s with 1 fs steps
    assert parts[-1].rstrip().endswith("write_data final.data")


def test_reference_lengths_and_continuation():
    stage = mechanics.deformation_stage("y", SETTINGS, reference=[30.0, 31.0, 32.0])
    from aiida_polymer.chem.lammps_input import render

    text = render(stage, "parent.restart", continuation=True)
    assert "variable uniaxial_l0_y equal 31.0" in text and "read_restart parent.restart" in text
    with pytest.raises(StageError, match="reference"):
        render(mechanics.deformation_stage("y", SETTINGS), "parent.restart", continuation=True)
    with pytest.raises(StageError, match="npt"):
        mechanics.Stage(ensemble="nvt", uniaxial={"axis": "x"}).validate()
    assert mechanics.atom_steps(SETTINGS, 1000) == 3 * 300000 * 1000


def test_read_deformation_file():
    text = ("# Time-averaged data for fix uniaxial_sample\n# TimeStep v_uniaxial_strain_x ...\n"
            "100 1e-05 -3e-06 -4e-06 -10.5 1.2 0.8 300.1\n200 2e-05 -6e-06 -7e-06 -20.5 1.1 0.9 299.9\n300 3e-05")
    table = mechanics.read_deformation(text)
    assert table["step"].tolist() == [100, 200]
    assert table["strain"][1].tolist() == [2e-05, -6e-06, -7e-06]
    assert table["pressure"][0].tolist() == [-10.5, 1.2, 0.8] and table["temp"].tolist() == [300.1, 299.9]


@pytest.mark.parametrize("name", ["fast", "screening", "moderate", "precise"])
def test_shipped_protocols_validate_and_give_the_stated_steps(name):
    settings = mechanics.protocol(name)
    # 3 % at 1e10, 1e9, 1e9, 1e8 1/s with 1, 2, 1, 1 fs
    steps = {"fast": 3000, "screening": 15000, "moderate": 30000, "precise": 300000}[name]
    assert [s.steps for s in mechanics.stages(settings)] == [steps] * 3
    assert mechanics.analysis_parameters(settings)["window"] == [0.0, 0.02]
    if name == "precise":
        assert mechanics.atom_steps(settings, 10_000) == 9_000_000_000


def test_protocol_typos_are_refused():
    from aiida_polymer.chem.protocols import ProtocolError

    with pytest.raises(ProtocolError, match="strain_rte"):
        mechanics.protocol("fast", {"deformation": {"strain_rte": 1.0}})
    with pytest.raises(ProtocolError, match="window"):
        mechanics.protocol("fast", {"analysis": {"window": [0.0]}})
