"""Low-energy conformers of a small molecule (a capped repeat unit or end group) to start quantum chemistry from.

ETKDG v3 embeds ``n_conformers`` geometries (pruned at ``prune_rms`` Å), MMFF94 minimises them, Butina clustering
on the heavy-atom RMSD (after optimal alignment) at ``cluster_rms`` Å keeps the lowest-energy member of each
cluster, and the ``keep`` lowest of those are returned, lowest first. Everything is seeded: the same molecule and
parameters give the same coordinates, so downstream calculations can be reused from AiiDA's cache.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from rdkit import Chem
from rdkit.Chem import AllChem, rdMolAlign
from rdkit.ML.Cluster import Butina


@dataclass(frozen=True)
class Conformer:
    """One conformer: MMFF94 energy (kcal/mol) and coordinates (Å) in the molecule's atom order."""

    energy: float
    coords: np.ndarray


def search(mol: Chem.Mol, n_conformers: int = 30, keep: int = 3, prune_rms: float = 0.1,
           cluster_rms: float = 0.5, seed: int = 42, max_iters: int = 2000) -> list[Conformer]:
    """The ``keep`` lowest-energy distinct conformers of ``mol`` (explicit hydrogens), lowest first."""
    if n_conformers < 1 or keep < 1:
        raise ValueError("n_conformers and keep must be positive")
    if any(atom.GetNumImplicitHs() for atom in mol.GetAtoms()):
        raise ValueError("the molecule needs explicit hydrogens (Chem.AddHs)")
    mol = Chem.Mol(mol)
    mol.RemoveAllConformers()
    params = AllChem.ETKDGv3()
    params.randomSeed = seed
    params.pruneRmsThresh = prune_rms
    params.numThreads = 1
    ids = list(AllChem.EmbedMultipleConfs(mol, numConfs=n_conformers, params=params))
    if not ids:
        raise ValueError(f"RDKit could not embed {Chem.MolToSmiles(mol)}")
    if not AllChem.MMFFHasAllMoleculeParams(mol):
        raise ValueError(f"MMFF94 has no parameters for {Chem.MolToSmiles(mol)}")
    results = AllChem.MMFFOptimizeMoleculeConfs(mol, numThreads=1, maxIters=max_iters)
    energies = np.array([energy for _, energy in results])
    heavy = Chem.RemoveHs(mol)
    distances = [rdMolAlign.GetBestRMS(heavy, heavy, ids[j], ids[i]) for i in range(1, len(ids)) for j in range(i)]
    clusters = Butina.ClusterData(distances, len(ids), cluster_rms, isDistData=True, reordering=True)
    best = sorted(min(cluster, key=lambda k: energies[k]) for cluster in clusters)
    best.sort(key=lambda k: energies[k])
    return [Conformer(float(energies[k]), mol.GetConformer(ids[k]).GetPositions()) for k in best[:keep]]
