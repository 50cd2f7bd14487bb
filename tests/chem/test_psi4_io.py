"""Tests for the psi4 input writer and output parser on real psi4 1.3.2 output (see data/psi4/README.md)."""

from __future__ import annotations

import importlib.util
import os
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from aiida_polymer.chem.psi4_io import (
    AU3_TO_ANGSTROM3,
    AU_TO_DEBYE,
    ERROR_KINDS,
    Psi4Result,
    Psi4Task,
    parse_output,
    parse_xyz,
    write_grid,
    write_input,
)

DATA = Path(__file__).parent / "data" / "psi4"
BOHR = 0.52917721067  # Angstrom, CODATA 2014 as in psi4 1.3


def _load_make_fixtures():
    spec = importlib.util.spec_from_file_location("psi4_make_fixtures", DATA / "make_fixtures.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


MAKE = _load_make_fixtures()
FIXTURES = sorted(MAKE.CASES)


def _parse(name: str) -> Psi4Result:
    folder = DATA / name
    files = {f.name: f.read_text() for f in folder.iterdir() if f.name not in ("input.dat", "output.dat")}
    return parse_output((folder / "output.dat").read_text(), files)


def _strip_markers(text: str) -> str:
    return re.sub(r"^@aiida_polymer .*\n", "", text, flags=re.M)


# ------------------------------------------------------------------------------------------------ input writer


REGRESSION_TASKS = {
    "energy": Psi4Task(task="energy", method="b3lyp", basis="6-31g*", memory="4 GB", scf_type="df", maxiter=200,
                       damping_percentage=20.0, guess="sad", e_convergence=1e-8, d_convergence=1e-7),
    "optimize": Psi4Task(task="optimize", method="hf", basis="3-21g", geom_maxiter=80, g_convergence="gau_tight"),
    "esp": Psi4Task(task="esp", charge=1, multiplicity=2),
    "polarizability_ff": Psi4Task(task="polarizability", basis="aug-cc-pvdz", field_strength=0.002),
    "polarizability_cphf": Psi4Task(task="polarizability", method="b3lyp", polarizability_method="cphf"),
}


@pytest.mark.parametrize("name", sorted(REGRESSION_TASKS))
def test_rendered_inputs(name, file_regression):
    text = write_input(REGRESSION_TASKS[name], MAKE.WATER, MAKE.water())
    file_regression.check(text, fullpath=DATA / "inputs" / f"{name}.dat")


def test_input_content():
    task = REGRESSION_TASKS["optimize"]
    text = write_input(task, MAKE.WATER, MAKE.water())
    assert "memory 2 GB\n" in text
    assert "\n0 1\nO " in text and "units angstrom\nsymmetry c1\nno_com\nno_reorient\n}" in text
    assert "set geom_maxiter 80\nset g_convergence gau_tight\n" in text
    assert "set basis 3-21g\nset reference rhf\n" in text
    assert "return_history=True" in text
    # optimizer options only for optimize; tight SCF thresholds only for the finite-field polarizability
    energy = write_input(Psi4Task(geom_maxiter=5), MAKE.WATER, MAKE.water())
    assert "geom_maxiter" not in energy and "e_convergence" not in energy
    ff = write_input(Psi4Task(task="polarizability"), MAKE.WATER, MAKE.water())
    assert "set e_convergence 1e-10\nset d_convergence 1e-08\n" in ff and "perturb_dipole" in ff
    assert "set reference uhf" in write_input(Psi4Task(charge=1, multiplicity=2), MAKE.WATER, MAKE.water())
    # no line of the input may look like a result line of the output
    assert not re.search(r"^@aiida_polymer", text, re.M)


def test_fixture_inputs_are_current():
    """The stored fixtures were rendered by the current writer (all but the hand-edited one)."""
    for name, case in MAKE.CASES.items():
        text = write_input(case["task"], MAKE.WATER, case["coords"])
        if "edit" in case:
            text = text.replace(*case["edit"], 1)
        assert (DATA / name / "input.dat").read_text() == text, name
        if "grid" in case:
            assert (DATA / name / "grid.dat").read_text() == write_grid(case["grid"])


def test_task_dict_roundtrip():
    task = REGRESSION_TASKS["energy"]
    assert Psi4Task.from_dict(task.to_dict()) == task
    assert write_input(task.to_dict(), MAKE.WATER, MAKE.water()) == write_input(task, MAKE.WATER, MAKE.water())
    assert Psi4Task(method=" B3LYP ", basis="6-31G*").method == "b3lyp"
    with pytest.raises(ValueError, match="unknown Psi4Task keys"):
        Psi4Task.from_dict({"task": "energy", "functional": "b3lyp"})


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"task": "frequencies"}, "task"),
        ({"basis": "6-31g *"}, "basis"),
        ({"method": 'hf"); import os; ("'}, "method"),
        ({"memory": "lots"}, "memory"),
        ({"multiplicity": 0}, "multiplicity"),
        ({"charge": 0.5}, "charge"),
        ({"reference": "rhf", "multiplicity": 3}, "reference rhf needs multiplicity 1"),
        ({"scf_type": "cosx"}, "scf_type"),
        ({"guess": "magic"}, "guess"),
        ({"damping_percentage": 120.0}, "damping_percentage"),
        ({"e_convergence": -1.0}, "e_convergence"),
        ({"maxiter": 0}, "maxiter"),
        ({"field_strength": 0.5}, "field_strength"),
        ({"task": "polarizability", "polarizability_method": "cphf", "multiplicity": 3}, "closed-shell"),
    ],
)
def test_task_validation(kwargs, match):
    with pytest.raises(ValueError, match=match):
        Psi4Task(**kwargs)


def test_write_input_validation():
    water = MAKE.water()
    with pytest.raises(ValueError, match="impossible with 10 electrons"):
        write_input(Psi4Task(multiplicity=2), MAKE.WATER, water)
    with pytest.raises(ValueError, match="impossible with 9 electrons"):
        write_input(Psi4Task(charge=1), MAKE.WATER, water)
    with pytest.raises(ValueError, match=r"shape \(2, 3\)"):
        write_input(Psi4Task(), MAKE.WATER, water[:2])
    with pytest.raises(ValueError, match="NaN"):
        write_input(Psi4Task(), MAKE.WATER, np.where(water == 0.0, np.nan, water))
    with pytest.raises(ValueError, match="element"):
        write_input(Psi4Task(), ["O", "H", "h"], water)
    # guesses missing from psi4 1.3.2 are gated on the version
    sap = Psi4Task(guess="sapgau")
    with pytest.raises(ValueError, match=r"psi4_version >= 1\.9"):
        write_input(sap, MAKE.WATER, water)
    with pytest.raises(ValueError, match=r"psi4_version >= 1\.9"):
        write_input(sap, MAKE.WATER, water, psi4_version="1.3.2")
    assert "set guess sapgau" in write_input(sap, MAKE.WATER, water, psi4_version="1.10")
    assert "set guess sapgau" in write_input(sap, MAKE.WATER, water, psi4_version=(1, 9))


def test_write_grid():
    text = write_grid([[0.0, 0.0, 1.5], [-1.25, 2.0, 1e-7]])
    assert text.splitlines() == ["      0.0000000000       0.0000000000       1.5000000000",
                                 "     -1.2500000000       2.0000000000       0.0000001000"]
    assert np.allclose(np.loadtxt(DATA / "water_esp" / "grid.dat"), MAKE.esp_grid())
    for bad in ([], [[0.0, 1.0]], [[0.0, 1.0, np.inf]]):
        with pytest.raises(ValueError):
            write_grid(bad)


# ------------------------------------------------------------------------------------------------ output parser


# fixture, task, error kind, completed, scf converged, optimization converged, steps, energy (Hartree)
PARSED = [
    ("water_energy", "energy", None, True, True, None, None, -74.96292824648435),
    ("water_optimize", "optimize", None, True, True, True, 3, -75.58595960774376),
    ("water_esp", "esp", None, True, True, None, None, -76.01052996923816),
    ("water_polarizability", "polarizability", None, True, True, None, None, -76.00328032604304),
    ("water_polarizability_cphf", "polarizability", None, True, True, None, None, -76.00328032576688),
    ("water_polarizability_eq", "polarizability", None, True, True, None, None, -76.04142796049925),
    ("scf_not_converged", "energy", "scf_not_converged", False, False, None, None, None),
    ("optimization_not_converged", "optimize", "optimization_not_converged", False, True, False, 1,
     -75.57292343587503),
    ("optimize_scf_not_converged", "optimize", "scf_not_converged", False, False, None, None, None),
    ("crash_optimize_basis", "optimize", "crash", False, None, None, None, None),
    ("crash_basis", "energy", "crash", False, None, None, None, None),
    ("crash_multiplicity", None, "crash", False, None, None, None, None),
]


def test_every_fixture_is_covered():
    assert sorted(row[0] for row in PARSED) == FIXTURES
    assert {row[2] for row in PARSED} - {None} <= set(ERROR_KINDS)


@pytest.mark.parametrize(("name", "task", "kind", "completed", "scf", "opt", "steps", "energy"), PARSED)
def test_fixture(name, task, kind, completed, scf, opt, steps, energy):
    result = _parse(name)
    assert result.version == "1.3.2"
    assert result.task == task
    assert result.error_kind == kind
    assert (result.error_message is None) is (kind is None)
    assert result.completed is completed
    assert result.scf_converged is scf
    assert result.optimization_converged is opt
    assert result.optimization_steps == steps
    assert result.energy == (None if energy is None else pytest.approx(energy, abs=1e-10))
    assert 0.0 < result.wall_time < 60.0
    assert result.warnings == []
    summary = result.to_dict()
    assert summary["error_kind"] == kind and isinstance(summary["warnings"], list)


def test_error_messages():
    assert _parse("scf_not_converged").error_message == (
        "SCFConvergenceError: Could not converge SCF iterations in 2 iterations.")
    assert _parse("optimization_not_converged").error_message == (
        "OptimizationConvergenceError: Could not converge geometry optimization in 1 iterations.")
    for name in ("crash_basis", "crash_optimize_basis"):
        assert _parse(name).error_message.startswith(
            "BasisSetNotFound: BasisSet::construct: Unable to find a basis set for atom 1 for key BASIS")
    assert _parse("optimize_scf_not_converged").error_message == _parse("scf_not_converged").error_message
    assert _parse("crash_multiplicity").error_message.startswith(
        "ValidationError: Inconsistent or unspecified chg/mult")


def test_energy_and_dipole():
    result = _parse("water_energy")
    assert result.dipole_au == pytest.approx([0.0, 0.0, -0.6789807699884722], abs=1e-12)
    # psi4's own printout (4 decimals) of the same SCF density
    assert result.dipole_debye[2] == pytest.approx(-1.7258, abs=1e-4)
    assert result.dipole_magnitude_debye == pytest.approx(0.6789807699884722 * AU_TO_DEBYE)
    assert result.geometry is None and result.polarizability_au is None and result.esp is None


def test_optimization():
    result = _parse("water_optimize")
    assert result.elements == ["O", "H", "H"]
    oh1, oh2 = result.geometry[1] - result.geometry[0], result.geometry[2] - result.geometry[0]
    angle = np.degrees(np.arccos(oh1 @ oh2 / np.linalg.norm(oh1) / np.linalg.norm(oh2)))
    # HF/3-21G water minimum: r(OH) = 0.967 A, HOH = 107.7 deg (psi4's default QCHEM criteria stop within 0.1 deg)
    assert np.linalg.norm(oh1) == pytest.approx(0.9667, abs=5e-4)
    assert np.linalg.norm(oh2) == pytest.approx(np.linalg.norm(oh1), abs=1e-6)
    assert angle == pytest.approx(107.7, abs=0.1)
    xyz = parse_xyz((DATA / "water_optimize" / "geometry.xyz").read_text())
    assert xyz[0] == result.elements
    assert np.allclose(xyz[1], result.geometry, atol=1e-11)
    # the same numbers from psi4's own "Final optimized geometry" block and step count (no markers)
    plain = parse_output(_strip_markers((DATA / "water_optimize" / "output.dat").read_text()))
    assert plain.optimization_converged is True and plain.optimization_steps == 3
    assert np.allclose(plain.geometry, result.geometry, atol=1e-9)
    assert plain.energy == pytest.approx(result.energy, abs=1e-10)
    assert plain.dipole_au == pytest.approx(result.dipole_au, abs=1e-4)


def test_optimization_not_converged_keeps_the_last_geometry():
    result = _parse("optimization_not_converged")
    assert result.elements == ["O", "H", "H"]
    assert result.geometry.shape == (3, 3)
    assert not np.allclose(result.geometry, MAKE.WATER_DISTORTED, atol=1e-3)  # one step was taken
    # the geometry printed by psi4 as "Structure for next step"
    plain = parse_output(_strip_markers((DATA / "optimization_not_converged" / "output.dat").read_text()))
    assert np.allclose(plain.geometry, result.geometry, atol=1e-9)
    assert plain.optimization_converged is False
    # without markers and without the xyz file the geometry comes from the output; the file is a fallback
    files = {"geometry.xyz": (DATA / "optimization_not_converged" / "geometry.xyz").read_text()}
    from_file = parse_output(_strip_markers((DATA / "optimization_not_converged" / "output.dat").read_text()), files)
    assert np.allclose(from_file.geometry, result.geometry, atol=1e-11)


def test_esp():
    result = _parse("water_esp")
    grid = np.loadtxt(DATA / "water_esp" / "grid.dat")
    assert result.esp.shape == (len(grid),) == (30,)
    # far field: the z-antisymmetric part at R = 25 A is the dipole term mu_z / R^2 (quadrupole terms cancel)
    radius = 25.0 / BOHR
    assert (result.esp[26] - result.esp[27]) / 2 == pytest.approx(result.dipole_au[2] / radius**2, rel=2e-3)
    assert result.esp[28] == pytest.approx(result.esp[29], abs=1e-10)  # +-x: mirror images
    # near the molecule: positive next to the hydrogens (-z side), negative at the oxygen lone pairs (+z side)
    near_z = grid[:26, 2]
    assert result.esp[:26][near_z < -1.5].min() > 0.0 and result.esp[:26][near_z > 1.5].max() < 0.0
    missing = parse_output((DATA / "water_esp" / "output.dat").read_text())
    assert missing.esp is None and missing.warnings == ["grid_esp.dat announced in output.dat but not provided"]


# psi4 1.3.2's test scf-response1 (CPSCF, HF/aug-cc-pVDZ, same geometry): /usr/share/psi4/samples/scf-response1/test.in
PSI4_SCF_RESPONSE1 = np.diag([8.01603, 12.52796, 10.02099])


def test_polarizability_finite_field_vs_psi4_reference():
    result = _parse("water_polarizability")
    assert result.polarizability_method == "finite_field"
    assert result.field_strength_au == 0.001
    alpha = result.polarizability_au
    assert np.allclose(alpha, alpha.T, atol=1e-6)
    assert np.allclose(alpha, PSI4_SCF_RESPONSE1, atol=1.5e-3)
    assert result.polarizability_iso_au == pytest.approx(np.trace(PSI4_SCF_RESPONSE1) / 3, abs=1e-3)
    assert result.polarizability_iso_angstrom3 == pytest.approx(result.polarizability_iso_au * AU3_TO_ANGSTROM3)
    # against psi4's analytic CPSCF run in the same psi4 on the same input
    cphf = _parse("water_polarizability_cphf")
    assert cphf.polarizability_method == "cphf"
    assert np.allclose(cphf.polarizability_au, PSI4_SCF_RESPONSE1, atol=1e-3)
    assert np.allclose(alpha, cphf.polarizability_au, atol=5e-4)
    # without markers the CPSCF table psi4 prints (5 decimals) is read
    plain = parse_output(_strip_markers((DATA / "water_polarizability_cphf" / "output.dat").read_text()))
    assert plain.polarizability_method == "cphf"
    assert np.allclose(plain.polarizability_au, cphf.polarizability_au, atol=6e-6)


def test_polarizability_literature():
    """Water at its experimental geometry, HF/aug-cc-pVDZ, finite field.

    Near-Hartree-Fock-limit mean polarizability: 8.531 a.u. (G. Maroulis, J. Chem. Phys. 94, 1182 (1991), SCF with
    a [9s7p6d2f/6s5p2d] basis); aug-cc-pVDZ lacks a few percent of it. The experimental static value is 9.83 a.u.
    (correlation adds ~1.1 a.u.). In-plane > C2 axis > out-of-plane.
    """
    result = _parse("water_polarizability_eq")
    xx, yy, zz = np.diag(result.polarizability_au)
    assert 7.9 < result.polarizability_iso_au < 8.531
    assert result.polarizability_iso_au == pytest.approx(8.1344, abs=1e-3)
    assert result.polarizability_iso_angstrom3 == pytest.approx(1.2054, abs=1e-3)
    assert yy > zz > xx > 0.0


def test_missing_and_incomplete_output():
    for text in (None, "", "  \n"):
        result = parse_output(text)
        assert result.error_kind == "missing_output" and result.error_message
        assert result.energy is None and not result.completed
    full = (DATA / "water_optimize" / "output.dat").read_text()
    truncated = parse_output(full[: full.index("Optimization is complete")])
    assert truncated.error_kind == "incomplete"
    assert truncated.version == "1.3.2" and truncated.scf_converged is True and truncated.wall_time is None
    assert truncated.optimization_converged is None and truncated.geometry is not None  # "Structure for next step"
    assert truncated.energy == pytest.approx(-75.58595960, abs=1e-6)  # last "@RHF Final Energy"


def test_other_layouts():
    """psi4 >= 1.4 multipole table (format string of libmints/oeprop.cc) and a crash with a C++ Fatal Error."""
    text = (
        "    Psi4 1.9.1 release\n"
        " L = 1.  Multiply by 2.5417464519 to convert [e a0] to [Debye]\n"
        " Dipole X            :          0.0000000            0.0000000            0.0000000\n"
        " Dipole Y            :          0.0000000            0.0000000            0.0000000\n"
        " Dipole Z            :         -1.0000000            1.6000000            0.6000000\n"
        " Magnitude           :                                                    0.6000000\n"
        "  @DF-RKS Final Energy:   -76.38\n"
        "    Psi4 wall time for execution: 1 day, 2:03:04.50\n"
        "*** Psi4 exiting successfully. Buy a developer a beer!\n"
    )
    result = parse_output(text)
    assert result.version == "1.9.1" and result.error_kind is None
    assert result.dipole_au == pytest.approx([0.0, 0.0, 0.6])
    assert result.energy == -76.38
    assert result.wall_time == pytest.approx(86400 + 7384.5)
    fatal = parse_output(
        "Traceback (most recent call last):\n  File \"<string>\", line 3, in <module>\n\n"
        "RuntimeError: \nFatal Error: Not enough molecular orbitals to satisfy requested occupancies\n"
        "Error occurred in file: ./psi4/src/psi4/libscf_solver/hf.cc on line: 500\n\n"
        "*** Psi4 encountered an error. Buy a developer more coffee!\n")
    assert fatal.error_kind == "crash"
    assert fatal.error_message == "Not enough molecular orbitals to satisfy requested occupancies"


# ------------------------------------------------------------------------------------------------ end to end

PSI4 = shutil.which("psi4")


@pytest.mark.skipif(PSI4 is None, reason="psi4 executable not found on PATH")
def test_psi4_end_to_end(tmp_path):
    """write_input -> psi4 -> parse_output for water HF/STO-3G, matching the stored fixture."""
    case = MAKE.CASES["water_energy"]
    (tmp_path / "input.dat").write_text(write_input(case["task"], MAKE.WATER, case["coords"]))
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env["PSI_SCRATCH"] = str(tmp_path)
    proc = subprocess.run([PSI4, "-n", "1", "input.dat", "output.dat"], cwd=tmp_path, env=env, capture_output=True,
                          text=True, timeout=300, check=False)
    result = parse_output((tmp_path / "output.dat").read_text())
    assert proc.returncode == 0, result.error_message
    assert result.error_kind is None and result.completed
    expected = _parse("water_energy")
    assert result.energy == pytest.approx(expected.energy, abs=1e-8)
    assert result.dipole_au == pytest.approx(expected.dipole_au, abs=1e-6)
