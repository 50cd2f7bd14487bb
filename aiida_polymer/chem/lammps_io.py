"""LAMMPS data files (atom_style full) for GAFF2 systems, and the ``fix ave/time`` vector files LAMMPS writes.

Styles the input script must use (also written as header comments):
pair lj/charmm/coul/long 8 12 with pair_modify mix arithmetic, kspace pppm, bond/angle harmonic, dihedral fourier,
improper cvff, special_bonds amber. Type labels name every type by its GAFF2 atom types.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

import numpy as np

from .topology import ForceField, Topology

STYLES = {
    "units": "real",
    "atom_style": "full",
    "pair_style": "lj/charmm/coul/long 8.0 12.0",
    "pair_modify": "mix arithmetic",
    "kspace_style": "pppm 1e-6",
    "bond_style": "harmonic",
    "angle_style": "harmonic",
    "dihedral_style": "fourier",
    "improper_style": "cvff",
    "special_bonds": "amber",
}


def style_lines(**overrides: str) -> str:
    """The style commands matching the data file, one per line."""
    return "".join(f"{k} {v}\n" for k, v in {**STYLES, **overrides}.items() if v)


def read_vector_frames(text: str) -> tuple[np.ndarray, np.ndarray]:
    """A ``fix ave/time ... mode vector`` file: steps (F,) and values (F, rows, columns); a last frame cut short
    (a killed job) is dropped."""
    steps, frames, rows, expected = [], [], [], 0
    for line in text.splitlines():
        tokens = line.split()
        if not tokens or tokens[0].startswith("#"):
            continue
        if expected == 0:  # frame header: step, number of rows
            steps.append(int(tokens[0]))
            expected, rows = int(tokens[1]), []
            continue
        values = [float(x) for x in tokens[1:]]
        if not values or (rows and len(values) != len(rows[0])):
            break
        rows.append(values)
        if len(rows) == expected:
            frames.append(rows)
            expected = 0
    if not frames:
        return np.zeros(0, dtype=int), np.zeros((0, 0, 0))
    return np.array(steps[: len(frames)], dtype=int), np.array(frames, dtype=float)


def read_dump(text: str) -> tuple[np.ndarray, list[str], np.ndarray]:
    """A ``dump custom`` file with an ``id`` column: steps (F,), the column names, values (F, atoms, columns) with
    the atoms in id order; a last frame cut short (a killed job) is dropped."""
    lines = text.splitlines()
    steps, frames, columns, i = [], [], [], 0
    while i + 9 <= len(lines) and lines[i].startswith("ITEM: TIMESTEP"):
        step, natoms = int(lines[i + 1]), int(lines[i + 3])
        columns = lines[i + 8].split()[2:]
        rows = lines[i + 9:i + 9 + natoms]
        if len(rows) < natoms:
            break
        values = np.array(" ".join(rows).split(), dtype=float).reshape(natoms, len(columns))
        frames.append(values[np.argsort(values[:, columns.index("id")])])
        steps.append(step)
        i += 9 + natoms
    if not frames:
        return np.zeros(0, dtype=int), columns, np.zeros((0, 0, len(columns)))
    return np.array(steps, dtype=int), columns, np.array(frames)


def _label(key: tuple[str, ...]) -> str:
    return "-".join(key)


def write_data(top: Topology, ff: ForceField, coords: np.ndarray, images: np.ndarray,
               box: tuple[float, float, float] | np.ndarray, title: str = "aiida-polymer") -> str:
    """The data file text; ``coords`` wrapped into [0, box) with ``images`` the unwrap flags."""
    out = io.StringIO()
    w = out.write
    w(f"{title}\n")
    for k, v in STYLES.items():
        w(f"# {k} {v}\n")
    w("\n")
    atom_types = list(ff.masses)
    counts = [("atoms", top.n_atoms), ("bonds", len(ff.bond_terms)), ("angles", len(ff.angle_terms)),
              ("dihedrals", len(ff.dihedral_terms)), ("impropers", len(ff.improper_terms))]
    for name, n in counts:
        w(f"{n} {name}\n")
    tables = [("atom", atom_types), ("bond", ff.bond_coeffs), ("angle", ff.angle_coeffs),
              ("dihedral", ff.dihedral_coeffs), ("improper", ff.improper_coeffs)]
    for name, table in tables:
        w(f"{len(table)} {name} types\n")
    lx, ly, lz = np.broadcast_to(np.asarray(box, float), 3)
    w(f"\n0.0 {lx:.10f} xlo xhi\n0.0 {ly:.10f} ylo yhi\n0.0 {lz:.10f} zlo zhi\n")

    w("\nAtom Type Labels\n\n")
    w("".join(f"{i} {a}\n" for i, a in enumerate(atom_types, 1)))
    for name, table in tables[1:]:
        if table:
            w(f"\n{name.capitalize()} Type Labels\n\n")
            w("".join(f"{i} {_label(k)}\n" for i, k in enumerate(table, 1)))

    w("\nMasses\n\n")
    w("".join(f"{i} {ff.masses[a]:.4f}\n" for i, a in enumerate(atom_types, 1)))
    w("\nPair Coeffs # lj/charmm/coul/long\n\n")
    w("".join(f"{i} {ff.pair[a][0]:.6f} {ff.pair[a][1]:.6f}\n" for i, a in enumerate(atom_types, 1)))
    if ff.bond_coeffs:
        w("\nBond Coeffs # harmonic\n\n")
        w("".join(f"{i} {k:.4f} {r:.4f}\n" for i, (k, r) in enumerate(ff.bond_coeffs.values(), 1)))
    if ff.angle_coeffs:
        w("\nAngle Coeffs # harmonic\n\n")
        w("".join(f"{i} {k:.4f} {t:.4f}\n" for i, (k, t) in enumerate(ff.angle_coeffs.values(), 1)))
    if ff.dihedral_coeffs:
        w("\nDihedral Coeffs # fourier\n\n")
        for i, terms in enumerate(ff.dihedral_coeffs.values(), 1):
            w(f"{i} {len(terms)}" + "".join(f" {t.k:.6f} {t.n} {t.phase:.4f}" for t in terms) + "\n")
    if ff.improper_coeffs:
        w("\nImproper Coeffs # cvff\n\n")
        w("".join(f"{i} {k:.6f} {d} {n}\n" for i, (k, d, n) in enumerate(ff.improper_coeffs.values(), 1)))

    type_id = {a: i for i, a in enumerate(atom_types, 1)}
    w("\nAtoms # full\n\n")
    for i in range(top.n_atoms):
        x, y, z = coords[i]
        ix, iy, iz = images[i]
        w(f"{i + 1} {top.molecule[i]} {type_id[top.types[i]]} {top.charges[i]:.8f} "
          f"{x:.6f} {y:.6f} {z:.6f} {ix} {iy} {iz}\n")
    for name, terms in (("Bonds", ff.bond_terms), ("Angles", ff.angle_terms), ("Dihedrals", ff.dihedral_terms),
                        ("Impropers", ff.improper_terms)):
        if terms:
            w(f"\n{name}\n\n")
            w("".join(f"{n} {c + 1} " + " ".join(str(a + 1) for a in atoms) + "\n"
                      for n, (c, atoms) in enumerate(terms, 1)))
    return out.getvalue()


@dataclass
class DataFile:
    """What the analysis needs from a data file: box lengths, per-atom mass/molecule/charge, unwrapped coordinates
    and bonds (0-based), ordered by atom id."""

    box: np.ndarray
    mass: np.ndarray
    molecule: np.ndarray
    charge: np.ndarray
    coords: np.ndarray
    bonds: np.ndarray

    @property
    def total_mass(self) -> float:
        return float(self.mass.sum())


def read_data(text: str) -> DataFile:
    """Read a LAMMPS ``atom_style full`` data file (ours or one from ``write_data``)."""
    lines = text.splitlines()
    bounds = {}
    for line in lines[1:60]:
        parts = line.split()
        if len(parts) == 4 and parts[2].endswith("lo"):
            bounds[parts[2][0]] = (float(parts[0]), float(parts[1]))
    box = np.array([bounds[a][1] - bounds[a][0] for a in "xyz"])
    sections = _sections(lines)
    masses = {int(row[0]): float(row[1]) for row in sections["Masses"]}
    atoms = np.array(sorted(sections["Atoms"], key=lambda r: int(r[0])), dtype=object)
    ids = atoms[:, 0].astype(int)
    index = {atom_id: i for i, atom_id in enumerate(ids)}
    coords = atoms[:, 4:7].astype(float)
    if atoms.shape[1] >= 10:
        coords = coords + atoms[:, 7:10].astype(int) * box
    bonds = np.array([(index[int(r[2])], index[int(r[3])]) for r in sections.get("Bonds", [])], dtype=int)
    return DataFile(box=box, mass=np.array([masses[int(t)] for t in atoms[:, 2]]), molecule=atoms[:, 1].astype(int),
                    charge=atoms[:, 3].astype(float), coords=coords, bonds=bonds.reshape(-1, 2))


def _sections(lines: list[str]) -> dict[str, list[list[str]]]:
    """Rows of each section (keyword line, blank line, rows until the next blank line)."""
    out: dict[str, list[list[str]]] = {}
    i = 0
    while i < len(lines):
        words = lines[i].split("#")[0].split()
        if words and words[0] in ("Masses", "Pair", "Atoms", "Bonds", "Velocities"):  # Pair: Pair Coeffs
            rows, i = [], i + 2
            while i < len(lines) and lines[i].strip():
                rows.append(lines[i].split("#")[0].split())
                i += 1
            out[words[0]] = rows
        i += 1
    return out
