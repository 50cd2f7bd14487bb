"""Repeat units and end groups: parse and validate SMILES with `*` connection points.

A repeat unit has exactly two `*` (the first in the SMILES is the head, the second the tail); an end group has
exactly one. Both are stored as RDKit molecules with explicit hydrogens and without the `*` atoms, plus the
indices of the atoms that carried them.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from rdkit import Chem, RDLogger

SUPPORTED_ELEMENTS = frozenset({"H", "C", "N", "O", "F", "P", "S", "Cl", "Br", "I"})


class MonomerError(ValueError):
    """A SMILES that cannot be used as a repeat unit or end group; the message says why."""


@dataclass(frozen=True)
class Fragment:
    """A repeat unit (head and tail set) or an end group (only one of them set).

    ``mol`` has explicit hydrogens and no dummy atoms; ``head``/``tail`` index the atoms that were bonded to `*`.
    """

    smiles: str
    canonical: str
    mol: Chem.Mol = field(repr=False, compare=False)
    head: int | None
    tail: int | None

    @property
    def n_atoms(self) -> int:
        return self.mol.GetNumAtoms()

    @property
    def mass(self) -> float:
        """Molar mass (g/mol) of the fragment's own atoms (no caps)."""
        return sum(a.GetMass() for a in self.mol.GetAtoms())

    @property
    def n_heavy(self) -> int:
        return self.mol.GetNumHeavyAtoms()

    def capped(self) -> tuple[Chem.Mol, dict[int, int]]:
        """The fragment with each `*` replaced by H, and a map cap-H index -> atom it is bonded to.

        Atom indices 0..n_atoms-1 are those of ``mol``; the caps follow.
        """
        rw = Chem.RWMol(self.mol)
        caps: dict[int, int] = {}
        for site in (self.head, self.tail):
            if site is None:
                continue
            h = rw.AddAtom(Chem.Atom(1))
            rw.AddBond(site, h, Chem.BondType.SINGLE)
            caps[h] = site
        mol = rw.GetMol()
        Chem.SanitizeMol(mol)
        return mol, caps


def _parse(smiles: str, n_stars: int, what: str) -> Fragment:
    if not isinstance(smiles, str) or not smiles.strip():
        raise MonomerError(f"{what}: empty SMILES")
    RDLogger.DisableLog("rdApp.*")
    try:
        mol = Chem.MolFromSmiles(smiles, sanitize=False)
        if mol is None:
            raise MonomerError(f"{what}: cannot parse SMILES {smiles!r} (not valid SMILES syntax)")
        try:
            Chem.SanitizeMol(mol)
        except Exception as exc:  # RDKit's valence and aromaticity errors, e.g. a five-bonded carbon
            raise MonomerError(f"{what}: SMILES {smiles!r} is not a valid molecule: {exc}") from None
    finally:
        RDLogger.EnableLog("rdApp.*")
    fragments = Chem.GetMolFrags(mol)
    if len(fragments) > 1:
        raise MonomerError(f"{what}: SMILES {smiles!r} has {len(fragments)} disconnected fragments; a repeat unit "
                           "or end group is one molecule (no '.')")
    stars = [a for a in mol.GetAtoms() if a.GetAtomicNum() == 0]
    if len(stars) != n_stars:
        raise MonomerError(
            f"{what}: SMILES {smiles!r} has {len(stars)} connection point(s) '*', expected exactly {n_stars}"
        )
    for star in stars:
        bonds = star.GetBonds()
        if len(bonds) != 1:
            raise MonomerError(f"{what}: each '*' must have exactly one bond in {smiles!r}")
        if bonds[0].GetBondType() != Chem.BondType.SINGLE:
            raise MonomerError(
                f"{what}: '*' on a multiply-bonded position in {smiles!r}; connection bonds must be single"
            )
        if bonds[0].GetOtherAtom(star).GetAtomicNum() == 0:
            raise MonomerError(f"{what}: two '*' bonded to each other in {smiles!r}")
    real = [a for a in mol.GetAtoms() if a.GetAtomicNum() != 0]
    if not real:
        raise MonomerError(f"{what}: {smiles!r} has no atoms besides '*'")
    for atom in real:
        if atom.GetSymbol() not in SUPPORTED_ELEMENTS:
            raise MonomerError(
                f"{what}: element {atom.GetSymbol()} in {smiles!r} is not supported "
                f"(supported: {' '.join(sorted(SUPPORTED_ELEMENTS))})"
            )
        if atom.GetNumRadicalElectrons():
            raise MonomerError(f"{what}: {smiles!r} has a radical on {atom.GetSymbol()}{atom.GetIdx()}")
        if atom.GetIsotope():
            raise MonomerError(f"{what}: isotope labels are not supported in {smiles!r}")
    charge = Chem.GetFormalCharge(mol)
    if charge != 0:
        raise MonomerError(f"{what}: {smiles!r} has net charge {charge:+d}; only neutral units are supported")

    sites = [star.GetNeighbors()[0].GetIdx() for star in stars]
    canonical = Chem.MolToSmiles(mol)
    withh = Chem.AddHs(mol)
    # Drop the dummies; map old indices to new ones.
    keep = [a.GetIdx() for a in withh.GetAtoms() if a.GetAtomicNum() != 0]
    new_index = {old: new for new, old in enumerate(keep)}
    rw = Chem.RWMol(withh)
    for star in sorted((s.GetIdx() for s in stars), reverse=True):
        rw.RemoveAtom(star)
    clean = rw.GetMol()
    for atom in clean.GetAtoms():
        atom.SetNoImplicit(True)
    Chem.SanitizeMol(clean)
    Chem.Kekulize(clean, clearAromaticFlags=True)
    head = new_index[sites[0]]
    tail = new_index[sites[1]] if n_stars == 2 else None
    return Fragment(smiles=smiles, canonical=canonical, mol=clean, head=head, tail=tail)


def parse_repeat_unit(smiles: str) -> Fragment:
    """Parse a repeat-unit SMILES with exactly two `*` (head first, tail second)."""
    return _parse(smiles, 2, "repeat unit")


def parse_end_group(smiles: str) -> Fragment:
    """Parse an end-group SMILES with exactly one `*`; its attachment atom is ``head``."""
    return _parse(smiles, 1, "end group")

