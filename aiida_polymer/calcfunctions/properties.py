"""Calcfunctions over the production run: convergence check and the equilibrium properties."""

from __future__ import annotations

import numpy as np
from aiida import orm
from aiida.engine import calcfunction

from ..chem import analysis
from ..chem.lammps_io import read_data


def _thermo(node: orm.ArrayData) -> dict[str, np.ndarray]:
    return {name: node.get_array(name) for name in node.get_arraynames()}


@calcfunction
def check_convergence(thermo: orm.ArrayData, rg: orm.ArrayData, parameters: orm.Dict) -> orm.Dict:
    """RadonPy-style drift criteria on the last window of the production run (see ``analysis.check_convergence``).

    ``parameters``: window (fraction) and thresholds (overrides of ``analysis.CONVERGENCE_THRESHOLDS``).
    """
    p = parameters.get_dict()
    result = analysis.check_convergence(_thermo(thermo), rg.get_array("values"), window=p.get("window", 0.5),
                                        thresholds=p.get("thresholds"))
    return orm.Dict(result)


def backbone_vectors(data) -> tuple[np.ndarray, np.ndarray]:
    """Unit vectors of the bonds between heavy atoms (for the nematic order parameter) and their chains."""
    heavy = data.mass[data.bonds] > 2.0
    bonds = data.bonds[heavy.all(axis=1)]
    v = data.coords[bonds[:, 1]] - data.coords[bonds[:, 0]]
    return v / np.linalg.norm(v, axis=1, keepdims=True), data.molecule[bonds[:, 0]]


def chain_masses(data) -> np.ndarray:
    """Mass (g/mol) of each molecule of the data file, in molecule-ID order (the order of ``com/chunk``)."""
    ids, index = np.unique(data.molecule, return_inverse=True)
    return np.bincount(index, weights=data.mass, minlength=len(ids))


@calcfunction
def compute_properties(thermo: orm.ArrayData, rg: orm.ArrayData, com: orm.ArrayData, dipole: orm.ArrayData,
                       final_data: orm.SinglefileData, convergence: orm.Dict, parameters: orm.Dict,
                       vdos: orm.ArrayData | None = None) -> orm.Dict:
    """The equilibrium property table {name: {value, unit, stderr, flags}} of the production run.

    Time series carry their own time axis (fs, what the stage ran: after a timestep halving not the protocol's).
    ``parameters``: temperature (K), pressure (atm), optional flags for every property, and optionally
    polarizability (Å³) with repeat_mass (g/mol) and, for copolymers, fractions (the composition of the built
    chains), for the refractive index and the dielectric constant. ``vdos``: the velocity spectrum of the run
    (the LAMMPS parser's ``vdos`` output), for the quantum-corrected heat capacities.
    """
    p = parameters.get_dict()
    data = read_data(final_data.get_content())
    series = _thermo(thermo)
    flags = [*p.get("flags", []), *([] if convergence["converged"] else ["not_converged"])]
    vectors, chains = backbone_vectors(data)
    table = analysis.properties(
        series, data.total_mass, temp=p["temperature"], press=p["pressure"], rg=rg.get_array("values"),
        com=(com.get_array("time"), com.get_array("values")), chain_masses=chain_masses(data),
        dipole=dipole.get_array("dipole"), nematic_vectors=vectors, nematic_groups=chains,
        polarizability=p.get("polarizability"), repeat_mass=p.get("repeat_mass"), fractions=p.get("fractions"),
        flags=flags, quantum_correction=None if vdos is None else (
            vdos.base.attributes.get("correction"), vdos.base.attributes.get("correction_stderr")))
    return orm.Dict(table)
