"""LAMMPS input scripts for one MD stage, rendered from a stage specification (plain data).

One stage = one LAMMPS run: read the system (data file or restart file), set the potential, optionally minimise,
then integrate with NVT/NPT/NVE (temperature and pressure ramps, SHAKE on X–H bonds, ``fix deform`` compression),
writing restart files at a cadence and ``final.restart``/``final.data`` at the end. Time series go to files the
parser reads: ``log.lammps`` (thermo), ``rg.dat`` (per-chain radius of gyration), ``com.dat`` (per-chain unwrapped
centre of mass, for the self-diffusion with many time origins) and ``dipole.dat`` (total dipole moment).

A stage with ``nemd`` settings (NVE only) runs Müller-Plathe reverse non-equilibrium MD for the thermal conductivity
(F. Müller-Plathe, J. Chem. Phys. 106, 6082 (1997)): ``fix thermal/conductivity`` swaps the kinetic energy of the
hottest atom of the slab at the lower box edge with that of the coldest atom of the middle slab every
``swap_every`` steps; the slab temperature profile goes to ``nemd_profile.dat`` (``fix ave/chunk``) and the
cumulative exchanged energy to ``nemd_flux.dat`` (see :mod:`aiida_polymer.chem.nemd` for the analysis).
With ``decompose`` the microscopic heat flux along the axis is also summed per slab and per term into
``nemd_heat_flux.dat``: convection of kinetic and potential energy, e_i v_i, and the virial terms −S_i·v_i of each
interaction (pair, bond, angle, dihedral, improper, kspace) from ``compute centroid/stress/atom``, the
centroid form that is correct for many-body terms (D. Surblys et al., Phys. Rev. E 99, 051301(R) (2019)); the
kspace term, which LAMMPS' PPPM offers only in the atom form, from ``compute stress/atom``; see
:func:`heat_flux_terms`.
``replicate`` multiplies a new stage's system after reading it (e.g. [3, 1, 1] for an elongated NEMD box);
``rescale_density`` then scales the box and the atoms' positions isotropically to that density (e.g. the mean
density of the production run, when NEMD starts from its last frame).

A **phase** is several stages in one LAMMPS run (one scheduler job instead of one per stage): a stage
specification ``{"name": ..., "stages": [stage, ...]}``. The stages are separated by ``clear``; each starts from
the data file the one before wrote (as separate jobs would), writes ``<name>.restart`` and ``<name>.data`` (all
kept), and is framed by the log lines ``aiida-polymer stage <name> begin`` and ``... end <step>``, by which the
parser splits the log. One walltime limit covers the whole phase: each stage gets what is left of it (``timer
timeout``, which ``clear`` resets), and after a stage that was stopped by it the run ends (``quit``), so that the
next job continues that stage from its restart file and then runs the rest (see :func:`render_phase`).
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field, fields, replace
from typing import Any

from .lammps_io import STYLES
from .lammps_log import MARK

THERMO_COLUMNS = ("step", "time", "temp", "press", "vol", "density", "etotal", "ke", "pe", "ebond", "eangle",
                  "edihed", "eimp", "evdwl", "ecoul", "elong", "enthalpy", "lx", "ly", "lz")
FINAL_RESTART, FINAL_DATA = "final.restart", "final.data"
LJ_FORMS = ("charmm", "cut_tail")  # Stage.lj
PHASE = "stages"  # the key of a phase's stage list
RESTART_FILES = ("restart.a", "restart.b")
OUTPUT_FILES = {"rg": "rg.dat", "com": "com.dat", "dipole": "dipole.dat"}
NEMD_FILES = {"nemd_profile": "nemd_profile.dat", "nemd_flux": "nemd_flux.dat",
              "nemd_heat_flux": "nemd_heat_flux.dat"}
NEMD_DEFAULTS: dict[str, Any] = {"method": "muller_plathe", "swap_every": 1000, "n_slabs": 20, "axis": "x",
                                 "n_swap": 1, "profile_every": 100, "profile_window": 10000, "decompose": False,
                                 "delta_t": 20.0, "damp": 100.0, "seed": 4928}
NEMD_METHODS = ("muller_plathe", "langevin")
# uniaxial deformation (see :func:`_uniaxial` and aiida_polymer/chem/mechanics.py): the file written per axis
UNIAXIAL_DEFAULTS: dict[str, Any] = {"axis": "x", "strain_rate": 1e-7, "sample_every": 10, "average": 10,
                                     "reference": None}
UNIAXIAL_FILES = {axis: f"deform_{axis}.dat" for axis in "xyz"}
UNIAXIAL_COLUMNS = ("strain_x", "strain_y", "strain_z", "pxx", "pyy", "pzz", "temp")
VDOS_FILE = "velocities.dump"  # velocities of the last frames of a stage, for the vibrational density of states
NKTV2P = 68568.415  # atm·Å³ per kcal/mol: LAMMPS' pressure·volume to energy factor of units real
# components of row ``axis`` of a per-atom stress tensor, against vx, vy, vz: the 9 of centroid/stress/atom (xx yy
# zz xy xz yz yx zx zy) and the 6 of the symmetric stress/atom (xx yy zz xy xz yz), which LAMMPS' PPPM needs
STRESS_ROW = {"x": (1, 4, 5), "y": (7, 2, 6), "z": (8, 9, 3)}
SYMMETRIC_STRESS_ROW = {"x": (1, 4, 5), "y": (4, 2, 6), "z": (5, 6, 3)}
NOT_CENTROID = ("kspace",)  # "KSpace style does not support compute centroid/stress/atom"
AVOGADRO = 6.02214076e23


class StageError(ValueError):
    """A stage specification that cannot be rendered; the message says which field."""


@dataclass
class Stage:
    """One MD stage. Times in fs, temperatures in K, pressures in atm, density in g/cm³."""

    name: str = "stage"
    ensemble: str = "nvt"  # nvt | npt | nve | minimize
    steps: int = 1000
    timestep: float = 1.0
    temperature: float | list[float] = 300.0  # constant, or [start, stop]
    pressure: float | list[float] = 1.0  # npt only
    tdamp: float | None = None  # default 100 timesteps
    pdamp: float | None = None  # default 1000 timesteps
    shake: bool = False  # constrain bonds to hydrogen (atoms of mass ~1.008)
    deform_density: float | None = None  # compress/expand the box to this density over the stage (nvt)
    potential: str = "full"  # full (lj/charmm/coul/long + pppm) | lj_short (lj/cut, no charges)
    lj_cutoff: float = 3.0  # for lj_short
    lj: str = "charmm"  # full: charmm (LJ switched to 0 between cutoff_inner and cutoff) | cut_tail (see _potential)
    cutoff_inner: float = 8.0
    cutoff: float = 12.0
    kspace_accuracy: float = 1e-6
    minimize_first: bool = False
    minimize: dict[str, float] = field(default_factory=lambda: {"etol": 1e-4, "ftol": 1e-6, "maxiter": 10000,
                                                                  "maxeval": 100000})
    velocity_seed: int | None = None  # create velocities at the start temperature
    thermo_every: int = 1000
    sample_every: int = 0  # Rg/COM/dipole output cadence (0: off)
    restart_every: int = 0
    timeout: str | None = None  # "HH:MM:SS": stop cleanly and write final files before the walltime
    neighbor_skin: float = 2.0
    extra: list[str] = field(default_factory=list)  # commands appended before the run (expert use)
    replicate: list[int] | None = None  # replicate the system after read_data (new stages only)
    rescale_density: float | None = None  # scale the box to this density after reading it (new stages only)
    nemd: dict[str, Any] | None = None  # Müller-Plathe NEMD settings (nve only; see NEMD_DEFAULTS)
    uniaxial: dict[str, Any] | None = None  # uniaxial deformation (npt only; see UNIAXIAL_DEFAULTS)
    vdos: dict[str, int] | None = None  # {"every", "frames", "atoms"}: dump velocities at the end (VDOS_FILE)

    @classmethod
    def from_dict(cls, spec: dict[str, Any]) -> Stage:
        known = {f.name for f in fields(cls)}
        unknown = set(spec) - known
        if unknown:
            raise StageError(f"unknown stage field(s): {', '.join(sorted(unknown))}")
        stage = cls(**spec)
        stage.validate()
        return stage

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def validate(self) -> None:
        if self.ensemble not in ("nvt", "npt", "nve", "minimize"):
            raise StageError(f"ensemble must be nvt, npt, nve or minimize, not {self.ensemble!r}")
        if self.potential not in ("full", "lj_short"):
            raise StageError(f"potential must be full or lj_short, not {self.potential!r}")
        if self.lj not in LJ_FORMS:
            raise StageError(f"lj must be {' or '.join(LJ_FORMS)}, not {self.lj!r}")
        if self.steps < 0 or self.timestep <= 0:
            raise StageError("steps must be >= 0 and timestep > 0")
        if self.deform_density is not None and self.ensemble == "npt":
            raise StageError("deform_density needs a constant-volume ensemble (nvt or nve)")
        for name in ("temperature", "pressure"):
            value = getattr(self, name)
            if isinstance(value, list) and len(value) != 2:
                raise StageError(f"{name} must be a number or [start, stop]")
        if self.replicate is not None and (len(self.replicate) != 3 or any(int(n) < 1 for n in self.replicate)):
            raise StageError("replicate must be three positive integers")
        if self.rescale_density is not None and not self.rescale_density > 0:
            raise StageError("rescale_density must be a positive density (g/cm³)")
        if self.nemd is not None:
            self._validate_nemd()
        if self.vdos is not None:
            if set(self.vdos) != {"every", "frames", "atoms"} or min(int(v) for v in self.vdos.values()) < 1:
                raise StageError("vdos needs positive every, frames and atoms (steps, frames, the atoms dumped)")
            if int(self.vdos["every"]) * (int(self.vdos["frames"]) - 1) > self.steps:
                raise StageError(f"vdos: {self.vdos['frames']} frames every {self.vdos['every']} steps do not fit "
                                 f"in the stage's {self.steps} steps")
        if self.uniaxial is not None:
            self._validate_uniaxial()

    def _validate_uniaxial(self) -> None:
        unknown = set(self.uniaxial) - set(UNIAXIAL_DEFAULTS)
        if unknown:
            raise StageError(f"unknown uniaxial setting(s): {', '.join(sorted(unknown))}")
        if self.ensemble != "npt" or self.deform_density is not None or self.nemd is not None:
            raise StageError("uniaxial deformation needs the npt ensemble (the lateral directions are barostatted), "
                             "without deform_density or nemd")
        u = self.uniaxial_settings
        if u["axis"] not in ("x", "y", "z"):
            raise StageError(f"uniaxial axis must be x, y or z, not {u['axis']!r}")
        if not float(u["strain_rate"]) > 0 or min(int(u["sample_every"]), int(u["average"])) < 1:
            raise StageError("uniaxial strain_rate must be > 0, sample_every and average >= 1")
        ref = u["reference"]
        if ref is not None and (len(ref) != 3 or not all(float(x) > 0 for x in ref)):
            raise StageError("uniaxial reference must be the three box lengths of the undeformed cell")

    @property
    def uniaxial_settings(self) -> dict[str, Any]:
        """The uniaxial-deformation settings with defaults filled in ({} without deformation)."""
        return {} if self.uniaxial is None else {**UNIAXIAL_DEFAULTS, **self.uniaxial}

    def _validate_nemd(self) -> None:
        unknown = set(self.nemd) - set(NEMD_DEFAULTS)
        if unknown:
            raise StageError(f"unknown nemd setting(s): {', '.join(sorted(unknown))}")
        if self.ensemble != "nve":
            raise StageError("nemd needs the nve ensemble (a thermostat would remove the imposed heat flux)")
        if self.shake:  # the slab temperatures count 3 degrees of freedom per atom, and swaps break constraints
            raise StageError("nemd cannot run with shake: constrained bonds remove degrees of freedom the slab "
                             "temperatures count, so the slabs read cold and κ comes out high; run NEMD without "
                             "SHAKE at a short timestep (0.2–0.5 fs)")
        n = self.nemd_settings
        if n["axis"] not in ("x", "y", "z"):
            raise StageError(f"nemd axis must be x, y or z, not {n['axis']!r}")
        if int(n["n_slabs"]) < 4 or int(n["n_slabs"]) % 2:
            raise StageError("nemd n_slabs must be an even number >= 4")
        if min(int(n["swap_every"]), int(n["n_swap"]), int(n["profile_every"]), int(n["profile_window"])) < 1:
            raise StageError("nemd swap_every, n_swap, profile_every and profile_window must be positive")
        if n["method"] not in NEMD_METHODS:
            raise StageError(f"nemd method must be one of {', '.join(NEMD_METHODS)}, not {n['method']!r}")
        if n["method"] == "langevin" and not (0 < float(n["delta_t"]) < self.t_start_stop[0] and float(n["damp"]) > 0):
            raise StageError("nemd langevin needs 0 < delta_t < temperature and damp > 0")
        if not isinstance(n["decompose"], bool):
            raise StageError("nemd decompose must be true or false")
        if int(n["profile_window"]) % int(n["profile_every"]):
            raise StageError("nemd profile_window must be a multiple of profile_every")

    @property
    def nemd_settings(self) -> dict[str, Any]:
        """The NEMD settings with defaults filled in ({} without NEMD)."""
        return {} if self.nemd is None else {**NEMD_DEFAULTS, **self.nemd}

    @property
    def t_start_stop(self) -> tuple[float, float]:
        t = self.temperature
        return (float(t[0]), float(t[1])) if isinstance(t, list) else (float(t), float(t))

    @property
    def p_start_stop(self) -> tuple[float, float]:
        p = self.pressure
        return (float(p[0]), float(p[1])) if isinstance(p, list) else (float(p), float(p))


def stages_of(spec: dict[str, Any]) -> list[Stage]:
    """The stages of a stage specification: one stage, or the stages of a phase (unique names)."""
    if PHASE not in spec:
        return [Stage.from_dict(spec)]
    unknown = set(spec) - {"name", PHASE}
    if unknown:
        raise StageError(f"unknown phase field(s): {', '.join(sorted(unknown))} (a phase has name and stages)")
    if not isinstance(spec[PHASE], list) or not spec[PHASE]:
        raise StageError("a phase needs a non-empty list of stages")
    stages = [Stage.from_dict(dict(item)) for item in spec[PHASE]]
    names = [stage.name for stage in stages]
    if len(set(names)) != len(names) or not all(re.fullmatch(r"[A-Za-z]\w*", name) for name in names):
        raise StageError(f"the stages of a phase need distinct names of letters, digits and _: {names}")
    return stages


def describe(spec: dict[str, Any]) -> str:
    """A stage or phase specification in a few words, for reports."""
    if PHASE in spec:
        stages = spec[PHASE]
        return f"{len(stages)} stages in one job, {sum(int(s.get('steps', 0)) for s in stages)} steps"
    return f"{spec.get('ensemble', 'nvt')}, {spec.get('steps', 0)} steps"


def stage_files(name: str) -> tuple[str, str]:
    """The restart and data files stage ``name`` of a phase writes at its end."""
    return f"{name}.restart", f"{name}.data"


def render_phase(stages: list[Stage], source: str, continuation: bool = False,
                 timeout_seconds: int | None = None) -> str:
    """The input script of a phase: ``stages`` in one LAMMPS run. The first reads ``source`` (a data file, or
    with ``continuation`` the restart file of its own interrupted run), each later one the data file of the one
    before. The last also writes ``final.restart``/``final.data``. ``timeout_seconds``: the phase's walltime."""
    lines = [f"# aiida-polymer phase: {', '.join(s.name for s in stages)}", "variable phase_start timer"]
    for i, stage in enumerate(stages):
        last = i == len(stages) - 1
        if i:
            lines.append("clear")
        lines.append(f'print "{MARK} {stage.name} begin"')
        if timeout_seconds:
            left = f"floor({timeout_seconds}-(v_begin_{stage.name}-v_phase_start))"
            lines += [f"variable begin_{stage.name} timer",
                      f"timer timeout $(ternary({left}>1,{left},1)) every 100"]
        step_source = source if not i else stage_files(stages[i - 1].name)[1]
        script = render(replace(stage, timeout=None), step_source, continuation and not i, stage_files(stage.name))
        lines += script.splitlines()
        if last:
            lines += [f"write_restart {FINAL_RESTART}", f"write_data {FINAL_DATA}"]
        lines.append(f'print "{MARK} {stage.name} end $(step)"')
        if not last and stage.ensemble != "minimize":  # stopped by the walltime: the next job goes on from here
            lines.append(f'if "$(step) < {stage.steps}" then "quit 0"')
        if not last and timeout_seconds:
            lines += [f"variable end_{stage.name} timer",
                      f'if "$(v_end_{stage.name}-v_phase_start) >= {timeout_seconds}" then "quit 0"']
    return "\n".join(lines) + "\n"


def render(stage: Stage, source: str, continuation: bool = False,
           files: tuple[str, str] = (FINAL_RESTART, FINAL_DATA)) -> str:
    """The input script. A new stage reads the data file ``source`` (the builder's, or the previous stage's
    ``final.data``, which carries velocities); ``continuation=True`` resumes this same stage from the restart file
    ``source`` after an interruption, keeping its step counter and target step. ``files``: the restart and data
    files written at the end."""
    s = stage
    lines = [f"# aiida-polymer stage: {s.name}", f"units {STYLES['units']}", f"atom_style {STYLES['atom_style']}"]
    if continuation:  # the restart file keeps the pair style, its coefficients and special_bonds
        lines.append(f"read_restart {source}")
    else:
        lines += [f"{key} {STYLES[key]}" for key in ("bond_style", "angle_style", "dihedral_style", "improper_style")]
        lines += [*_potential(s), f"read_data {source}"]
        if s.replicate is not None:
            lines.append(f"replicate {' '.join(str(int(n)) for n in s.replicate)}")
        if s.rescale_density is not None:
            lines += [f"variable rescale equal (mass(all)/{AVOGADRO:.8e}/{s.rescale_density:g}*1e24/vol)^(1/3)",
                      "change_box all x scale ${rescale} y scale ${rescale} z scale ${rescale} remap"]
        lines.append("reset_timestep 0")
    lines += [f"kspace_style pppm {s.kspace_accuracy:g}" if s.potential == "full" else "kspace_style none",
              f"neighbor {s.neighbor_skin:g} bin", "neigh_modify delay 0 every 1 check yes",
              f"timestep {s.timestep:g}", f"thermo_style custom {' '.join(THERMO_COLUMNS)}",
              "thermo_modify flush yes", f"thermo {s.thermo_every}"]
    if s.timeout:
        lines.append(f"timer timeout {s.timeout} every 100")
    if (s.minimize_first and not continuation) or s.ensemble == "minimize":
        m = s.minimize
        lines.append(f"minimize {m['etol']:g} {m['ftol']:g} {int(m['maxiter'])} {int(m['maxeval'])}")
        if s.ensemble != "minimize":
            lines.append("reset_timestep 0")
    if s.ensemble != "minimize":
        lines += _dynamics(s, continuation)
    lines += [f"write_restart {files[0]}", f"write_data {files[1]}"]
    return "\n".join(lines) + "\n"


def _potential(s: Stage) -> list[str]:
    """The pair style. ``lj: charmm`` (RadonPy's): LJ switched smoothly to zero between ``cutoff_inner`` and
    ``cutoff``, no correction for the dispersion beyond. ``lj: cut_tail``: LJ truncated at ``cutoff`` with the
    analytic long-range correction of energy and pressure for a uniform fluid beyond it (``pair_modify tail yes``;
    Allen & Tildesley, Computer Simulation of Liquids, 2nd ed., sec. 2.8), which LAMMPS' charmm styles do not
    offer. Coulomb is the same in both (real space to ``cutoff``, PPPM beyond)."""
    special = f"special_bonds {STYLES['special_bonds']}"
    if s.potential == "lj_short":
        return [f"pair_style lj/cut {s.lj_cutoff:g}", "pair_modify mix arithmetic", special]
    if s.lj == "cut_tail":
        return [f"pair_style lj/cut/coul/long {s.cutoff:g}", "pair_modify mix arithmetic tail yes", special]
    return [f"pair_style lj/charmm/coul/long {s.cutoff_inner:g} {s.cutoff:g}", "pair_modify mix arithmetic", special]


def _dynamics(s: Stage, continuation: bool) -> list[str]:
    t0, t1 = s.t_start_stop
    tdamp = s.tdamp or 100 * s.timestep
    lines = []
    if s.velocity_seed is not None and not continuation:
        lines.append(f"velocity all create {t0:g} {s.velocity_seed} mom yes rot yes dist gaussian")
    if s.shake:
        lines.append("fix shake all shake 1e-4 100 0 m 1.008")
    if s.ensemble == "nvt":
        lines.append(f"fix integrate all nvt temp {t0:g} {t1:g} {tdamp:g}")
    elif s.ensemble == "npt":
        p0, p1 = s.p_start_stop
        pdamp = s.pdamp or 1000 * s.timestep
        if s.uniaxial is not None:  # only the two lateral directions are barostatted, each on its own
            axis = s.uniaxial_settings["axis"]
            lateral = " ".join(f"{a} {p0:g} {p1:g} {pdamp:g}" for a in "xyz" if a != axis)
            lines.append(f"fix integrate all npt temp {t0:g} {t1:g} {tdamp:g} {lateral} couple none")
        else:
            lines.append(f"fix integrate all npt temp {t0:g} {t1:g} {tdamp:g} iso {p0:g} {p1:g} {pdamp:g}")
    else:
        lines.append("fix integrate all nve")
    if s.deform_density is not None:
        lines += [f"variable target_length equal (mass(all)/{AVOGADRO:.8e}/{s.deform_density:g}*1e24)^(1/3)",
                  "fix deform all deform 1 x final 0.0 ${target_length} y final 0.0 ${target_length} "
                  "z final 0.0 ${target_length} remap x"]
    if s.uniaxial is not None:
        lines += _uniaxial(s, continuation)
    if s.sample_every:
        n = s.sample_every
        lines += ["compute chains all chunk/atom molecule",
                  "compute rg all gyration/chunk chains",
                  f"fix rg all ave/time {n} 1 {n} c_rg mode vector file {OUTPUT_FILES['rg']}",
                  "compute com all com/chunk chains",
                  f"fix com all ave/time {n} 1 {n} c_com[*] mode vector file {OUTPUT_FILES['com']}",
                  "compute dipole all dipole",
                  f"fix dipole all ave/time {n} 1 {n} c_dipole[1] c_dipole[2] c_dipole[3] "
                  f"file {OUTPUT_FILES['dipole']}"]
    if s.nemd is not None:
        lines += _nemd(s)
        if s.nemd_settings["decompose"]:
            lines += _heat_flux(s)
    if s.vdos is not None:  # the last frames: atoms 1..n (whole chains first: the builder numbers chain by chain)
        v = s.vdos
        lines += [f"group vdos id <= {int(v['atoms'])}",
                  f"dump vdos vdos custom {int(v['every'])} {VDOS_FILE} id mass vx vy vz",
                  f"dump_modify vdos sort id format float %.7g first no "
                  f"delay {s.steps - int(v['every']) * (int(v['frames']) - 1)}"]
    if s.restart_every:
        lines.append(f"restart {s.restart_every} {' '.join(RESTART_FILES)}")
    lines += s.extra
    # ramps (temperature, pressure, deform) span the whole stage, also when continuing after an interruption
    lines.append(f"run {s.steps} upto start 0 stop {s.steps}")
    return lines


def _uniaxial(s: Stage, continuation: bool) -> list[str]:
    """Uniaxial deformation along ``axis`` at the engineering strain rate ``strain_rate`` (1/fs): L(t) = L0 (1 + r t)
    (``fix deform ... erate``), the lateral directions at the stage's pressure (its npt fix). Every ``sample_every``
    steps the engineering strains (L − L0)/L0 of the three box lengths, the diagonal of the pressure tensor (Pxx, Pyy,
    Pzz) and the temperature are sampled; ``average`` samples are averaged into one row of ``deform_<axis>.dat``
    (``average`` 1: instantaneous rows, the first at step 0). L0: ``reference`` (the undeformed cell's box lengths;
    needed to continue a stage), else the box as read."""
    u = s.uniaxial_settings
    ref = u["reference"]
    if continuation and ref is None:
        raise StageError("a continued uniaxial stage needs the reference box lengths of the undeformed cell")
    every, repeat = int(u["sample_every"]), int(u["average"])
    lines = []
    for i, a in enumerate("xyz"):
        l0 = repr(float(ref[i])) if ref is not None else f"$(l{a})"
        lines += [f"variable uniaxial_l0_{a} equal {l0}",
                  f"variable uniaxial_strain_{a} equal (l{a}-v_uniaxial_l0_{a})/v_uniaxial_l0_{a}"]
    values = " ".join([*(f"v_uniaxial_strain_{a}" for a in "xyz"), *(f"c_thermo_press[{i}]" for i in (1, 2, 3)),
                       "c_thermo_temp"])
    return [*lines, f"fix uniaxial all deform 1 {u['axis']} erate {float(u['strain_rate']):.12g} units box remap x",
            f"fix uniaxial_sample all ave/time {every} {repeat} {every * repeat} {values} "
            f"file {UNIAXIAL_FILES[u['axis']]}"]


def heat_flux_terms(stage: Stage) -> list[str]:
    """The columns of ``nemd_heat_flux.dat``: the convective terms, then the interactions' virial terms."""
    terms = ["kinetic", "potential", "pair", "bond", "angle", "dihedral", "improper"]
    if stage.potential == "full":
        terms.append("kspace")
    return terms


def _heat_flux(s: Stage) -> list[str]:
    """Per-slab sums of the per-atom heat flux along the NEMD axis, term by term (energy·length/time), averaged
    like the temperature profile. Per-atom: e_i v_i,axis (kinetic, potential) and −(S_i v_i)_axis / NKTV2P for each
    interaction (S_i from ``centroid/stress/atom``, pressure·volume)."""
    n = s.nemd_settings
    axis, every, window = n["axis"], int(n["profile_every"]), int(n["profile_window"])
    lines = ["compute hf_kinetic all ke/atom", "compute hf_potential all pe/atom",
             f"variable hf_kinetic atom c_hf_kinetic*v{axis}", f"variable hf_potential atom c_hf_potential*v{axis}"]
    terms = heat_flux_terms(s)
    for term in terms[2:]:
        style, rows = ("stress/atom", SYMMETRIC_STRESS_ROW) if term in NOT_CENTROID else ("centroid/stress/atom",
                                                                                           STRESS_ROW)
        i, j, k = rows[axis]
        lines += [f"compute hf_{term} all {style} NULL {term}",
                  f"variable hf_{term} atom -(c_hf_{term}[{i}]*vx+c_hf_{term}[{j}]*vy+c_hf_{term}[{k}]*vz)/{NKTV2P}"]
    return [*lines, f"compute hf all reduce/chunk nemd_slabs sum {' '.join(f'v_hf_{t}' for t in terms)}",
            f"fix nemd_heat_flux all ave/time {every} {window // every} {window} c_hf[*] mode vector "
            f"file {NEMD_FILES['nemd_heat_flux']}"]


def _nemd(s: Stage) -> list[str]:
    """The imposed heat flow, the slab temperature profile and the cumulative exchanged energy.

    The chunks are ``n_slabs`` equal bins in reduced coordinates from the lower box edge; slab 0 at the edge is the
    cold reservoir, slab n_slabs/2 the hot one. ``muller_plathe``: ``fix thermal/conductivity`` swaps kinetic
    energy between them every ``swap_every`` steps (its layers are the same slabs); ``f_nemd`` is only defined on
    swap steps, so it is written every ``swap_every`` steps. ``langevin`` (the direct method, a cross-check):
    Langevin thermostats at T ± ``delta_t`` (damping ``damp`` fs) act on the atoms inside the two reservoir slabs
    only (their temperature computes are restricted to the slab regions), the rest is NVE; the energy exchanged is
    the mean of the energy the hot thermostat added and the cold one removed; ``f_`` of a tallying ``fix langevin``
    is the energy it removed, so that is (f_cold − f_hot)/2, written every ``swap_every`` steps. The profile fix
    comes first, so that it samples temperatures before the swaps of the same step (LAMMPS warns otherwise).
    """
    n = s.nemd_settings
    slabs, axis, swap_every = int(n["n_slabs"]), n["axis"], int(n["swap_every"])
    every, window = int(n["profile_every"]), int(n["profile_window"])
    lines = [f"compute nemd_slabs all chunk/atom bin/1d {axis} lower {1.0 / slabs!r} units reduced",
             f"fix nemd_profile all ave/chunk {every} {window // every} {window} nemd_slabs temp "
             f"file {NEMD_FILES['nemd_profile']}"]
    if n["method"] == "muller_plathe":
        swap = f" swap {int(n['n_swap'])}" if int(n["n_swap"]) != 1 else ""
        return [*lines, f"fix nemd all thermal/conductivity {swap_every} {axis} {slabs}{swap}",
                f"fix nemd_flux all ave/time {swap_every} 1 {swap_every} f_nemd file {NEMD_FILES['nemd_flux']}"]
    t, dt, damp, seed = s.t_start_stop[0], float(n["delta_t"]), float(n["damp"]), int(n["seed"])
    for name, first, target, slab_seed in (("cold", "0", t - dt, seed), ("hot", "0.5", t + dt, seed + 1)):
        bounds = ["INF"] * 6
        i = "xyz".index(axis)
        bounds[2 * i: 2 * i + 2] = [f"$({axis}lo+{first}*l{axis})", f"$({axis}lo+({first}+{1.0 / slabs!r})*l{axis})"]
        lines += [f"region nemd_{name} block {' '.join(bounds)} units box",
                  f"compute nemd_{name}_temp all temp/region nemd_{name}",
                  f"fix nemd_{name} all langevin {target:g} {target:g} {damp:g} {slab_seed} tally yes",
                  f"fix_modify nemd_{name} temp nemd_{name}_temp"]
    return [*lines, "variable nemd_exchange equal (f_nemd_cold-f_nemd_hot)/2",
            f"fix nemd_flux all ave/time {swap_every} 1 {swap_every} v_nemd_exchange file {NEMD_FILES['nemd_flux']}"]
