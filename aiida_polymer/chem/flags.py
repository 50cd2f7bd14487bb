"""What the flags on a property mean, and whether its value can be shown as a result.

Every property entry carries ``flags``. A *gate* flag means the value failed a check of its own method (a NEMD
profile that is not linear, an MSD that does not grow): the value is kept in the database for inspection but is
not a result and is shown as "— (reason)". A *caution* flag qualifies a value that is shown. A value whose standard
error is at least half its magnitude is noise as well (``noise``, added where it is shown).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

# flag: (gate, what it means); the README's glossary lists the same words
FLAGS: dict[str, tuple[bool, str]] = {
    "not_converged": (False, "the production run did not meet the convergence criteria (drifting energies, density "
                             "or Rg): a value of an unequilibrated cell"),
    "too_few_samples": (True, "fewer than 100 thermo samples: fluctuation properties cannot be estimated"),
    "noise": (True, "the standard error is at least half the value: not distinguishable from zero"),
    "unphysical": (True, "a quantity that must be positive came out zero or negative (sampling noise)"),
    "negative_thermal_expansion": (False, "negative expansion coefficient: rare in amorphous polymers, usually noise"),
    "drift_removed": (False, "the cell was still relaxing: V and H drifted, and the fluctuation properties are "
                             "those about the linear trend"),
    "enthalpy_from_instantaneous_pressure": (False, "H = E + PV used the instantaneous, not the imposed, pressure"),
    "non_positive_msd_slope": (True, "the chain mean-square displacement does not grow: no diffusion measurable"),
    "subdiffusive": (False, "MSD exponent clearly below 1 (glassy, not yet diffusive): D is an upper bound"),
    "cutoff_exceeds_half_box": (False, "the pair cut-off is longer than half the box: atoms see their own images"),
    "nonlinear_profile": (True, "the NEMD temperature profile is not linear (r² below the protocol's minimum)"),
    "nonlinear_profile_blocks": (True, "the NEMD temperature profile is not linear in every time block"),
    "no_gradient": (True, "the NEMD swaps built no temperature gradient (or no heat flux)"),
    "non_finite_blocks": (True, "a time block of the NEMD run gave no finite κ"),
    "asymmetric_profile": (False, "the two halves of the NEMD profile have different slopes"),
    "few_blocks": (False, "fewer profile frames than blocks: the standard error rests on few blocks"),
    "skipped": (True, "not computed (see the reason)"),
    "not_equilibrated": (False, "NEMD was skipped because the cell did not equilibrate"),
    "nematic_order": (False, "NEMD was skipped because the chains are aligned (nematic order S too high)"),
    "few_strain_points": (True, "fewer samples in the small-strain window than the protocol's minimum: E and ν "
                                  "cannot be fitted"),
    "strain_window_not_reached": (False, "the deformation ended before the end of the strain window: E and ν are "
                                          "fitted over a smaller strain range"),
    "harmonic_quantum_correction": (False, "the classical value with the harmonic quantum correction of each "
                                           "vibration of the velocity spectrum (Berens et al. 1983) added"),
    "lines_not_distinct": (True, "the two lines of the Tg fit are not distinct (one straight line fits as well)"),
    "break_at_edge": (True, "the Tg break lies at the edge of the cooled range: the transition is at or beyond it"),
    "too_few_points": (True, "too few cooling holds for a two-line Tg fit"),
    "inverted_expansion": (True, "the Tg fit's melt expands less than its glass: the break is not a glass transition"),
    "range_dependent": (False, "Tg moves with the cooled range (curved branches): its error includes that spread"),
}

SHORT = {  # the reason shown in place of a value that failed its gate
    "too_few_samples": "too few samples", "noise": "noise", "unphysical": "unphysical",
    "non_positive_msd_slope": "MSD not growing", "nonlinear_profile": "profile not linear",
    "nonlinear_profile_blocks": "profile not linear", "no_gradient": "no gradient", "non_finite_blocks": "no finite κ",
    "skipped": "skipped",
    "few_strain_points": "few strain points",
    "lines_not_distinct": "one line", "break_at_edge": "break at edge", "too_few_points": "too few holds",
    "inverted_expansion": "not a glass transition",
}


def describe(flag: str) -> str:
    """The flag in words (an unknown flag is returned as it is)."""
    return FLAGS[flag][1] if flag in FLAGS else flag


def shown_flags(entry: Mapping[str, Any]) -> list[str]:
    """The entry's flags, with ``noise`` added when its standard error is at least half its magnitude."""
    flags = list(entry.get("flags") or [])
    value, stderr = entry.get("value"), entry.get("stderr")
    if value is not None and stderr is not None and abs(value) <= 2.0 * stderr and "noise" not in flags:
        flags.append("noise")
    return flags


def failed_gate(entry: Mapping[str, Any]) -> str | None:
    """Why the entry's value is not a result (e.g. "profile not linear"), or None when it can be shown."""
    if entry.get("value") is None:
        reason = (entry.get("reason") or "").split(":")[0].replace("_", " ")
        return f"skipped: {reason}" if reason else "not computed"
    reasons = [SHORT[f] for f in shown_flags(entry) if FLAGS.get(f, (False,))[0]]
    return reasons[0] if reasons else None  # the method's own gate before the generic noise check


def footnotes(flags: Iterable[str]) -> list[str]:
    """One line per distinct flag, in words, for the foot of a table."""
    return [f"{flag}: {describe(flag)}" for flag in dict.fromkeys(flags)]
