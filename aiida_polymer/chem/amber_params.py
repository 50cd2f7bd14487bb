"""AMBER parameter files (gaff2.dat, frcmod) and the AMBER/LEaP rules for matching them to atom types.

Formats: AMBER file-format reference ("parm.dat" and "frcmod" sections). Functional forms (kcal/mol, Å, degrees):
bonds K(r-r0)^2, angles K(θ-θ0)^2, proper torsions Σ (PK/IDIVF)[1+cos(n φ - phase)], impropers PK[1+cos(n φ - phase)]
with the central atom third, Lennard-Jones from R*/2 and ε with arithmetic mixing.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

WILDCARD = "X"


class MissingParameterError(LookupError):
    """No parameter for a bonded term; the message names the atom types."""


@dataclass(frozen=True)
class Torsion:
    """One cosine term: k [1 + cos(n φ - phase)], k in kcal/mol, phase in degrees."""

    k: float
    n: int
    phase: float


@dataclass
class ParameterSet:
    """Parameters keyed by atom-type tuples exactly as written in the file (order kept)."""

    masses: dict[str, float] = field(default_factory=dict)
    bonds: dict[tuple[str, ...], tuple[float, float]] = field(default_factory=dict)
    angles: dict[tuple[str, ...], tuple[float, float]] = field(default_factory=dict)
    dihedrals: dict[tuple[str, ...], list[Torsion]] = field(default_factory=dict)
    impropers: dict[tuple[str, ...], Torsion] = field(default_factory=dict)
    lj: dict[str, tuple[float, float]] = field(default_factory=dict)  # type -> (R*/2 in Å, ε in kcal/mol)
    origin: str = ""

    def update(self, other: ParameterSet) -> ParameterSet:
        """Return a new set where ``other`` (e.g. an frcmod) overrides entries of ``self`` (as LEaP loads them)."""
        merged = ParameterSet(origin=f"{self.origin}+{other.origin}")
        for name in ("masses", "bonds", "angles", "dihedrals", "impropers", "lj"):
            table = dict(getattr(self, name))
            for key, value in getattr(other, name).items():
                for old in _equivalent_keys(name, key):
                    table.pop(old, None)
                table[key] = value
            setattr(merged, name, table)
        return merged

    def count(self) -> dict[str, int]:
        return {name: len(getattr(self, name)) for name in ("bonds", "angles", "dihedrals", "impropers", "lj")}


def _equivalent_keys(table: str, key: tuple[str, ...]) -> list[tuple[str, ...]]:
    if table in ("bonds", "angles", "dihedrals"):
        return [key, key[::-1]]
    if table == "impropers":  # LEaP matches impropers on the outer types in any order (centre third)
        a, b, c, d = key
        return [(a, b, c, d), (a, d, c, b), (b, a, c, d), (b, d, c, a), (d, a, c, b), (d, b, c, a)]
    return [key]


def _types(line: str, n: int) -> tuple[tuple[str, ...], list[str]]:
    """Split a fixed-format line 'a -b -c -d  numbers...' into the types and the remaining tokens."""
    width = 3 * n - 1
    types = tuple(line[3 * i : 3 * i + 2].strip() for i in range(n))
    return types, line[width:].split()


def _add_torsion_line(table: dict, key: tuple[str, ...], tokens: list[str], continuing: bool) -> bool:
    """Parse 'IDIVF PK PHASE PN'; return whether more terms follow (negative PN)."""
    idivf, pk, phase, pn = (float(t) for t in tokens[:4])
    term = Torsion(k=pk / idivf, n=abs(round(pn)), phase=phase)
    if continuing and key in table:
        table[key].append(term)
    else:
        table[key] = [term]
    return pn < 0


def _read_sections(lines: list[str], sections: list[str], params: ParameterSet) -> None:
    """Read bonded sections in order; each ends at a blank line."""
    it = iter(lines)
    for section in sections:
        pending: tuple[str, ...] | None = None
        for line in it:
            if not line.strip():
                break
            if section == "mass":
                tokens = line.split()
                params.masses[tokens[0]] = float(tokens[1])
            elif section == "bond":
                key, tok = _types(line, 2)
                params.bonds[key] = (float(tok[0]), float(tok[1]))
            elif section == "angle":
                key, tok = _types(line, 3)
                params.angles[key] = (float(tok[0]), float(tok[1]))
            elif section == "dihedral":
                key, tok = _types(line, 4)
                more = _add_torsion_line(params.dihedrals, key, tok, continuing=key == pending)
                pending = key if more else None
            elif section == "improper":
                key, tok = _types(line, 4)
                params.impropers[key] = Torsion(k=float(tok[0]), n=abs(round(float(tok[2]))), phase=float(tok[1]))
            elif section == "nonbond":
                tokens = line.split()
                params.lj[tokens[0]] = (float(tokens[1]), float(tokens[2]))
    return None


def read_parm(text: str, origin: str = "parm") -> ParameterSet:
    """Read a main parameter file (gaff2.dat layout: title, MASS, hydrophilic line, BOND … IMPROPER, HBOND,
    non-bonded equivalences, MOD4 RE block)."""
    lines = text.splitlines()
    params = ParameterSet(origin=origin)
    body = lines[1:]
    # MASS ends at a blank line; the next line lists hydrophilic types, then BOND starts.
    mass_end = next(i for i, line in enumerate(body) if not line.strip())
    _read_sections(body[: mass_end + 1], ["mass"], params)
    rest = body[mass_end + 2 :]
    _read_sections(rest, ["bond", "angle", "dihedral", "improper"], params)
    start = next(i for i, line in enumerate(lines) if line.startswith("MOD4"))
    for line in lines[start + 1 :]:
        if not line.strip() or line.startswith("END"):
            break
        tokens = line.split()
        params.lj[tokens[0]] = (float(tokens[1]), float(tokens[2]))
    return params


FRCMOD_SECTIONS = {"MASS": "mass", "BOND": "bond", "ANGL": "angle", "DIHE": "dihedral", "IMPR": "improper",
                   "NONB": "nonbond"}


def read_frcmod(text: str, origin: str = "frcmod") -> ParameterSet:
    """Read an frcmod file (keyword-headed sections, each ending at a blank line)."""
    params = ParameterSet(origin=origin)
    lines = text.splitlines()[1:]
    i = 0
    while i < len(lines):
        section = FRCMOD_SECTIONS.get(lines[i][:4].upper())
        i += 1
        if section is None:
            continue
        end = next((j for j in range(i, len(lines)) if not lines[j].strip()), len(lines))
        _read_sections(lines[i : end + 1], [section], params)
        i = end + 1
    return params


# --- matching -------------------------------------------------------------------------------------------------


def bond(params: ParameterSet, a: str, b: str) -> tuple[float, float]:
    for key in ((a, b), (b, a)):
        if key in params.bonds:
            return params.bonds[key]
    raise MissingParameterError(f"no bond parameter for {a}-{b}")


def angle(params: ParameterSet, a: str, b: str, c: str) -> tuple[float, float]:
    for key in ((a, b, c), (c, b, a)):
        if key in params.angles:
            return params.angles[key]
    raise MissingParameterError(f"no angle parameter for {a}-{b}-{c}")


def dihedral(params: ParameterSet, a: str, b: str, c: str, d: str) -> list[Torsion]:
    """Specific match in either direction first, then the generic X-b-c-X (LEaP's rule)."""
    for key in ((a, b, c, d), (d, c, b, a), (WILDCARD, b, c, WILDCARD), (WILDCARD, c, b, WILDCARD)):
        if key in params.dihedrals:
            return params.dihedrals[key]
    raise MissingParameterError(f"no dihedral parameter for {a}-{b}-{c}-{d}")


def improper(params: ParameterSet, outer: tuple[str, str, str], center: str) -> Torsion | None:
    """Best improper for a trivalent centre: the entry whose non-wildcard outer types are contained in ``outer``,
    fewest wildcards first; None when there is none (LEaP then adds no improper)."""
    match = improper_match(params, outer, center)
    return None if match is None else match[1]


def improper_match(params: ParameterSet, outer: Sequence[str], center: str
                   ) -> tuple[tuple[str, ...], Torsion] | None:
    """:func:`improper` with the matched entry's key as written in the file (LEaP orders the atoms by it)."""
    have = Counter(outer)
    best: tuple[int, tuple[str, ...], Torsion] | None = None
    for key, term in params.impropers.items():
        if key[2] != center:
            continue
        want = Counter(t for i, t in enumerate(key) if i != 2 and t != WILDCARD)
        if want - have:
            continue
        wildcards = 3 - sum(want.values())
        if best is None or wildcards < best[0]:
            best = (wildcards, key, term)
    return None if best is None else (best[1], best[2])


def lj(params: ParameterSet, atom_type: str) -> tuple[float, float]:
    """(σ in Å, ε in kcal/mol) for LAMMPS lj/* pair styles: σ = 2 (R*/2) / 2^(1/6)."""
    if atom_type not in params.lj:
        raise MissingParameterError(f"no Lennard-Jones parameter for type {atom_type}")
    rhalf, eps = params.lj[atom_type]
    return 2.0 * rhalf / 2.0 ** (1.0 / 6.0), eps
