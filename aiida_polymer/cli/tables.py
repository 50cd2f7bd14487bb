"""The CLI's tables: a run's cell summary and property table, and the list of recent runs."""

from __future__ import annotations

import os

from aiida.common.links import LinkType

from ..chem.flags import failed_gate, footnotes, shown_flags

PROFILE = "aiida-polymer"  # the project profile that `make demo` creates


KEY_PROPERTIES = (("density", "g/cm3", 1.0), ("heat_capacity_cp", "J/(kg K)", 1.0), ("refractive_index", "", 1.0),
                  ("thermal_conductivity", "W/(m K)", 1.0))


def _run_smiles(node) -> str:
    inputs = node.inputs.equilibrate if "equilibrate" in node.inputs else node.inputs
    return ", ".join(inputs.cell.parameters["smiles"]) if "cell" in inputs and "parameters" in inputs.cell \
        else "(data file)"


def grid(header: list[str], rows: list[list[str]]) -> list[str]:
    """Left-aligned columns, two spaces apart."""
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    return ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in [header, *rows]]


def format_list(nodes: list) -> str:
    """One row per run: state, repeat units, key properties ("—" where a value failed its checks) and flags."""
    header = ["PK", "workflow", "state", "repeat units", *(f"{n} [{u}]" if u else n for n, u, _ in KEY_PROPERTIES),
              "flags"]
    rows, seen = [], []
    for node in nodes:
        state = node.process_state.value if node.process_state else "?"
        if node.is_finished:
            state = "ok" if node.is_finished_ok else f"failed [{node.exit_status}]"
        table = node.outputs.properties.get_dict() if "properties" in node.outputs else {}
        values, flags = [], []
        for name, _, factor in KEY_PROPERTIES:
            entry = table.get(name)
            if entry is None:
                values.append("")
                continue
            values.append("—" if failed_gate(entry) else f"{entry['value'] * factor:.4g}")
            flags += shown_flags(entry)
        flags = list(dict.fromkeys(flags))
        seen += flags
        rows.append([str(node.pk), node.process_label, state, _run_smiles(node), *values, ", ".join(flags)])
    if not rows:
        return "no runs yet: aiida-polymer submit '*CC*' --protocol fast"
    lines = grid(header, rows)
    if seen:
        lines += ["", "— : the value failed its own checks (aiida-polymer show PK for the reason)", "Flags:",
                  *(f"  {line}" for line in footnotes(seen))]
    return "\n".join(lines)


def format_result(node) -> str:
    """Cell summary, property table (if any), output nodes and how to inspect them."""
    outputs = node.outputs
    md = outputs.equilibrate if "equilibrate" in outputs else outputs
    cell = md.cell if "cell" in md else md
    units = [r["smiles"] for r in cell.residues["residues"] if r["role"] == "repeat_unit"] if "residues" in cell else []
    parts = [format_summary(cell.summary.get_dict(), ", ".join(units))] if "summary" in cell else []
    if "residues" in cell:
        parts[-1] += f"\n{'charges':<16}  {cell.residues['charge_method']}"
    if "properties" in outputs:
        parts.append(format_properties(outputs.properties.get_dict(), md.convergence["converged"]))
    returned = node.base.links.get_outgoing(link_type=LinkType.RETURN).all()
    labels = sorted(f"{link.link_label}<{link.node.pk}>" for link in returned)
    parts.append(f"{node.process_label}<{node.pk}> [{node.exit_status}]; outputs: {', '.join(labels)}")
    parts.append(f"Provenance graph: verdi node graph generate {node.pk}\n"
                 f"Report:           verdi process report {node.pk}\n"
                 f"  (profile {PROFILE!r} lives in AIIDA_PATH={os.environ.get('AIIDA_PATH', '~/.aiida')})")
    return "\n\n".join(parts)


UNIT_SCALE = {  # display units: (factor, unit)
    "self_diffusion": (1e9, "1e-9 m^2/s"),
    "isothermal_compressibility": (1e10, "1e-10 1/Pa"), "isentropic_compressibility": (1e10, "1e-10 1/Pa"),
    "isothermal_bulk_modulus": (1e-9, "GPa"), "isentropic_bulk_modulus": (1e-9, "GPa"),
    "volumetric_thermal_expansion": (1e4, "1e-4 1/K"), "linear_thermal_expansion": (1e4, "1e-4 1/K"),
    "thermal_diffusivity": (1e7, "1e-7 m^2/s"),
}


def format_properties(table: dict, converged: bool) -> str:
    """value ± standard error, unit and flags per property; a value that failed its own checks is shown as
    "— (reason)"; the flags are explained below the table."""
    rows, seen = [], []
    for name, entry in table.items():
        factor, unit = UNIT_SCALE.get(name, (1.0, entry["unit"]))
        value, err = entry["value"], entry.get("stderr")
        failed = failed_gate(entry)
        if failed:
            text = f"— ({failed})"
        else:
            text = f"{value * factor:.4g}" + (f" ± {err * factor:.2g}" if err is not None else "")
        flags = shown_flags(entry)
        seen += flags
        rows.append((name, text, unit, ", ".join(flags)))
    widths = [max(len(r[i]) for r in rows) for i in range(3)]
    lines = [f"{'property':<{widths[0]}}  {'value ± standard error':<{widths[1]}}  {'unit':<{widths[2]}}  flags"]
    lines += [f"{n:<{widths[0]}}  {v:<{widths[1]}}  {u:<{widths[2]}}  {f}".rstrip() for n, v, u, f in rows]
    if not converged:
        lines.append("NOTE: the production run did not meet the convergence criteria; values are flagged.")
    if seen:
        lines += ["Flags:", *(f"  {line}" for line in footnotes(seen))]
    return "\n".join(lines)


def format_summary(s: dict, smiles: str) -> str:
    tact = s["meso_dyad_fraction"]
    rows = [
        ("repeat unit", smiles),
        ("chains x DP", f"{s['n_chains']} x {s['degree_of_polymerization']}"),
        ("atoms", f"{s['n_atoms']} ({s['atoms_per_chain']} per chain)"),
        ("box", f"{s['box_length_angstrom']:.2f} Å cubic (built at {s['density_g_cm3']:.4f} g/cm³)"),
        ("net charge", f"{s['net_charge']:.2e} e"),
        ("min distance", f"{s['min_distance_angstrom']:.3f} Å (any pair), "
                         f"{s['min_nonbonded_distance_angstrom']:.3f} Å (non-bonded)"),
        ("tacticity", f"{s['tacticity_requested']}" + ("" if tact is None else f", meso dyads {tact:.2f}")),
        ("terms", ", ".join(f"{v} {k}" for k, v in s["counts"].items())),
        ("estimated params", str(len(s["estimated_parameters"]))),
    ]
    width = max(len(k) for k, _ in rows)
    return "\n".join(f"{k:<{width}}  {v}" for k, v in rows)
