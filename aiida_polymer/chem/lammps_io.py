"""LAMMPS data files (atom_style full) for GAFF2 systems.

Styles the input script must use (also written as header comments):
pair lj/charmm/coul/long 8 12 with pair_modify mix arithmetic, kspace pppm, bond/angle harmonic, dihedral fourier,
improper cvff, special_bonds amber. Type labels name every type by its GAFF2 atom types.
"""

from __future__ import annotations

import io

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
