"""Psi4 input writer and output parser (pure Python), for a ``polymer.psi4`` CalcJob.

:class:`Psi4Task` describes one calculation; :func:`write_input` renders it as a psithon ``input.dat`` (run as
``psi4 -n N input.dat output.dat``) and :func:`write_grid` the ``grid.dat`` of an ESP task. :func:`parse_output`
reads ``output.dat`` plus the produced files (``grid_esp.dat``, ``geometry.xyz``) into a :class:`Psi4Result`.

Portability: every input below was run with Debian's psi4 1.3.2; for 1.9/1.10 the psi4 sources were read
(``driver.optimize``, ``libmints/oeprop.cc``, ``read_options.cc``, ``response/scf_response.py``), not run:

* Only options present in both are written: ``memory``, ``basis``, ``reference``, ``scf_type``, ``maxiter``,
  ``damping_percentage``, ``guess``, ``e_convergence``, ``d_convergence``, ``geom_maxiter``, ``g_convergence``,
  ``perturb_h``/``perturb_with dipole``/``perturb_dipole``. The guesses ``sadno``, ``sap``, ``sapgau`` and
  ``modhuckel`` are rejected by 1.3.2 ("... is not a valid choice") and need ``psi4_version >= (1, 9)``.
* Results are printed by the input itself as ``@aiida_polymer <key> <json>`` lines, computed with calls that exist
  in both versions (``Wavefunction.Da_subset``, ``MintsHelper.ao_dipole``, ``Molecule.Z``/``geometry``,
  ``optimize(return_history=True)``), so nothing depends on the changed psivar names
  (1.3 ``SCF DIPOLE X`` in Debye, 1.4+ ``SCF DIPOLE`` array in a.u.) or on the printed layouts.
* The molecule is always ``symmetry c1``, ``no_com``, ``no_reorient``: grid points, dipoles and the polarizability
  tensor are in the frame (and about the origin) of the input coordinates. Both versions read ``grid.dat`` in the
  molecule's units (Angstrom here) and write ``grid_esp.dat`` in Hartree/e, one ``%16.10f`` value a line.
* Optimization: on success ``mol`` holds the final geometry; on ``OptimizationConvergenceError`` (geom_maxiter hit)
  the input prints ``exc.wfn.molecule()``, the next geometry optimking proposed (the user's ``mol`` is *not*
  updated by 1.3.2 in that case), with the energy of the last computed point, then re-raises.
* Polarizability: ``finite_field`` (default) runs 6 extra SCFs in a uniform field ±F along x, y, z
  (``perturb_with dipole``) and prints α_ij = ∓Δμ_i/ΔF_j in a.u. (psi4 adds F·μ̂ to H, so Δμ/ΔF is -α; the sign
  is fixed by the trace since α is positive definite); any SCF reference (RHF/UHF/ROHF, HF or DFT), both versions.
  ``cphf`` calls ``properties(method, properties=['dipole_polarizabilities'])`` (analytic CPSCF, restricted
  closed shell only: the 1.3.2 solver hard-codes the RHF factor). On water HF/aug-cc-pVDZ both agree to 5e-4 a.u.

Error kinds (:data:`ERROR_KINDS`): ``missing_output`` (no or empty ``output.dat``), ``scf_not_converged``
(``SCFConvergenceError``), ``optimization_not_converged`` (``OptimizationConvergenceError``; energy and geometry of
the last step are still returned), ``crash`` (any other traceback / ``Fatal Error``; the message is the exception
line) and ``incomplete`` (no error and no exit message: killed or still running).
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import asdict, dataclass, field, fields
from typing import Any

import numpy as np

TASKS = ("energy", "optimize", "esp", "polarizability")
ERROR_KINDS = ("missing_output", "scf_not_converged", "optimization_not_converged", "crash", "incomplete")
POLARIZABILITY_METHODS = ("finite_field", "cphf")

AU_TO_DEBYE = 2.541746473  # e a0 -> Debye (CODATA 2018)
AU3_TO_ANGSTROM3 = 0.148184711  # a0^3 -> Angstrom^3 (polarizability volume)

MARKER = "@aiida_polymer"
GRID_FILE = "grid.dat"
ESP_FILE = "grid_esp.dat"
GEOMETRY_FILE = "geometry.xyz"

SCF_TYPES = ("pk", "df", "mem_df", "disk_df", "direct", "out_of_core", "cd")
REFERENCES = ("rhf", "uhf", "rohf", "rks", "uks")
GUESSES = ("auto", "core", "gwh", "sad", "huckel", "read")
GUESSES_1_9 = ("sadno", "sap", "sapgau", "modhuckel")  # not valid choices in psi4 1.3.2
G_CONVERGENCES = ("qchem", "molpro", "gau", "gau_loose", "gau_tight", "gau_verytight", "turbomole", "cfour",
                  "nwchem_loose")
# finite-field defaults when the user leaves the SCF thresholds unset: 1e-8 density noise / 2F stays below 1e-5 a.u.
FF_E_CONVERGENCE = 1e-10
FF_D_CONVERGENCE = 1e-8

_NAME = re.compile(r"^[A-Za-z0-9_+*(),.-]+$")  # method / basis names: no whitespace, quotes or braces
_MEMORY = re.compile(r"^\d+(?:\.\d+)?\s*(?:b|kb|mb|gb|tb|kib|mib|gib|tib)$", re.I)
_SYMBOL = re.compile(r"^[A-Z][a-z]?$")


@dataclass(frozen=True)
class Psi4Task:
    """One psi4 calculation; ``None`` options are left at psi4's defaults."""

    task: str = "energy"
    method: str = "hf"
    basis: str = "6-31g*"
    charge: int = 0
    multiplicity: int = 1
    reference: str | None = None  # None: rhf for singlets, uhf otherwise (psi4 maps them to rks/uks for DFT)
    memory: str = "2 GB"
    scf_type: str | None = None
    maxiter: int | None = None
    damping_percentage: float | None = None
    guess: str | None = None
    e_convergence: float | None = None
    d_convergence: float | None = None
    geom_maxiter: int | None = None
    g_convergence: str | None = None
    polarizability_method: str = "finite_field"
    field_strength: float = 0.001  # a.u. (1 a.u. = 5.14e11 V/m)

    def __post_init__(self) -> None:
        for name in ("method", "basis", "reference", "scf_type", "guess", "g_convergence", "polarizability_method",
                     "task"):
            value = getattr(self, name)
            if isinstance(value, str):
                object.__setattr__(self, name, value.strip().lower())
        self._validate()

    def _validate(self) -> None:
        _choice("task", self.task, TASKS)
        for name in ("method", "basis"):
            value = getattr(self, name)
            if not isinstance(value, str) or not _NAME.match(value):
                raise ValueError(f"{name} {value!r}: expected a name without whitespace, quotes or braces")
        _integer("charge", self.charge)
        _integer("multiplicity", self.multiplicity, minimum=1)
        if not isinstance(self.memory, str) or not _MEMORY.match(self.memory.strip()):
            raise ValueError(f"memory {self.memory!r}: expected e.g. '2 GB' or '500 MiB'")
        _choice("reference", self.reference, REFERENCES, optional=True)
        if self.reference in ("rhf", "rks") and self.multiplicity != 1:
            raise ValueError(f"reference {self.reference} needs multiplicity 1, got {self.multiplicity}")
        _choice("scf_type", self.scf_type, SCF_TYPES, optional=True)
        _choice("guess", self.guess, GUESSES + GUESSES_1_9, optional=True)
        _choice("g_convergence", self.g_convergence, G_CONVERGENCES, optional=True)
        _choice("polarizability_method", self.polarizability_method, POLARIZABILITY_METHODS)
        _integer("maxiter", self.maxiter, minimum=1, optional=True)
        _integer("geom_maxiter", self.geom_maxiter, minimum=1, optional=True)
        for name in ("e_convergence", "d_convergence"):
            _number(name, getattr(self, name), low=0.0, high=1.0)
        _number("damping_percentage", self.damping_percentage, low=0.0, high=100.0)
        _number("field_strength", self.field_strength, low=0.0, high=0.1, optional=False)
        if self.task == "polarizability" and self.polarizability_method == "cphf" and (
            self.multiplicity != 1 or self.scf_reference not in ("rhf", "rks")
        ):
            raise ValueError("polarizability_method 'cphf' needs a closed-shell restricted reference; "
                             "use 'finite_field'")

    @property
    def scf_reference(self) -> str:
        """The ``reference`` written to the input."""
        return self.reference or ("rhf" if self.multiplicity == 1 else "uhf")

    def to_dict(self) -> dict[str, Any]:
        """Plain dict (JSON-serializable), e.g. for an AiiDA ``Dict``."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Psi4Task:
        """Build from a dict, rejecting unknown keys."""
        unknown = set(data) - {f.name for f in fields(cls)}
        if unknown:
            raise ValueError(f"unknown Psi4Task keys: {sorted(unknown)}")
        return cls(**data)


def _choice(name: str, value: Any, choices: tuple[str, ...], optional: bool = False) -> None:
    if value is None and optional:
        return
    if value not in choices:
        raise ValueError(f"{name} {value!r}: expected one of {choices}")


def _integer(name: str, value: Any, minimum: int | None = None, optional: bool = False) -> None:
    if value is None and optional:
        return
    if isinstance(value, bool) or not isinstance(value, int | np.integer):
        raise ValueError(f"{name} {value!r}: expected an integer")
    if minimum is not None and value < minimum:
        raise ValueError(f"{name} {value}: expected >= {minimum}")


def _number(name: str, value: Any, low: float, high: float, optional: bool = True) -> None:
    if value is None and optional:
        return
    if isinstance(value, bool) or not isinstance(value, int | float | np.floating) or not low < value < high:
        raise ValueError(f"{name} {value!r}: expected a number in ({low}, {high})")


def _version_tuple(version: str | tuple[int, ...] | None) -> tuple[int, ...] | None:
    if version is None or isinstance(version, tuple):
        return version
    match = re.match(r"^(\d+)\.(\d+)", str(version))
    if not match:
        raise ValueError(f"psi4_version {version!r}: expected e.g. '1.9.1' or (1, 9)")
    return int(match[1]), int(match[2])


def _atomic_number(symbol: str) -> int:
    from rdkit import Chem

    return Chem.GetPeriodicTable().GetAtomicNumber(symbol)


def _check_geometry(elements: list[str], coords_angstrom: Any) -> np.ndarray:
    coords = np.asarray(coords_angstrom, dtype=float)
    if coords.ndim != 2 or coords.shape[1] != 3 or len(coords) != len(elements) or not len(elements):
        raise ValueError(f"coordinates of shape {coords.shape} for {len(elements)} elements: expected (N, 3), N > 0")
    if not np.isfinite(coords).all():
        raise ValueError("coordinates contain NaN or inf")
    for symbol in elements:
        if not isinstance(symbol, str) or not _SYMBOL.match(symbol):
            raise ValueError(f"element {symbol!r}: expected a symbol such as 'C' or 'Cl'")
    return coords


def _fmt(value: float) -> str:
    return repr(float(value))


# Helpers defined at the top of every input; only calls present in psi4 1.3 and 1.9+ (see the module docstring).
_PSITHON_HELPERS = '''\
import json
import numpy as np
import psi4


def _aiida_emit(key, value):
    print_out("\\n@aiida_polymer %s %s\\n" % (key, json.dumps(value)))


def _aiida_dipole(wfn):
    """Total dipole (e a0) about the input origin from the SCF density."""
    mints = core.MintsHelper(wfn.basisset())
    density = wfn.Da_subset("AO").to_array() + wfn.Db_subset("AO").to_array()
    molecule = wfn.molecule()
    charges = np.array([molecule.Z(i) for i in range(molecule.natom())])
    nuclear = charges @ molecule.geometry().to_array()
    return [float(np.vdot(density, ints.to_array()) + nuclear[i]) for i, ints in enumerate(mints.ao_dipole())]


def _aiida_geometry(molecule, comment):
    """Emit the geometry (Angstrom) and write it to geometry.xyz."""
    xyz = molecule.geometry().to_array() * psi4.constants.bohr2angstroms
    atoms = [[molecule.symbol(i).capitalize()] + [float(v) for v in xyz[i]] for i in range(molecule.natom())]
    _aiida_emit("geometry", atoms)
    with open("geometry.xyz", "w") as handle:
        handle.write("%d\\n%s\\n" % (len(atoms), comment))
        for atom in atoms:
            handle.write("%-2s %20.12f %20.12f %20.12f\\n" % tuple(atom))

'''


def _body_energy(call: str) -> str:
    return f'''\
_aiida_e, _aiida_wfn = energy({call}, return_wfn=True)
_aiida_emit("energy", _aiida_e)
_aiida_emit("dipole_au", _aiida_dipole(_aiida_wfn))
'''


def _body_optimize(call: str) -> str:
    return f'''\
try:
    _aiida_e, _aiida_wfn, _aiida_history = optimize({call}, return_wfn=True, return_history=True)
except Exception as _aiida_exc:
    if type(_aiida_exc).__name__ != "OptimizationConvergenceError":
        raise
    # geom_maxiter reached: report the last energy and the next geometry, then fail as psi4 does
    _aiida_emit("optimization_converged", False)
    _aiida_emit("optimization_steps", getattr(_aiida_exc, "iteration", None))
    _aiida_wfn = getattr(_aiida_exc, "wfn", None)
    if _aiida_wfn is not None:
        _aiida_emit("energy", _aiida_wfn.energy())
    _aiida_geometry(mol if _aiida_wfn is None else _aiida_wfn.molecule(), "not converged: next step")
    raise
_aiida_emit("optimization_converged", True)
_aiida_emit("optimization_steps", len(_aiida_history["energy"]))
_aiida_emit("energy", _aiida_e)
_aiida_emit("dipole_au", _aiida_dipole(_aiida_wfn))
_aiida_geometry(mol, "optimized")
'''


def _body_esp(call: str) -> str:
    return _body_energy(call) + f'''\
oeprop(_aiida_wfn, "GRID_ESP")
_aiida_emit("esp_file", "{ESP_FILE}")
'''


def _body_cphf(call: str) -> str:
    return f'''\
_aiida_e, _aiida_wfn = properties({call}, properties=["dipole_polarizabilities"], return_wfn=True)
_aiida_emit("energy", _aiida_e)
_aiida_emit("dipole_au", _aiida_dipole(_aiida_wfn))
_aiida_emit("polarizability_method", "cphf")
_aiida_emit("polarizability_au", [[core.variable("DIPOLE POLARIZABILITY " + a + b) for b in "XYZ"] for a in "XYZ"])
'''


def _body_finite_field(call: str, field_strength: float) -> str:
    return _body_energy(call) + f'''\
# static polarizability by central differences of the SCF dipole in a uniform field +-F along x, y, z
_aiida_field = {_fmt(field_strength)}
_aiida_mu = {{}}
set_options({{"perturb_h": True, "perturb_with": "dipole"}})
for _aiida_j in range(3):
    for _aiida_sign in (1, -1):
        _aiida_vec = [0.0, 0.0, 0.0]
        _aiida_vec[_aiida_j] = _aiida_sign * _aiida_field
        set_options({{"perturb_dipole": _aiida_vec}})
        _aiida_ef, _aiida_wfnf = energy({call}, return_wfn=True)
        _aiida_mu[_aiida_j, _aiida_sign] = _aiida_dipole(_aiida_wfnf)
        _aiida_emit("field_dipole_au", [_aiida_vec, _aiida_mu[_aiida_j, _aiida_sign]])
set_options({{"perturb_h": False}})
_aiida_raw = [[(_aiida_mu[j, 1][i] - _aiida_mu[j, -1][i]) / (2.0 * _aiida_field) for j in range(3)] for i in range(3)]
# psi4 adds +F.mu to H, so the raw ratio is -alpha; fix the sign by the trace (alpha is positive definite)
_aiida_s = -1.0 if _aiida_raw[0][0] + _aiida_raw[1][1] + _aiida_raw[2][2] < 0.0 else 1.0
_aiida_emit("polarizability_method", "finite_field")
_aiida_emit("field_strength_au", _aiida_field)
_aiida_emit("polarizability_au", [[_aiida_s * v for v in row] for row in _aiida_raw])
'''


def psi4_options(task: Psi4Task, elements: list[str], psi4_version: str | tuple[int, ...] | None = None
                 ) -> list[tuple[str, Any]]:
    """The psi4 options (name, value) of ``task`` for a molecule of ``elements``, checked against the version
    (``None``: the subset psi4 1.3.2 accepts) and the electron count."""
    version = _version_tuple(psi4_version)
    if task.guess in GUESSES_1_9 and (version is None or version < (1, 9)):
        raise ValueError(f"guess {task.guess!r} needs psi4_version >= 1.9 (not a valid choice in psi4 1.3.2)")
    electrons = sum(_atomic_number(symbol) for symbol in elements) - task.charge
    if electrons < 0 or (electrons + task.multiplicity) % 2 != 1 or task.multiplicity > electrons + 1:
        raise ValueError(f"multiplicity {task.multiplicity} impossible with {electrons} electrons")

    options: list[tuple[str, Any]] = [("basis", task.basis), ("reference", task.scf_reference)]
    e_conv, d_conv = task.e_convergence, task.d_convergence
    if task.task == "polarizability" and task.polarizability_method == "finite_field":
        e_conv = FF_E_CONVERGENCE if e_conv is None else e_conv
        d_conv = FF_D_CONVERGENCE if d_conv is None else d_conv
    for name, value in (("scf_type", task.scf_type), ("maxiter", task.maxiter),
                        ("damping_percentage", task.damping_percentage), ("guess", task.guess),
                        ("e_convergence", e_conv), ("d_convergence", d_conv)):
        if value is not None:
            options.append((name, value))
    if task.task == "optimize":
        options += [(name, value) for name, value in (("geom_maxiter", task.geom_maxiter),
                                                      ("g_convergence", task.g_convergence)) if value is not None]
    return options


def task_body(task: Psi4Task) -> str:
    """The psithon lines that run ``task`` on the active molecule ``mol`` and print its results."""
    call = json.dumps(task.method)
    body = {"energy": _body_energy, "optimize": _body_optimize, "esp": _body_esp}.get(task.task)
    if body is not None:
        return body(call)
    if task.polarizability_method == "cphf":
        return _body_cphf(call)
    return _body_finite_field(call, task.field_strength)


def molecule_block(name: str, task: Psi4Task, elements: list[str], coords: np.ndarray) -> list[str]:
    """A psithon ``molecule`` block in the input's frame (Å, no symmetry, no recentring or reorientation)."""
    lines = [f"molecule {name} {{", f"{task.charge} {task.multiplicity}"]
    lines += [f"{symbol:<2s} {x:20.12f} {y:20.12f} {z:20.12f}" for symbol, (x, y, z) in zip(elements, coords,
                                                                                             strict=True)]
    return [*lines, "units angstrom", "symmetry c1", "no_com", "no_reorient", "}", ""]


def write_input(
    task: Psi4Task | dict[str, Any],
    elements: list[str],
    coords_angstrom: Any,
    psi4_version: str | tuple[int, ...] | None = None,
) -> str:
    """Render the psithon ``input.dat``.

    ``psi4_version`` (e.g. ``"1.9.1"``) unlocks options missing from older versions; ``None`` keeps to the subset
    that psi4 1.3.2 accepts. For ``task="esp"`` the grid must be written next to it as ``grid.dat``
    (:func:`write_grid`).
    """
    task = task if isinstance(task, Psi4Task) else Psi4Task.from_dict(task)
    elements = list(elements)
    coords = _check_geometry(elements, coords_angstrom)
    options = psi4_options(task, elements, psi4_version)
    lines = [f"# aiida-polymer psi4 input: task={task.task} method={task.method} basis={task.basis}",
             f"memory {task.memory.strip()}", "", *molecule_block("mol", task, elements, coords)]
    lines += [f"set {name} {_fmt(value) if isinstance(value, float) else value}" for name, value in options]
    text = "\n".join(lines) + "\n\n" + _PSITHON_HELPERS + f'_aiida_emit("task", "{task.task}")\n'
    return text + task_body(task) + '_aiida_emit("finished", True)\n'


def write_grid(points: Any) -> str:
    """``grid.dat`` for an ESP task: one ``x y z`` line (Angstrom, the molecule's units) per point."""
    pts = np.asarray(points, dtype=float)
    if pts.ndim != 2 or pts.shape[1] != 3 or not len(pts):
        raise ValueError(f"grid points of shape {pts.shape}: expected (M, 3), M > 0")
    if not np.isfinite(pts).all():
        raise ValueError("grid points contain NaN or inf")
    return "".join(f"{x:18.10f} {y:18.10f} {z:18.10f}\n" for x, y, z in pts)


@dataclass
class Psi4Result:
    """What :func:`parse_output` found; ``None`` where the output does not say."""

    version: str | None = None
    task: str | None = None
    completed: bool = False  # psi4 printed its success line
    energy: float | None = None  # Hartree; zero-field energy for polarizability, last point for optimize
    scf_converged: bool | None = None
    optimization_converged: bool | None = None
    optimization_steps: int | None = None
    elements: list[str] | None = None
    geometry: np.ndarray | None = None  # (N, 3) Angstrom: final (or, not converged, the next) geometry
    dipole_au: np.ndarray | None = None  # (3,) e a0, about the input origin
    polarizability_au: np.ndarray | None = None  # (3, 3) a0^3
    polarizability_method: str | None = None
    field_strength_au: float | None = None
    esp: np.ndarray | None = None  # (M,) Hartree/e on the grid.dat points
    wall_time: float | None = None  # seconds
    error_kind: str | None = None
    error_message: str | None = None
    warnings: list[str] = field(default_factory=list)

    @property
    def dipole_debye(self) -> np.ndarray | None:
        """Dipole vector in Debye."""
        return None if self.dipole_au is None else self.dipole_au * AU_TO_DEBYE

    @property
    def dipole_magnitude_debye(self) -> float | None:
        """|μ| in Debye."""
        return None if self.dipole_au is None else float(np.linalg.norm(self.dipole_au) * AU_TO_DEBYE)

    @property
    def polarizability_iso_au(self) -> float | None:
        """Isotropic polarizability trace/3 in a0^3."""
        return None if self.polarizability_au is None else float(np.trace(self.polarizability_au) / 3.0)

    @property
    def polarizability_iso_angstrom3(self) -> float | None:
        """Isotropic polarizability volume in Angstrom^3."""
        iso = self.polarizability_iso_au
        return None if iso is None else iso * AU3_TO_ANGSTROM3

    def to_dict(self) -> dict[str, Any]:
        """JSON-serializable summary (arrays as lists, derived values included)."""
        out: dict[str, Any] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            out[f.name] = value.tolist() if isinstance(value, np.ndarray) else value
        for name in ("dipole_debye", "dipole_magnitude_debye", "polarizability_iso_au", "polarizability_iso_angstrom3"):
            value = getattr(self, name)
            out[name] = value.tolist() if isinstance(value, np.ndarray) else value
        return out


_VERSION = re.compile(r"^\s*Psi4 (\d+\.\d+\S*)(?: release)?\s*$", re.M)
_MARKER_LINE = re.compile(rf"^{MARKER} (\w+) (.+)$", re.M)
_WALL = re.compile(r"Psi4 wall time for execution:\s*(?:(\d+) days?, )?(\d+):(\d+):(\d+(?:\.\d*)?)")
_SUCCESS = "*** Psi4 exiting successfully."
_FAILURE = "*** Psi4 encountered an error."
_SCF_DONE = re.compile(r"^\s*Energy and wave function converged", re.M)
_FINAL_ENERGY = re.compile(r"^\s*@\S+ Final Energy:\s+(-?\d+\.\d+)", re.M)
_SCF_FAIL = re.compile(r"SCFConvergenceError|Could not converge SCF iterations")
_OPT_FAIL = re.compile(r"OptimizationConvergenceError|Could not converge geometry optimization")
_CRASH = re.compile(r"^Traceback \(most recent call last\)|PsiException|Fatal Error", re.M)
_EXCEPTION_LINE = re.compile(r"^(?:[\w.]+\.)?(\w*(?:Error|Exception|Exit|NotFound)\w*): ?(.*)$", re.M)
_FATAL = re.compile(r"Fatal Error: *(.*\S)")
_DIPOLE_13 = re.compile(r"Dipole Moment: \[e a0\]\s*\n\s*X:\s*(\S+)\s+Y:\s*(\S+)\s+Z:\s*(\S+)")
_DIPOLE_14 = re.compile(r"^\s*Dipole ([XYZ])\s*:\s*\S+\s+\S+\s+(\S+)\s*$", re.M)
_CPHF_TABLE = re.compile(r"=> Dipole polarizabilities <=\s*\n\s*X\s+Y\s+Z\s*\n\s*-[- ]+\n"
                         r"((?:\s*[XYZ](?:\s+-?\d+\.\d+){3}\s*\n){3})")
_GEOM_BLOCK = re.compile(r"(?:Structure for next step|Final optimized geometry and variables):.*?"
                         r"Geometry \(in (Angstrom|Bohr)\).*?\n\s*\n((?:\s*[A-Za-z]\w*(?:\s+-?\d+\.\d+){3}\s*\n)+)",
                         re.S)
_ECHO = re.compile(r"==> Input File <==\s*\n-{20,}\n.*?\n-{20,}\n"  # the input, echoed at the top
                   r"|Printing out the relevant lines from the Psithon.*?(?=\n\s*Psi4 stopped on:|\Z)", re.S)
_BOHR_TO_ANGSTROM = 0.52917721067  # psi4 1.3 / qcelemental CODATA 2014, only for a Bohr fallback block


def _markers(text: str) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for key, raw in _MARKER_LINE.findall(text):
        try:
            value = json.loads(raw)
        except json.JSONDecodeError:
            continue
        if key == "field_dipole_au":
            values.setdefault(key, []).append(value)
        else:
            values[key] = value
    return values


def _error_message(text: str) -> str | None:
    """The exception psi4 reported: a ``Fatal Error:`` line, else the last ``Type: message`` of the traceback."""
    start = text.rfind("Traceback (most recent call last)")
    block = text[start:] if start >= 0 else text
    fatal = _FATAL.findall(block)
    if fatal:
        return fatal[-1]
    matches = _EXCEPTION_LINE.findall(block)
    if matches:
        name, message = matches[-1]
        return f"{name}: {message.strip()}" if message.strip() else name
    psi = re.findall(r"PsiException: *(.*\S)", text)
    return psi[-1] if psi else None


def _classify(text: str) -> tuple[str | None, str | None]:
    """Error kind and message; ``text`` without the echoed input (which names the exceptions it catches)."""
    failed = _FAILURE in text or bool(re.search(r"^Traceback \(most recent call last\)", text, re.M))
    if _SCF_FAIL.search(text) and failed:
        return "scf_not_converged", _error_message(text)
    if _OPT_FAIL.search(text) and failed:
        return "optimization_not_converged", _error_message(text)
    if failed or (_SUCCESS not in text and _CRASH.search(text)):
        return "crash", _error_message(text)
    if _SUCCESS not in text:
        return "incomplete", "output.dat ends before psi4's exit message (killed or still running?)"
    return None, None


def _parse_wall(text: str) -> float | None:
    match = _WALL.findall(text)
    if not match:
        return None
    days, hours, minutes, seconds = match[-1]
    return int(days or 0) * 86400 + int(hours) * 3600 + int(minutes) * 60 + float(seconds)


def _fallback_dipole(text: str) -> np.ndarray | None:
    found = _DIPOLE_13.findall(text)
    if found:
        return np.array([float(v) for v in found[-1]])
    comps = dict(_DIPOLE_14.findall(text)[-3:])
    if set(comps) == {"X", "Y", "Z"}:
        return np.array([float(comps[c]) for c in "XYZ"])
    return None


def _fallback_geometry(text: str) -> tuple[list[str], np.ndarray] | None:
    blocks = _GEOM_BLOCK.findall(text)
    if not blocks:
        return None
    units, rows = blocks[-1]
    parts = [line.split() for line in rows.strip().splitlines()]
    coords = np.array([[float(v) for v in p[1:4]] for p in parts])
    return [re.sub(r"\d+$", "", p[0]).capitalize() for p in parts], coords * (
        _BOHR_TO_ANGSTROM if units == "Bohr" else 1.0)


def parse_xyz(text: str) -> tuple[list[str], np.ndarray]:
    """Elements and (N, 3) coordinates of an XYZ file."""
    lines = text.strip().splitlines()
    natom = int(lines[0].split()[0])
    parts = [line.split() for line in lines[2:2 + natom]]
    if len(parts) != natom:
        raise ValueError(f"xyz file announces {natom} atoms, holds {len(parts)}")
    return [p[0] for p in parts], np.array([[float(v) for v in p[1:4]] for p in parts])


def parse_esp(text: str) -> np.ndarray:
    """Values of ``grid_esp.dat`` (Hartree/e, one per grid point)."""
    return np.array([float(v) for v in text.split()])


def parse_output(text: str | None, files: dict[str, str] | None = None) -> Psi4Result:
    """Parse ``output.dat`` (and the produced files: ``grid_esp.dat``, ``geometry.xyz``) into a :class:`Psi4Result`.

    Values come from the ``@aiida_polymer`` lines of :func:`write_input` inputs, with fallbacks to psi4's own
    printout (1.3 and 1.4+ layouts) for other inputs. ``files`` maps file names to their contents.
    """
    files = files or {}
    result = Psi4Result()
    if not text or not text.strip():
        result.error_kind, result.error_message = "missing_output", "output.dat is missing or empty"
        return result
    version = _VERSION.search(text)
    result.version = version[1] if version else None
    result.completed = _SUCCESS in text
    result.wall_time = _parse_wall(text)
    result.error_kind, result.error_message = _classify(_ECHO.sub("", text))
    marks = _markers(text)
    result.task = marks.get("task")

    scf_done = bool(_SCF_DONE.search(text))
    if result.error_kind == "scf_not_converged":
        result.scf_converged = False
    elif scf_done or "energy" in marks:
        result.scf_converged = True

    if "energy" in marks:
        result.energy = float(marks["energy"])
    else:
        energies = _FINAL_ENERGY.findall(text)
        result.energy = float(energies[-1]) if energies and result.error_kind != "scf_not_converged" else None

    dipole = marks.get("dipole_au")
    result.dipole_au = np.array(dipole, dtype=float) if dipole is not None else _fallback_dipole(text)

    if "optimization_converged" in marks:
        result.optimization_converged = bool(marks["optimization_converged"])
    elif result.error_kind == "optimization_not_converged":
        result.optimization_converged = False
    if marks.get("optimization_steps") is not None:
        result.optimization_steps = int(marks["optimization_steps"])
    else:
        steps = re.findall(r"Optimization is complete! \(in (\d+) steps\)", text)
        result.optimization_steps = int(steps[-1]) if steps else None
        if steps and result.optimization_converged is None:
            result.optimization_converged = True

    if "geometry" in marks:
        result.elements = [atom[0] for atom in marks["geometry"]]
        result.geometry = np.array([atom[1:4] for atom in marks["geometry"]], dtype=float)
    elif files.get(GEOMETRY_FILE):
        result.elements, result.geometry = parse_xyz(files[GEOMETRY_FILE])
    else:
        fallback = _fallback_geometry(text)
        if fallback is not None:
            result.elements, result.geometry = fallback

    if "polarizability_au" in marks:
        result.polarizability_au = np.array(marks["polarizability_au"], dtype=float)
        result.polarizability_method = marks.get("polarizability_method")
        result.field_strength_au = marks.get("field_strength_au")
    else:
        table = _CPHF_TABLE.findall(text)
        if table:
            rows = [line.split()[1:] for line in table[-1].strip().splitlines()]
            result.polarizability_au = np.array(rows, dtype=float)
            result.polarizability_method = "cphf"
    if result.polarizability_au is not None and result.polarizability_au.shape != (3, 3):
        result.warnings.append(f"polarizability of shape {result.polarizability_au.shape} ignored")
        result.polarizability_au = None

    if files.get(ESP_FILE):
        result.esp = parse_esp(files[ESP_FILE])
    elif "esp_file" in marks and result.error_kind is None:
        result.warnings.append(f"{ESP_FILE} announced in output.dat but not provided")

    for value in (result.energy, result.polarizability_iso_au):
        if value is not None and not math.isfinite(value):
            result.warnings.append("non-finite value in the output")
    return result
