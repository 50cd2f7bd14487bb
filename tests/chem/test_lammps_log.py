"""Tests for the LAMMPS log parser on real LAMMPS output (see data/lammps_logs/README.md) and edge cases."""

from pathlib import Path

import numpy as np
import pytest

from aiida_polymer.chem.lammps_log import ERROR_KINDS, LammpsLog, classify_error, parse_log, parse_log_file

DATA = Path(__file__).parent / "data" / "lammps_logs"
VERSION = "22 Jul 2025 - Update 4"
LJ5 = ["Step", "Temp", "PotEng", "TotEng", "Press"]
BOND = ["Step", "Temp", "PotEng", "E_bond", "TotEng", "Press"]


def _log(name: str) -> LammpsLog:
    return parse_log_file(DATA / name)


# file, error_kind, completed, timeout, columns of the last block, rows of the last block, first/last Step, last_step
CASES = [
    ("lost_atoms.log", "lost_atoms", False, False, LJ5, 4, (0, 15), 15),
    ("lost_atoms_warn.log", None, True, False, LJ5, 7, (0, 30), 30),
    ("bond_missing.log", "bond_atoms_missing", False, False, BOND, 1, (0, 0), 3),
    ("bond_missing_np2.stdout", "bond_atoms_missing", False, False, BOND, 1, (0, 0), 3),
    ("bond_missing_rank1.stdout", "bond_atoms_missing", False, False, BOND, 1, (0, 0), 3),
    ("shake_missing.log", "shake_failure", False, False, LJ5, 1, (0, 0), 3),
    ("pppm_out_of_range.log", "out_of_range_atoms", False, False, LJ5, 8, (0, 35), 35),
    ("timeout.log", None, True, True, LJ5, 4, (0, 3000), 3080),
    ("minimize_timeout.log", None, True, True, ["Step", "Temp", "E_pair", "E_mol", "TotEng", "Press"], 2, (0, 75), 75),
    ("nan_thermo.log", "nan", True, False, LJ5, 6, (0, 10), 10),
    ("nan_coords.log", "nan", False, False, LJ5, 2, (0, 10), 10),
    ("truncated.log", None, False, False, ["Step", "Temp", "PotEng", "KinEng", "TotEng", "Press", "Volume"], 3,
     (250, 350), 350),
    ("melt_multirun.log", None, True, False, ["Step", "Temp", "PotEng", "KinEng", "TotEng", "Press", "Volume"], 3,
     (450, 550), 550),
]


@pytest.mark.parametrize(("name", "kind", "completed", "timeout", "columns", "rows", "steps", "last_step"), CASES)
def test_fixture(name, kind, completed, timeout, columns, rows, steps, last_step):
    log = _log(name)
    assert log.version == VERSION
    assert log.error_kind == kind
    assert log.completed is completed
    assert log.timeout is timeout
    assert log.last_step == last_step
    block = log.runs[-1]
    assert block.columns == columns
    assert block.data.shape == (rows, len(columns))
    assert block.data.dtype == float
    assert (block.first_step, int(block.steps[-1])) == steps
    assert [classify_error(e) for e in log.errors] == ([kind] if kind and not completed else [])


def test_error_messages():
    """The exact messages, with their continuation line."""
    assert _log("lost_atoms.log").errors == [
        "ERROR: Lost atoms: original 256 current 0\n"
        "For more information see https://docs.lammps.org/err0008 (src/src/thermo.cpp:526)"
    ]
    first = {name: _log(name).errors[0].split("\n")[0] for name in
             ("bond_missing.log", "shake_missing.log", "pppm_out_of_range.log", "nan_coords.log")}
    assert first == {
        "bond_missing.log": "ERROR on proc 0: Bond atoms 3 4 missing on proc 0 at step 3",
        "shake_missing.log": "ERROR on proc 0: Shake atoms 13 14 15 missing on proc 0 at step 3",
        "pppm_out_of_range.log": "ERROR on proc 0: Out of range atoms - cannot compute PPPM",
        "nan_coords.log": "ERROR on proc 0: Non-numeric atom coords - simulation unstable",
    }


def test_melt_multirun():
    log = _log("melt_multirun.log")
    assert [b.columns for b in log.runs] == [
        ["Step", "Temp", "E_pair", "E_mol", "TotEng", "Press"],
        ["Step", "Temp", "PotEng", "KinEng", "TotEng", "Press", "Volume"],
        ["Step", "Temp", "PotEng", "KinEng", "TotEng", "Press", "Volume"],
    ]
    assert [b.data.shape for b in log.runs] == [(6, 6), (5, 7), (3, 7)]
    assert [(b.first_step, b.last_step, b.nsteps, b.natoms) for b in log.runs] == [
        (0, 250, 250, 500), (250, 450, 200, 500), (450, 550, 100, 500)]
    assert all(b.complete and not b.minimize for b in log.runs)
    assert log.runs[0].column("Temp")[0] == 3.0
    assert log.runs[1].column("Volume")[-1] == pytest.approx(592.27671)
    assert log.loop_times == pytest.approx([0.0912699, 0.0733801, 0.0287026])
    assert log.performance == pytest.approx(
        {"tau/day": 1505090.551, "timesteps/s": 3484.006, "Matom-step/s": 1.742, "atom-step/s": 1.742e6})
    assert (log.mpi_tasks, log.omp_threads) == (1, 1)
    assert not log.errors and not log.warnings and not log.truncated


def test_thermo_concatenate():
    log = _log("melt_multirun.log")
    th = log.thermo()
    assert list(th) == ["Step", "Temp", "E_pair", "E_mol", "TotEng", "Press", "PotEng", "KinEng", "Volume"]
    np.testing.assert_array_equal(th["Step"], np.arange(0, 551, 50))  # 250 and 450 appear once
    assert all(len(v) == 12 for v in th.values())
    # the duplicated first row of a continued run is merged into the previous last row
    assert th["E_pair"][5] == pytest.approx(-4.7537761)
    assert th["PotEng"][5] == pytest.approx(-4.7537761)
    assert th["Volume"][5] == pytest.approx(592.27671)
    assert np.isnan(th["E_pair"][6:]).all() and np.isnan(th["Volume"][:5]).all()
    assert th["Temp"][0] == 3.0 and th["Temp"][-1] == pytest.approx(1.6095708)
    last = log.thermo(concatenate=False)
    assert list(last) == log.runs[-1].columns
    np.testing.assert_array_equal(last["Step"], [450, 500, 550])


def test_summary_regression(data_regression):
    data_regression.check(_log("melt_multirun.log").summary(), fullpath=DATA / "melt_multirun_summary.yml")


def test_truncated():
    log = _log("truncated.log")
    assert log.truncated and not log.completed and log.error_kind is None
    assert len(log.runs) == 2 and log.runs[0].complete and not log.runs[1].complete
    assert log.runs[1].nsteps is None
    # the partial last line ("       400   1.6890545     -4.8189272") is dropped
    np.testing.assert_array_equal(log.runs[1].steps, [250, 300, 350])
    assert log.runs[1].column("Volume")[-1] == pytest.approx(592.27671)
    assert len(log.thermo()["Step"]) == 8


def test_timeout():
    log = _log("timeout.log")
    assert log.warnings == ["WARNING: Wall time limit reached (src/src/timer.cpp:201)"]
    assert len(log.runs) == 1  # the following `run 1000` is skipped after the timeout
    assert log.runs[0].nsteps == 3080 and log.runs[0].last_step == 3080
    assert log.loop_times == [pytest.approx(1.00025)]


def test_minimize_timeout_warning_inside_block():
    log = _log("minimize_timeout.log")
    block = log.runs[0]
    assert block.minimize and block.stopping_criterion == "walltime limit reached"
    np.testing.assert_array_equal(block.steps, [0, 75])
    assert log.warnings == ["WARNING: Wall time limit reached (src/src/timer.cpp:201)"]
    assert log.performance is None


def test_lost_atoms_warning_inside_block():
    log = _log("lost_atoms_warn.log")
    assert log.warnings == [
        "WARNING: Lost atoms: original 256 current 0\n"
        "For more information see https://docs.lammps.org/err0008 (src/src/thermo.cpp:532)"
    ]
    np.testing.assert_array_equal(log.runs[0].steps, np.arange(0, 31, 5))
    assert log.runs[0].natoms == 0


def test_nan_values():
    th = _log("nan_thermo.log").thermo()
    assert th["PotEng"][0] == np.inf and np.isnan(th["Press"]).all() and np.isnan(th["Temp"][1:]).all()
    summary = _log("nan_thermo.log").summary()
    assert summary["final_thermo"] == {"Step": 10, "Temp": None, "PotEng": -6.4057582, "TotEng": None, "Press": None}


def test_error_on_other_rank():
    """An error on rank 1 aborts before rank 0 flushes its log: only the screen output shows it."""
    log = _log("bond_missing_rank1.log")
    assert log.version == VERSION and log.runs == [] and log.truncated and log.error_kind is None
    assert log.last_step is None and log.thermo() == {}
    out = _log("bond_missing_rank1.stdout")
    assert out.errors[0].startswith("ERROR on proc 1: Bond atoms 7 8 missing on proc 1 at step 3\nFor more information")
    assert "Abort" not in out.errors[0]


@pytest.mark.parametrize(("message", "kind"), [
    ("ERROR: Lost atoms: original 256 current 0", "lost_atoms"),
    ("ERROR: Lost atoms via balance: original 100  current 98", "lost_atoms"),
    ("ERROR on proc 0: Bond atoms 3 4 missing on proc 0 at step 3", "bond_atoms_missing"),
    ("ERROR on proc 2: Angle atoms 1 2 3 missing on proc 2 at step 10", "bond_atoms_missing"),
    ("ERROR on proc 0: Dihedral atoms 1 2 3 4 missing on proc 0 at step 7", "bond_atoms_missing"),
    ("ERROR on proc 0: Improper atoms 1 2 3 4 missing on proc 0 at step 7", "bond_atoms_missing"),
    ("ERROR: Bond atoms missing at step 1200", "bond_atoms_missing"),
    ("ERROR on proc 0: Bond atom missing in box size check", "bond_atoms_missing"),
    ("ERROR on proc 0: Shake atoms 13 14 15 missing on proc 0 at step 3", "shake_failure"),
    ("ERROR on proc 0: Shake determinant = 0.0", "shake_failure"),
    ("ERROR on proc 0: Rattle determinant = 0.0", "shake_failure"),
    ("ERROR: Velocity constraints are not satisfied up to desired tolerance", "shake_failure"),
    ("ERROR on proc 0: Out of range atoms - cannot compute PPPM", "out_of_range_atoms"),
    ("ERROR on proc 0: Out of range atoms - cannot compute MSM", "out_of_range_atoms"),
    ("ERROR on proc 0: Non-numeric atom coords - simulation unstable", "nan"),
    ("ERROR: Non-numeric pressure - simulation unstable", "nan"),
    ("ERROR: Non-numeric box dimensions - simulation unstable", "nan"),
    ("ERROR: Shake clusters are connected (src/src/RIGID/fix_shake.cpp:1240)", "other"),
    ("ERROR: Unknown command: foo", "other"),
])
def test_classify_error(message, kind):
    assert kind in ERROR_KINDS
    assert classify_error(message) == kind


HEADER = "LAMMPS (22 Jul 2025 - Update 4)\n"
MEM = "Per MPI rank memory allocation (min/avg/max) = 2.644 | 2.644 | 2.644 Mbytes\n"
ROWS = ("   Step          Temp          PotEng    \n"
        "         0   3             -6.77    \n"
        "        10   2.5           -6.5     \n")


def test_empty_and_garbage():
    assert parse_log("") == LammpsLog()
    log = parse_log("random text\n1 2 3\n")
    assert log.runs == [] and log.error_kind is None and log.truncated


@pytest.mark.parametrize("prefix", ["[0] ", "[1,0]<stdout>:", "[1,0]<stdout>: ", "0: ", " 0: "])
def test_mpi_prefixes(prefix):
    text = HEADER + MEM + ROWS + "Loop time of 0.1 on 4 procs for 10 steps with 500 atoms\nTotal wall time: 0:00:00\n"
    preamble = "job 123 started on node01\n"
    log = parse_log(preamble + "".join(prefix + line + "\n" for line in text.splitlines()))
    assert log.version == VERSION and log.completed and log.last_step == 10
    assert log.runs[0].columns == ["Step", "Temp", "PotEng"] and log.runs[0].nprocs == 4
    np.testing.assert_array_equal(log.runs[0].data, [[0, 3, -6.77], [10, 2.5, -6.5]])


def test_crlf_and_interleaved_output():
    text = (HEADER + MEM + "   Step          Temp          PotEng    \n         0   3             -6.77    \n"
            "WARNING: Dihedral problem: 1 10 1 2 3 4\n"
            "SHAKE stats (type/ave/delta/count) on step 5\n"
            "Bond:    1   1.00000   1.2e-06   40\n"
            "        10   2.5           -6.5     \n"
            "Loop time of 0.1 on 1 procs for 10 steps with 500 atoms\n")
    log = parse_log(text.replace("\n", "\r\n"))
    np.testing.assert_array_equal(log.runs[0].steps, [0, 10])
    assert log.warnings == ["WARNING: Dihedral problem: 1 10 1 2 3 4"]
    assert not log.completed and log.truncated


def test_old_style_error_and_header_without_rows():
    text = (HEADER + MEM + "Step Temp E_pair E_mol TotEng Press \n"
            "ERROR: Lost atoms: original 4000 current 3999 (src/thermo.cpp:481)\nLast command: run 100\n")
    log = parse_log(text)
    assert log.errors == ["ERROR: Lost atoms: original 4000 current 3999 (src/thermo.cpp:481)\nLast command: run 100"]
    assert log.error_kind == "lost_atoms"
    assert log.runs[0].data.shape == (0, 6) and log.last_step is None and log.thermo() == {}


def test_first_specific_error_wins():
    text = "ERROR on proc 1: Something else\nERROR on proc 0: Out of range atoms - cannot compute PPPM\n"
    assert parse_log(text).error_kind == "out_of_range_atoms"
    assert parse_log("ERROR: Unknown command: foo\n").error_kind == "other"
