"""Müller-Plathe NEMD analysis on synthetic profiles with a known answer, the gates, files, protocols, stages."""

import numpy as np
import pytest

from aiida_polymer.chem import nemd
from aiida_polymer.chem.analysis import AVOGADRO, KCAL
from aiida_polymer.chem.lammps_input import NEMD_FILES, Stage, StageError, heat_flux_terms, render

N_SLABS, BOX = 20, (60.0, 20.0, 25.0)  # Å; the axis is x
AREA = BOX[1] * BOX[2]
TIMESTEP, WINDOW, FRAMES = 0.5, 2000, 50  # fs, steps per profile frame, frames
T_COLD, GRADIENT = 280.0, 0.8  # K, K/Å


def distance_from_cold(n: int = N_SLABS, length: float = BOX[0]) -> np.ndarray:
    """Periodic distance of each slab centre from the centre of slab 0 (the cold reservoir), in Å."""
    x = (np.arange(n) + 0.5) * length / n
    d = np.abs(x - x[0])
    return np.minimum(d, length - d)


def frames_of(profile: np.ndarray, frames: int = FRAMES, noise: float = 0.0, seed: int = 1) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return profile[None, :] + noise * rng.standard_normal((frames, len(profile)))


def exchanged_energy(kappa_si: float, gradient_k_per_a: float, frames: int = FRAMES, swap_every: int = 100):
    """Cumulative exchanged energy (kcal/mol) at the swap steps that makes κ = ``kappa_si`` for this gradient."""
    flux_si = kappa_si * gradient_k_per_a * 1e10  # W/m²
    rate = flux_si * 2 * AREA * 1e-20 * 1e-15 / (KCAL / AVOGADRO)  # kcal/mol per fs
    steps = np.arange(0, frames * WINDOW + 1, swap_every)
    return steps, rate * steps * TIMESTEP


def analyse(temp: np.ndarray, flux_steps: np.ndarray, energy: np.ndarray, **kwargs):
    steps = WINDOW * np.arange(1, len(temp) + 1)
    return nemd.thermal_conductivity(steps, temp, flux_steps, energy, BOX, TIMESTEP, **kwargs)


def test_linear_profile_gives_the_imposed_kappa_exactly():
    temp = frames_of(T_COLD + GRADIENT * distance_from_cold())
    result = analyse(temp, *exchanged_energy(0.25, GRADIENT))
    assert result["passed"] and result["flags"] == []
    assert result["kappa"]["value"] == pytest.approx(0.25, rel=1e-9)
    assert result["kappa"]["unit"] == "W/(m K)" and result["kappa"]["stderr"] == pytest.approx(0.0, abs=1e-12)
    assert result["gradient"]["value"] == pytest.approx(GRADIENT * 1e10, rel=1e-9)
    assert result["slopes"][0] == pytest.approx(GRADIENT * 1e10) and result["slopes"][1] == pytest.approx(
        -GRADIENT * 1e10
    )
    assert result["r2"] == pytest.approx([1.0, 1.0])
    assert result["temperature_difference"] == pytest.approx(GRADIENT * BOX[0] / 2)
    assert result["frames"] == 40 and result["window"] == [10 * WINDOW, FRAMES * WINDOW]  # 20 % discarded


def test_noisy_linear_profile_within_its_standard_error():
    temp = frames_of(T_COLD + GRADIENT * distance_from_cold(), noise=3.0, frames=200)
    result = analyse(temp, *exchanged_energy(0.25, GRADIENT, frames=200), nblocks=10)
    kappa = result["kappa"]
    assert result["passed"], result["flags"]
    assert 0 < kappa["stderr"] < 0.02 * kappa["value"]
    assert abs(kappa["value"] - 0.25) < 4 * kappa["stderr"]
    assert len(result["block_kappa"]) == 10 and len(result["block_r2"]) == 10


def test_reduced_units_and_reversed_reservoirs():
    # lj units: κ* = J*/∇T* directly; a profile with the hot reservoir at slab 0 gives the same κ
    box, dt, g, kappa = (30.0, 8.0, 8.0), 0.005, 0.01, 7.0
    d = distance_from_cold(length=box[0])
    temp = frames_of(0.8 - g * d, frames=10)
    steps = np.arange(0, 10 * WINDOW + 1, 50)
    energy = kappa * g * 2 * box[1] * box[2] * steps * dt
    result = nemd.thermal_conductivity(WINDOW * np.arange(1, 11), temp, steps, energy, box, dt, units="lj")
    assert result["kappa"]["value"] == pytest.approx(kappa) and result["kappa"]["unit"] == "k_B/(sigma tau)"
    assert result["passed"] and result["temperature_difference"] < 0


@pytest.mark.parametrize(
    ("shape", "r2_below"),
    [
        ("quadratic", 0.98),  # T = Tc + c d²: r² = 0.971 on slabs 2..8
        ("step", 0.8),  # a jump half-way between the reservoirs
        ("hump", 0.1),  # a maximum half-way between the reservoirs
    ],
)
def test_nonlinear_profiles_are_rejected(shape, r2_below):
    d = distance_from_cold() / (BOX[0] / N_SLABS)  # in slab widths, 0..10
    profile = {"quadratic": T_COLD + 0.5 * d**2, "step": T_COLD + 20.0 * (d > 5), "hump": T_COLD + 20.0 - (d - 5) ** 2}[
        shape
    ]
    result = analyse(frames_of(profile), *exchanged_energy(0.25, GRADIENT))
    assert not result["passed"]
    assert "nonlinear_profile" in result["flags"]
    assert ("nonlinear_profile_blocks" in result["flags"]) == (shape != "quadratic")  # blocks: r² ≥ 0.9 only
    assert min(result["r2"]) < r2_below
    assert np.isfinite(result["kappa"]["value"])  # still reported, but flagged


def test_profiles_linear_only_on_average_are_rejected_by_the_block_gate():
    # the first half of the run bows up, the second bows down: the mean is exactly linear, no block is
    linear = T_COLD + GRADIENT * distance_from_cold()
    bow = 15.0 * np.sin(np.pi * distance_from_cold() / (BOX[0] / 2))
    temp = np.concatenate([frames_of(linear + bow, 25), frames_of(linear - bow, 25)])
    result = analyse(temp, *exchanged_energy(0.25, GRADIENT), discard=0.0, nblocks=5)
    assert min(result["r2"]) > 0.999
    assert result["flags"] == ["nonlinear_profile_blocks"] and not result["passed"]


def test_no_gradient_and_asymmetry_flags():
    x = (np.arange(N_SLABS) + 0.5) * BOX[0] / N_SLABS
    result = analyse(frames_of(T_COLD + GRADIENT * x), *exchanged_energy(0.25, GRADIENT))  # one slope everywhere
    assert "no_gradient" in result["flags"] and not result["passed"]
    d = distance_from_cold()
    lopsided = T_COLD + np.where(np.arange(N_SLABS) < N_SLABS // 2, GRADIENT, 0.5 * GRADIENT) * d
    result = analyse(frames_of(lopsided), *exchanged_energy(0.25, GRADIENT))
    assert result["flags"] == ["asymmetric_profile"] and result["passed"]


def test_too_short_runs_raise_or_are_flagged():
    profile = T_COLD + GRADIENT * distance_from_cold()
    with pytest.raises(nemd.NemdError, match="run longer"):
        analyse(frames_of(profile, 2), *exchanged_energy(0.25, GRADIENT, frames=2), discard=0.5)
    result = analyse(frames_of(profile, 4), *exchanged_energy(0.25, GRADIENT, frames=4), nblocks=5)
    assert result["flags"] == ["few_blocks"] and result["nblocks"] == 3
    with pytest.raises(nemd.NemdError, match="points per half"):
        nemd.half_slabs(8, exclude_neighbours=1)


def test_files_and_merging_continued_segments():
    profile_text = (
        "# Chunk-averaged data for fix nemd_profile and group all\n# Timestep Number-of-chunks Total-count\n"
        "# Chunk Coord1 Ncount temp\n"
    )
    for step in (400, 800):
        profile_text += f"{step} 4 100\n" + "".join(
            f"  {i + 1} {0.125 + 0.25 * i} 25 {300 + i + step / 400}\n" for i in range(4)
        )
    profile_text += "1200 4 100\n  1 0.125 25 301\n  2 0.37"  # an interrupted write
    profile = nemd.read_profile(profile_text)
    assert profile["step"].tolist() == [400, 800] and profile["temp"].shape == (2, 4)
    assert profile["temp"][1].tolist() == [302.0, 303.0, 304.0, 305.0] and profile["coord"][0, 1] == 0.375
    flux = nemd.read_flux("# Time-averaged data for fix nemd_flux\n# TimeStep f_nemd\n0 0\n100 1.5\n200 3.0\n30")
    assert flux["step"].tolist() == [0, 100, 200] and flux["energy"].tolist() == [0.0, 1.5, 3.0]
    assert nemd.read_profile("")["temp"].shape == (0, 0)



def test_diffusivity_and_reduced_units():
    assert nemd.thermal_diffusivity(0.2, 1.0, 2000.0) == pytest.approx(1e-7)
    # argon: k_B/(σ τ) with σ = 3.405 Å, τ = σ √(m/ε) = 2.156 ps is 0.01881 W/(m K)
    assert nemd.reduced_kappa(0.018808, 3.405, 119.8, 39.948) == pytest.approx(1.0, rel=1e-3)


def test_skip_reason():
    converged = {"converged": True, "checks": {"density": {"pass": True}}}
    ok = {"density": {"value": 0.9, "flags": []}, "nematic_order": {"value": 0.05, "flags": []}}
    assert nemd.skip_reason(ok, converged) is None
    assert nemd.skip_reason(None, None) is None
    reason = nemd.skip_reason(ok, {"converged": False, "checks": {"density": {"pass": False}, "ke": {"pass": True}}})
    assert reason == "not_equilibrated: failing checks density"
    aligned = {**ok, "nematic_order": {"value": 0.1, "flags": []}}
    assert nemd.skip_reason(aligned, converged).startswith("nematic_order: S = 0.100")
    flagged = {"density": {"value": 0.9, "flags": ["not_converged"]}}
    assert nemd.skip_reason(flagged, None).startswith("not_equilibrated")


def test_protocols_and_stages():
    precise = nemd.protocol("precise")
    nvt, run = nemd.stages(precise)
    assert run.steps == 5_000_000 and run.timestep == 0.2 and not run.shake and run.ensemble == "nve"
    assert run.nemd_settings["swap_every"] == 1000 and run.nemd_settings["n_slabs"] == 20
    assert nvt.replicate == [3, 1, 1] and nvt.velocity_seed is not None and run.replicate is None
    assert nemd.analysis_parameters(precise)["axis"] == "x"
    fast = nemd.protocol("fast", {"nemd": {"duration": 1.0}, "temperature": 350.0})
    nvt, run = nemd.stages(fast)
    assert run.steps == 2000 and run.temperature == 350.0 and fast["nemd"]["swap_every"] == 100
    nvt, run = nemd.stages(nemd.protocol("fast", {"nvt": {"steps": 123}, "nemd": {"steps": 4567}}))
    assert (nvt.steps, run.steps) == (123, 4567) and "steps" not in run.nemd
    assert nemd.protocol()["description"] == nemd.protocol("moderate")["description"]
    with pytest.raises(ValueError, match="unknown protocol"):
        nemd.protocol("slow")


def test_nemd_stage_rendering():
    stage = Stage.from_dict(
        {
            "name": "nemd",
            "ensemble": "nve",
            "steps": 1000,
            "replicate": [3, 1, 1],
            "nemd": {"swap_every": 50, "n_slabs": 10, "axis": "z", "profile_window": 500},
        }
    )
    script = render(stage, "system.data")
    lines = script.splitlines()
    assert lines.index("read_data system.data") + 1 == lines.index("replicate 3 1 1")
    assert "compute nemd_slabs all chunk/atom bin/1d z lower 0.1 units reduced" in lines
    assert f"fix nemd_profile all ave/chunk 100 5 500 nemd_slabs temp file {NEMD_FILES['nemd_profile']}" in lines
    assert lines.index("fix nemd_profile all ave/chunk 100 5 500 nemd_slabs temp file nemd_profile.dat") < lines.index(
        "fix nemd all thermal/conductivity 50 z 10"
    )
    assert f"fix nemd_flux all ave/time 50 1 50 f_nemd file {NEMD_FILES['nemd_flux']}" in lines
    assert "replicate" not in render(stage, "final.restart", continuation=True)
    swaps = Stage.from_dict({"ensemble": "nve", "nemd": {"n_swap": 2}})
    assert "fix nemd all thermal/conductivity 1000 x 20 swap 2" in render(swaps, "s.data")


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ({"ensemble": "nvt", "nemd": {}}, "nve"),
        ({"ensemble": "nve", "nemd": {"n_slabs": 7}}, "even"),
        ({"ensemble": "nve", "nemd": {"slabs": 7}}, "unknown nemd"),
        ({"ensemble": "nve", "nemd": {"axis": "r"}}, "axis"),
        ({"ensemble": "nve", "nemd": {"profile_every": 300}}, "multiple"),
        ({"replicate": [3, 1]}, "replicate"),
        ({"ensemble": "nve", "nemd": {"swap_every": 0}}, "positive"),
    ],
)
def test_bad_nemd_stages(spec, message):
    with pytest.raises(StageError, match=message):
        Stage.from_dict(spec)


def slab_heat_flux(flux_si: float, frames: int = FRAMES, reservoirs: float = 5.0) -> np.ndarray:
    """Per-slab sums of a term's heat flux (kcal/mol·Å/fs) carrying ``flux_si`` (W/m²) away from the middle slab
    (−x in half A, +x in half B); the reservoir slabs get an unrelated value, which the analysis must ignore."""
    per_slab = flux_si * (1e-20 * 1e-15 / (KCAL / AVOGADRO)) * (BOX[0] * AREA / N_SLABS)
    sign = np.where(np.arange(N_SLABS) < N_SLABS // 2, -1.0, 1.0)
    row = sign * per_slab
    row[[0, N_SLABS // 2]] = reservoirs
    return np.repeat(row[None, :], frames, axis=0)


def test_decomposition_by_heat_flux_term():
    # three terms carrying 60 %, 30 % and 10 % of the imposed flux: each κ_t is its share of κ, and the sum closes
    kappa = 0.25
    flux_si = kappa * GRADIENT * 1e10
    shares = {"kinetic": 0.6, "pair": 0.3, "bond": 0.1}
    heat_flux = {"step": WINDOW * np.arange(1, FRAMES + 1),
                 **{t: slab_heat_flux(share * flux_si) for t, share in shares.items()}}
    temp = frames_of(T_COLD + GRADIENT * distance_from_cold())
    result = analyse(temp, *exchanged_energy(kappa, GRADIENT), heat_flux=heat_flux, nblocks=4)
    parts = result["decomposition"]
    assert parts["closure"] == pytest.approx(1.0) and parts["kappa"] == pytest.approx(kappa)
    for term, share in shares.items():
        assert parts["terms"][term]["kappa"] == pytest.approx(share * kappa)
        assert parts["terms"][term]["fraction"] == pytest.approx(share)
        assert parts["terms"][term]["stderr"] == pytest.approx(0.0, abs=1e-12)
    # half the microscopic flux missing (a term left out) shows in the closure
    half = {**heat_flux, "kinetic": heat_flux["kinetic"] - slab_heat_flux(0.5 * flux_si, reservoirs=0.0)}
    assert analyse(temp, *exchanged_energy(kappa, GRADIENT), heat_flux=half)["decomposition"]["closure"] == (
        pytest.approx(0.5))
    assert "decomposition" not in analyse(temp, *exchanged_energy(kappa, GRADIENT))
    # heat-flux frames that miss the analysis window leave κ standing and say why
    early = {**heat_flux, "step": heat_flux["step"] - FRAMES * WINDOW}
    result = analyse(temp, *exchanged_energy(kappa, GRADIENT), heat_flux=early)
    assert result["kappa"]["value"] == pytest.approx(kappa) and "no heat-flux frame" in result["decomposition"]["error"]


def test_heat_flux_file_and_rendering():
    text = "# Time-averaged data for fix nemd_heat_flux\n# TimeStep Number-of-rows\n# Row c_hf[1] c_hf[2]\n"
    for step in (400, 800):
        text += f"{step} 4\n" + "".join(f"{i + 1} {0.1 * i} {-0.2 * i + step}\n" for i in range(4))
    text += "1200 4\n1 0.5 0.5\n2 0."  # an interrupted write
    table = nemd.read_heat_flux(text, ["kinetic", "pair"])
    assert table["step"].tolist() == [400, 800] and table["pair"].shape == (2, 4)
    assert table["kinetic"][1].tolist() == pytest.approx([0.0, 0.1, 0.2, 0.3]) and table["pair"][1, 0] == 800.0
    with pytest.raises(nemd.NemdError, match="2 columns for 3 terms"):
        nemd.read_heat_flux(text, ["kinetic", "pair", "bond"])
    assert nemd.read_heat_flux("", ["kinetic"])["step"].tolist() == []

    stage = Stage.from_dict({"ensemble": "nve", "nemd": {"axis": "y", "decompose": True,
                                                         "profile_every": 10, "profile_window": 100}})
    assert heat_flux_terms(stage) == ["kinetic", "potential", "pair", "bond", "angle", "dihedral", "improper",
                                      "kspace"]
    lines = render(stage, "s.data").splitlines()
    # row y of the stress tensor (yx, yy, yz are columns 7, 2, 6) against the velocities, converted to kcal/mol
    assert "variable hf_bond atom -(c_hf_bond[7]*vx+c_hf_bond[2]*vy+c_hf_bond[6]*vz)/68568.415" in lines
    assert "variable hf_kinetic atom c_hf_kinetic*vy" in lines
    assert not any("hf_fix" in line for line in lines)  # no SHAKE in NEMD, so no constraint term
    # PPPM has no centroid form: the symmetric per-atom stress, row y = xy, yy, yz (columns 4, 2, 6)
    assert "compute hf_kspace all stress/atom NULL kspace" in lines
    assert "variable hf_kspace atom -(c_hf_kspace[4]*vx+c_hf_kspace[2]*vy+c_hf_kspace[6]*vz)/68568.415" in lines
    assert ("fix nemd_heat_flux all ave/time 10 10 100 c_hf[*] mode vector file nemd_heat_flux.dat" in lines)
    assert lines[-3].startswith("run ") and "nemd_heat_flux" not in render(Stage(ensemble="nve", nemd={}), "s")
    lj = Stage(ensemble="nve", potential="lj_short", nemd={"decompose": True})
    assert heat_flux_terms(lj)[-1] == "improper"
    with pytest.raises(StageError, match="decompose"):
        Stage.from_dict({"ensemble": "nve", "nemd": {"decompose": "yes"}})
    with pytest.raises(StageError, match="nemd cannot run with shake"):  # slabs would read cold, κ high
        Stage.from_dict({"ensemble": "nve", "shake": True, "nemd": {"method": "langevin"}})


def test_langevin_stage_rendering():
    # the direct method: thermostats at T ± ΔT on the atoms of slab 0 (cold) and slab n/2 (hot) only
    stage = Stage.from_dict({"ensemble": "nve", "temperature": 300.0, "nemd": {
        "method": "langevin", "axis": "z", "n_slabs": 10, "delta_t": 25.0, "damp": 200.0, "seed": 7,
        "swap_every": 50, "profile_window": 500}})  # fmt: skip
    lines = render(stage, "s.data").splitlines()
    assert "region nemd_cold block INF INF INF INF $(zlo+0*lz) $(zlo+(0+0.1)*lz) units box" in lines
    assert "region nemd_hot block INF INF INF INF $(zlo+0.5*lz) $(zlo+(0.5+0.1)*lz) units box" in lines
    assert "fix nemd_cold all langevin 275 275 200 7 tally yes" in lines
    assert "fix nemd_hot all langevin 325 325 200 8 tally yes" in lines
    assert lines.index("fix_modify nemd_hot temp nemd_hot_temp") > lines.index("compute nemd_hot_temp all temp/region "
                                                                               "nemd_hot")
    assert "variable nemd_exchange equal (f_nemd_cold-f_nemd_hot)/2" in lines
    assert "fix nemd_flux all ave/time 50 1 50 v_nemd_exchange file nemd_flux.dat" in lines
    assert not any("thermal/conductivity" in line for line in lines) and "fix integrate all nve" in lines


@pytest.mark.parametrize(
    ("nemd_settings", "message"),
    [
        ({"method": "green_kubo"}, "method must be one of"),
        ({"method": "langevin", "delta_t": 300.0}, "delta_t < temperature"),
        ({"method": "langevin", "damp": 0.0}, "damp > 0"),
    ],
)
def test_bad_langevin_stages(nemd_settings, message):
    with pytest.raises(StageError, match=message):
        Stage.from_dict({"ensemble": "nve", "temperature": 300.0, "nemd": nemd_settings})
