"""``polymer.design.synthetic``: a stand-in for the property workflow, for tests and benchmarks of the design loop.

:class:`SyntheticPropertiesWorkChain` takes a repeat unit and returns a ``properties`` Dict in the format of
``polymer.properties`` (``{name: {value, unit, stderr, flags}}``, see :mod:`aiida_polymer.workchains.properties`)
with two properties computed at once by a calcfunction from :func:`aiida_polymer.design.oracle.synthetic_property`
(RDKit descriptors, no MD): ``thermal_conductivity``, the oracle's κ-like property (``which=0``), and
``self_diffusion``, its second, conflicting one (``which=1``: favours flexible, light, aliphatic units), for
two-objective runs and constraints. They stand in for the computed numbers; neither is a physical value (the
units are those of the real properties, the magnitudes are not). Campaigns and the design loop
submit it as ``--workflow synthetic``, so a whole loop runs through the daemon in seconds, with the same graph
pattern (workflow, calcfunction, RETURN link ``properties``) and the same property summary extra that the
database reads.

A unit the oracle cannot compute, or one that matches the optional ``fail_smarts`` pattern (a stand-in for a run
that fails), ends the workflow with an exit code and no properties, as a failed MD run does.
"""

from __future__ import annotations

from aiida import orm
from aiida.engine import WorkChain, calcfunction

from ..workchains.exclusive import Exclusive

# property -> (the oracle's ``which``, the real workflow's unit: aiida_polymer.calcfunctions.nemd, chem.analysis)
PROPERTIES = {"thermal_conductivity": (0, "W/(m K)"), "self_diffusion": (1, "m^2/s")}


@calcfunction
def synthetic_properties(smiles: orm.Str) -> orm.Dict:
    """The oracle's values of the repeat unit as the real workflow's property table (exact: standard error 0)."""
    from .oracle import synthetic_property

    return orm.Dict({name: {"value": float(synthetic_property(smiles.value, which)), "unit": unit, "stderr": 0.0,
                            "flags": []} for name, (which, unit) in PROPERTIES.items()})


class SyntheticPropertiesWorkChain(Exclusive, WorkChain):
    """Repeat unit → ``properties`` (the oracle's two properties), in one calcfunction step."""

    @classmethod
    def define(cls, spec):
        super().define(spec)
        spec.input("smiles", valid_type=orm.Str, help="The repeat unit, with two '*'.")
        spec.input("protocol", valid_type=orm.Str, default=lambda: orm.Str("fast"),
                   help="Recorded only (the oracle has no settings): the protocol of the campaign's key.")
        spec.input("fail_smarts", valid_type=orm.Str, required=False,
                   help="Units that match this SMARTS fail with exit code 310 (a stand-in for a failed run).")
        spec.outline(cls.check, cls.compute)
        spec.output("properties", valid_type=orm.Dict, help="{name: {value, unit, stderr, flags}}.")
        spec.exit_code(300, "ERROR_INVALID_UNIT", message="Not a repeat unit: {message}")
        spec.exit_code(310, "ERROR_REJECTED_UNIT", message="The unit matches {smarts}: rejected (a stand-in for a "
                                                           "failed run)")
        spec.exit_code(320, "ERROR_ORACLE_FAILED", message="The synthetic oracle failed: {message}")

    @classmethod
    def get_builder_from_protocol(cls, units: list[str], protocol: str = "fast", overrides: dict | None = None):
        """The builder of one homopolymer; ``overrides``: ``{"fail_smarts": SMARTS}`` at most (ValueError else)."""
        from rdkit import Chem

        from ..chem.monomer import parse_repeat_unit

        if len(units) != 1:
            raise ValueError(f"the synthetic workflow computes homopolymers: {len(units)} repeat units given")
        parse_repeat_unit(units[0])
        unknown = set(overrides or {}) - {"fail_smarts"}
        if unknown:
            raise ValueError(f"unknown synthetic overrides {', '.join(sorted(unknown))}: only fail_smarts")
        builder = cls.get_builder()
        builder.smiles = orm.Str(units[0])
        builder.protocol = orm.Str(protocol)
        smarts = (overrides or {}).get("fail_smarts")
        if smarts:
            if Chem.MolFromSmarts(smarts) is None:
                raise ValueError(f"fail_smarts {smarts!r} is not a SMARTS pattern")
            builder.fail_smarts = orm.Str(smarts)
        return builder

    def check(self):
        from rdkit import Chem

        from ..chem.monomer import MonomerError, parse_repeat_unit

        try:
            parse_repeat_unit(self.inputs.smiles.value)
        except MonomerError as exc:
            return self.exit_codes.ERROR_INVALID_UNIT.format(message=str(exc))
        if "fail_smarts" in self.inputs:
            pattern = Chem.MolFromSmarts(self.inputs.fail_smarts.value)
            if Chem.MolFromSmiles(self.inputs.smiles.value).HasSubstructMatch(pattern):
                return self.exit_codes.ERROR_REJECTED_UNIT.format(smarts=self.inputs.fail_smarts.value)
        return None

    def compute(self):
        try:
            properties = synthetic_properties(self.inputs.smiles, metadata={"call_link_label": "oracle"})
        except Exception as exc:  # the oracle's own refusal (e.g. a unit it has no descriptors for)
            return self.exit_codes.ERROR_ORACLE_FAILED.format(message=f"{type(exc).__name__}: {exc}")
        self.out("properties", properties)
        from ..database.summary import SUMMARY, of_workflow

        self.node.base.extras.set(SUMMARY, of_workflow(self.node, properties))
        return None
