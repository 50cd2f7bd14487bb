"""The schemas of the protocol files: every section and key, its type, bounds and allowed values.

One schema per file of ``aiida_polymer/protocols`` (:data:`SCHEMAS`), checked by :func:`protocols.settings` on the
merged settings and by the ``protocol``/``parameters`` input ports of the workchains. Keys marked ``optional`` may
be absent (the consuming code has a default); the rest are required. Keep a key here in step with the code that
reads it (named in the comments); ``tests/test_protocol_schema.py`` checks every shipped protocol against these.
Units: durations ps, timesteps fs, temperatures K, pressures atm, densities g/cm³, lengths Å.
"""

from __future__ import annotations

from typing import Any

from .chains import COPOLYMER_KINDS, TACTICITIES
from .lammps_input import LJ_FORMS, NEMD_METHODS, THERMO_COLUMNS
from .protocols import ListOf, OneOf, Row, Section, Value
from .psi4_io import G_CONVERGENCES, GUESSES, GUESSES_1_9, POLARIZABILITY_METHODS, REFERENCES, SCF_TYPES

CHARGES = ("gasteiger", "resp")  # aiida_polymer.chem.builder: CHARGE_METHODS and EXTERNAL_CHARGES
AXES = ("x", "y", "z")


def number(low: float | None = None, high: float | None = None, *, open_low: bool = False, open_high: bool = False,
           **flags: Any) -> Value:
    """A finite number in [low, high] (``open_*``: that bound excluded)."""
    return Value("number", low, high, open_low, open_high, **flags)


def positive(**flags: Any) -> Value:
    """A number > 0."""
    return number(0.0, open_low=True, **flags)


def integer(low: int | None = None, **flags: Any) -> Value:
    """An integer >= low."""
    return Value("integer", low, **flags)


def boolean(**flags: Any) -> Value:
    return Value("boolean", **flags)


def text(**flags: Any) -> Value:
    return Value("string", **flags)


def choice(*values: str, **flags: Any) -> Value:
    """One of ``values``."""
    return Value("string", choices=values, **flags)


OPTIONAL = {"optional": True}
DESCRIPTION = text(**OPTIONAL)

# ---------------------------------------------------------------------------------------------------------------
# equilibrate.yaml (aiida_polymer.chem.equilibration, workchains/equilibrate.py)
# ---------------------------------------------------------------------------------------------------------------

# chem/builder.py CellSpec, less smiles (the workchain's argument); min_box_length defaults to twice the cut-off
CELL = Section({
    "n_chains": integer(1, **OPTIONAL),
    "atoms_per_chain": integer(1, **OPTIONAL),
    "degree_of_polymerization": integer(1, nullable=True, **OPTIONAL),
    "density": positive(**OPTIONAL),  # the initial (packing) density
    "min_distance": positive(**OPTIONAL),
    "min_box_length": positive(nullable=True, **OPTIONAL),  # null: no minimum (a small box, flagged)
    "tacticity": choice(*TACTICITIES, **OPTIONAL),
    "copolymer": choice(*COPOLYMER_KINDS, **OPTIONAL),
    "fractions": ListOf(positive(), nullable=True, **OPTIONAL),
    "block_lengths": ListOf(integer(1), nullable=True, **OPTIONAL),
    "head_group": text(**OPTIONAL),
    "tail_group": text(**OPTIONAL),
    "charges": choice(*CHARGES, **OPTIONAL),
    "seed": integer(0, **OPTIONAL),
})

MD = Section({  # equilibration._md and the stages' shake
    "timestep": positive(),
    "kspace_accuracy": number(0.0, 1.0, open_low=True, open_high=True),
    "cutoff_inner": positive(),
    "cutoff": positive(),
    "lj": choice(*LJ_FORMS, **OPTIONAL),  # charmm (RadonPy's switched LJ, the default) | cut_tail (tail correction)
    "shake": boolean(**OPTIONAL),
    "fused": boolean(**OPTIONAL),  # EquilibrateWorkChain: packing + compression as one job (default true)
})

# convergence thresholds (chem/analysis.py check_convergence): a limit, {limit, relative}, or null (check off)
THRESHOLD = OneOf((number(0.0), Section({"limit": number(0.0, **OPTIONAL), "relative": boolean(**OPTIONAL)})),
                  nullable=True, optional=True)
THRESHOLD_NAMES = (*(c for c in THERMO_COLUMNS if c not in ("step", "time")), "rg")

# a row of the compression table: ensemble, temperature (t_max / t_final), pressure (a fraction of p_max, p_final, or
# null for nvt), duration (ps before duration_scale)
COMPRESSION_ROW = Row((choice("nvt", "npt"), choice("t_max", "t_final"),
                       OneOf((positive(), choice("p_final")), nullable=True), positive()))

EQUILIBRATE = Section({
    "description": DESCRIPTION,
    "larsen_21_step": ListOf(COMPRESSION_ROW),  # shared by every protocol of the file
    "cell": CELL,
    "md": MD,
    "packing": Section({  # equilibration.packing_stage
        "temperature": positive(),
        "density": positive(),
        "duration": positive(),
        "lj_cutoff": positive(**OPTIONAL),
    }),
    "compression": Section({  # equilibration.compression_stages
        "t_max": positive(),
        "t_final": positive(),
        "p_max": positive(),
        "p_final": positive(),
        "duration_scale": positive(),
        "min_duration": number(0.0, **OPTIONAL),
    }),
    "production": Section({  # equilibration.production_stage, EquilibrateWorkChain.needs_production
        "temperature": positive(),
        "pressure": positive(),
        "duration": positive(),
        "max_segments": integer(1),
        "sample_every_ps": positive(),
        "thermo_every_ps": positive(),
        # the quantum correction of Cp (chem/vdos.py): velocities of the first `atoms` atoms over the last
        # `duration` ps of each segment, every `sample_every_fs`; null: not computed
        "vdos": Section({"duration": positive(), "sample_every_fs": positive(), "atoms": integer(2)},
                        nullable=True, **OPTIONAL),
    }),
    "convergence": Section({  # calcfunctions/properties.py check_convergence
        "window": number(0.0, 0.5, open_low=True, **OPTIONAL),
        "thresholds": Section(dict.fromkeys(THRESHOLD_NAMES, THRESHOLD), nullable=True, **OPTIONAL),
    }, **OPTIONAL),
})

# ---------------------------------------------------------------------------------------------------------------
# nemd.yaml (aiida_polymer.chem.nemd stages / analysis_parameters, chem/lammps_input.py NEMD_DEFAULTS)
# ---------------------------------------------------------------------------------------------------------------

NEMD = Section({
    "description": DESCRIPTION,
    "run": boolean(**OPTIONAL),  # workchains/properties.py: false leaves NEMD out of polymer.properties
    "replicate": ListOf(integer(1), length=3, **OPTIONAL),
    "temperature": positive(),
    "md": Section({  # no shake: NEMD cannot run with constraints
        "timestep": positive(),
        "kspace_accuracy": number(0.0, 1.0, open_low=True, open_high=True, **OPTIONAL),
        "cutoff_inner": positive(**OPTIONAL),
        "cutoff": positive(**OPTIONAL),
        "lj": choice(*LJ_FORMS, **OPTIONAL),
        "fused": boolean(**OPTIONAL),  # ThermalConductivityWorkChain: NVT + NEMD as one job (default true)
    }),
    "nvt": Section({  # duration, or steps (which wins)
        "duration": positive(**OPTIONAL),
        "steps": integer(1, **OPTIONAL),
        "seed": integer(1, **OPTIONAL),
    }),
    "nemd": Section({
        "method": choice(*NEMD_METHODS, **OPTIONAL),
        "duration": positive(**OPTIONAL),
        "steps": integer(1, **OPTIONAL),
        "restart_every": integer(0, **OPTIONAL),  # steps; 0: no restart files
        "swap_every": integer(1, **OPTIONAL),
        "n_swap": integer(1, **OPTIONAL),
        "n_slabs": integer(4, **OPTIONAL),  # even
        "axis": choice(*AXES, **OPTIONAL),
        "profile_every": integer(1, **OPTIONAL),
        "profile_window": integer(1, **OPTIONAL),  # a multiple of profile_every
        "decompose": boolean(**OPTIONAL),
        "delta_t": positive(**OPTIONAL),  # langevin: reservoirs at temperature ± delta_t (K)
        "damp": positive(**OPTIONAL),  # langevin: thermostat damping (fs)
        "seed": integer(1, **OPTIONAL),  # langevin thermostat seed
    }),
    "analysis": Section({  # chem/nemd.py thermal_conductivity (the axis is nemd.axis)
        "discard": number(0.0, 1.0, open_high=True, **OPTIONAL),
        "nblocks": integer(1, **OPTIONAL),
        "exclude_neighbours": integer(0, **OPTIONAL),
        "r2_min": number(high=1.0, **OPTIONAL),
        "block_r2_min": number(high=1.0, **OPTIONAL),
        "asymmetry_max": positive(**OPTIONAL),
    }, **OPTIONAL),
})

# ---------------------------------------------------------------------------------------------------------------
# charges.yaml (workchains/charges.py; the psi4 tasks are chem/psi4_io.py Psi4Task less task and charge)
# ---------------------------------------------------------------------------------------------------------------

PSI4_FIELDS = {
    "method": text(**OPTIONAL),
    "basis": text(**OPTIONAL),
    "memory": text(**OPTIONAL),  # e.g. "2 GB"
    "multiplicity": integer(1, **OPTIONAL),
    "reference": choice(*REFERENCES, ignore_case=True, nullable=True, **OPTIONAL),
    "scf_type": choice(*SCF_TYPES, ignore_case=True, nullable=True, **OPTIONAL),
    "maxiter": integer(1, nullable=True, **OPTIONAL),
    "damping_percentage": number(0.0, 100.0, nullable=True, **OPTIONAL),
    "guess": choice(*GUESSES, *GUESSES_1_9, ignore_case=True, nullable=True, **OPTIONAL),
    "e_convergence": number(0.0, 1.0, open_low=True, nullable=True, **OPTIONAL),
    "d_convergence": number(0.0, 1.0, open_low=True, nullable=True, **OPTIONAL),
    "geom_maxiter": integer(1, nullable=True, **OPTIONAL),
    "g_convergence": choice(*G_CONVERGENCES, ignore_case=True, nullable=True, **OPTIONAL),
    "polarizability_method": choice(*POLARIZABILITY_METHODS, ignore_case=True, **OPTIONAL),
    "field_strength": number(0.0, 0.1, open_low=True, **OPTIONAL),  # a.u., finite field
}

CHARGES_SCHEMA = Section({
    "description": DESCRIPTION,
    "charges": choice(*CHARGES, **OPTIONAL),  # resp: Psi4 RESP; else the cell's own charges (properties workchain)
    "fused": boolean(**OPTIONAL),  # ChargesWorkChain: all psi4 work of a unit as one job (default true)
    "conformers": Section({  # chem/conformers.py search
        "n_conformers": integer(1, **OPTIONAL),
        "keep": integer(1, **OPTIONAL),
        "prune_rms": number(0.0, **OPTIONAL),
        "cluster_rms": number(0.0, **OPTIONAL),
        "seed": integer(**OPTIONAL),
        "max_iters": integer(1, **OPTIONAL),
    }),
    "optimize": Section(PSI4_FIELDS),
    "esp": Section(PSI4_FIELDS),
    "grid": Section({  # chem/esp_grid.py msk_points
        "density": positive(**OPTIONAL),  # points/Å²
        "orientations": integer(1, **OPTIONAL),
        "scales": ListOf(positive(), **OPTIONAL),  # × vdW radius
        "radii": Value("mapping", **OPTIONAL),  # vdW radius (Å) by element
    }),
    "polarizability": Section(PSI4_FIELDS, nullable=True),  # null: no polarizability
})

SCHEMAS: dict[str, Section] = {"equilibrate.yaml": EQUILIBRATE, "nemd.yaml": NEMD, "charges.yaml": CHARGES_SCHEMA}

# mechanics.yaml (aiida_polymer.chem.mechanics deformation_stage / analysis_parameters, workchains/mechanics.py)
MECHANICS = Section({
    "description": DESCRIPTION,
    "temperature": positive(),
    "pressure": number(),  # the lateral directions' target (atm)
    "md": Section({
        "timestep": positive(),
        "kspace_accuracy": number(0.0, 1.0, open_low=True, open_high=True, **OPTIONAL),
        "cutoff_inner": positive(**OPTIONAL),
        "cutoff": positive(**OPTIONAL),
        "lj": choice(*LJ_FORMS, **OPTIONAL),
        "shake": boolean(**OPTIONAL),
    }),
    "deformation": Section({
        "strain_rate": positive(),  # engineering, 1/s
        "max_strain": positive(),
        "axes": ListOf(choice(*AXES), **OPTIONAL),
        "sample_every": integer(1, **OPTIONAL),
        "average": integer(1, **OPTIONAL),
        "tdamp": positive(**OPTIONAL),
        "pdamp": positive(**OPTIONAL),
        "restart_every": integer(0, **OPTIONAL),
    }),
    "analysis": Section({  # chem/mechanics.py mechanical_properties
        "window": Row((number(0.0), positive()), **OPTIONAL),
        "min_points": integer(3, **OPTIONAL),
    }, **OPTIONAL),
})
SCHEMAS["mechanics.yaml"] = MECHANICS

# glass_transition.yaml (aiida_polymer.chem.glass_transition schedule_of / phase_of / analysis_parameters,
# workchains/glass_transition.py)
GLASS_TRANSITION = Section({
    "description": DESCRIPTION,
    "md": Section({  # the stages' fields (timestep: CoolingSchedule.timestep)
        "timestep": positive(),
        "kspace_accuracy": number(0.0, 1.0, open_low=True, open_high=True, **OPTIONAL),
        "cutoff_inner": positive(**OPTIONAL),
        "cutoff": positive(**OPTIONAL),
        "lj": choice(*LJ_FORMS, **OPTIONAL),
        "shake": boolean(**OPTIONAL),
        "tdamp": positive(**OPTIONAL),
        "pdamp": positive(**OPTIONAL),
    }),
    "cooling": Section({  # chem/glass_transition.py CoolingSchedule
        "t_start": positive(),
        "t_end": positive(),
        "step": positive(),
        "rate": positive(),
        "hold": positive(),
        "t_initial": positive(nullable=True, **OPTIONAL),
        "heat_rate": positive(**OPTIONAL),
        "start_hold": number(0.0, **OPTIONAL),
        "pressure": positive(**OPTIONAL),
        "discard": number(0.0, 1.0, open_high=True, **OPTIONAL),
        "thermo_every": integer(0, **OPTIONAL),
    }),
    "analysis": Section({  # chem/glass_transition.py glass_transition
        "quantity": choice("specific_volume", "density", **OPTIONAL),
        "min_points": integer(5, **OPTIONAL),
        "min_side": integer(2, **OPTIONAL),
        "drop": integer(0, **OPTIONAL),
        "alpha": number(0.0, 1.0, open_low=True, open_high=True, **OPTIONAL),
    }, **OPTIONAL),
})
SCHEMAS["glass_transition.yaml"] = GLASS_TRANSITION

# the overrides of polymer.properties: one mapping per protocol file
PROPERTIES_OVERRIDES = Section({**{name: Value("mapping", optional=True, nullable=True)
                                   for name in ("charges", "equilibrate", "nemd", "mechanics", "glass_transition")},
                                "replicates": integer(1, **OPTIONAL)})  # workchains/properties.py
