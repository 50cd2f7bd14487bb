"""AmberTools glue: where the executables and gaff2.dat are, their command lines, and their file formats.

By default the AmberTools bundled in the PyPI package ``acpype`` are used; set ``AMBERHOME`` to use another
installation. The binaries find their data relative to their own path, so they are always called by full path.
"""

from __future__ import annotations

import os
import re
import subprocess
import tempfile
from importlib.util import find_spec
from pathlib import Path

from rdkit import Chem

# Command lines (input/output names are placeholders filled by the caller, e.g. by aiida-shell).
ANTECHAMBER_ARGS = ["-i", "{structure}", "-fi", "mdl", "-o", "typed.mol2", "-fo", "mol2", "-at", "gaff2",
                    "-pf", "y", "-dr", "no"]
PARMCHK2_ARGS = ["-i", "{typed}", "-f", "mol2", "-o", "missing.frcmod", "-s", "gaff2"]


class AmberToolsError(RuntimeError):
    """An AmberTools program is missing or failed; the message carries its output."""


def amber_home() -> Path:
    if os.environ.get("AMBERHOME"):
        return Path(os.environ["AMBERHOME"])
    spec = find_spec("acpype")
    if spec is None or spec.origin is None:
        raise AmberToolsError("AmberTools not found: install the PyPI package 'acpype' or set AMBERHOME")
    return Path(spec.origin).parent / "amber_linux"


def executable(name: str) -> Path:
    path = amber_home() / "bin" / name
    if not path.exists():
        raise AmberToolsError(f"AmberTools program {name!r} not found at {path}")
    return path


def gaff2_dat() -> Path:
    return amber_home() / "dat" / "leap" / "parm" / "gaff2.dat"


def run(name: str, args: list[str], cwd: Path) -> str:
    """Run an AmberTools program in ``cwd``; raise AmberToolsError with its output if it fails."""
    proc = subprocess.run([str(executable(name)), *args], cwd=cwd, capture_output=True, text=True)
    if proc.returncode != 0:
        raise AmberToolsError(f"{name} failed (exit {proc.returncode}):\n{proc.stdout[-2000:]}{proc.stderr[-2000:]}")
    return proc.stdout


def assign_gaff2(mol: Chem.Mol) -> tuple[list[str], str]:
    """GAFF2 atom types (in ``mol``'s atom order) and parmchk2's frcmod for a molecule with 3D coordinates."""
    with tempfile.TemporaryDirectory(prefix="antechamber-") as tmp:
        cwd = Path(tmp)
        Chem.MolToMolFile(mol, str(cwd / "structure.sdf"))
        run("antechamber", [a.format(structure="structure.sdf") for a in ANTECHAMBER_ARGS], cwd)
        mol2 = (cwd / "typed.mol2").read_text()
        run("parmchk2", [a.format(typed="typed.mol2") for a in PARMCHK2_ARGS], cwd)
        frcmod = (cwd / "missing.frcmod").read_text()
    types = read_mol2_types(mol2)
    if len(types) != mol.GetNumAtoms():
        raise AmberToolsError(f"antechamber typed {len(types)} atoms, the molecule has {mol.GetNumAtoms()}")
    return types, frcmod


def read_mol2_types(text: str) -> list[str]:
    """Atom types (6th column) of the @<TRIPOS>ATOM block."""
    block = text.split("@<TRIPOS>ATOM", 1)[1].split("@<TRIPOS>", 1)[0]
    return [line.split()[5] for line in block.splitlines() if line.strip()]


def estimated_parameters(frcmod: str) -> list[str]:
    """Parameter lines parmchk2 had to estimate (they carry a 'same as', 'penalty' or 'ATTN' remark)."""
    pattern = re.compile(r"same as|penalty|ATTN", re.IGNORECASE)
    return [line.rstrip() for line in frcmod.splitlines() if pattern.search(line)]


def version() -> str:
    """The AmberTools version string from the installation's config (for provenance)."""
    for candidate in (amber_home() / "amber.sh", amber_home() / "config.h"):
        if candidate.exists():
            match = re.search(r"configured on ([\d-]+)", candidate.read_text())
            if match:
                return f"AmberTools (configured {match.group(1)}) at {amber_home()}"
    return f"AmberTools at {amber_home()}"
