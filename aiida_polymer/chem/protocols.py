"""Protocols as data: YAML files in ``aiida_polymer/protocols`` with ``default_protocol`` and ``protocols``.

:func:`settings` is the one loader: the chosen protocol, the file's shared entries (every top-level entry other
than ``default_protocol`` and ``protocols``, e.g. ``larsen_21_step``) beneath it, the overrides merged in
recursively (:func:`merge`), and the result validated against the file's schema
(:mod:`aiida_polymer.chem.protocol_schema`). A typo, a key at the wrong level, a wrong type or an unphysical value
raises :class:`ProtocolError` naming the full path of the key and, where there is one, the key meant.
"""

from __future__ import annotations

import copy
import difflib
import math
import numbers
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib.resources import files
from typing import Any

import yaml

FILE_KEYS = ("default_protocol", "protocols")
#: The protocols of every file, cheapest first (``screening``: for campaigns of 10^4 polymers; docs/validation.md).
NAMES = ("fast", "screening", "moderate", "precise")


class ProtocolError(ValueError):
    """Protocol settings that do not fit the schema; ``errors`` lists one message per problem."""

    def __init__(self, errors: list[str] | str):
        self.errors = [errors] if isinstance(errors, str) else list(errors)
        super().__init__("\n".join(self.errors))


# ---------------------------------------------------------------------------------------------------------------
# Schema nodes
# ---------------------------------------------------------------------------------------------------------------

KINDS = {"number": "a number", "integer": "an integer", "boolean": "true or false", "string": "a string",
         "mapping": "a mapping", "any": "anything"}


@dataclass(frozen=True)
class Value:
    """A leaf: ``kind`` (number, integer, boolean, string, mapping, any), optional bounds and allowed values."""

    kind: str = "any"
    low: float | None = None
    high: float | None = None
    open_low: bool = False  # low itself excluded
    open_high: bool = False
    choices: tuple[Any, ...] = ()
    ignore_case: bool = False  # for string choices
    optional: bool = False  # may be absent
    nullable: bool = False  # may be null (None)


@dataclass(frozen=True)
class Section:
    """A mapping with exactly these keys (those not ``optional`` required)."""

    fields: Mapping[str, Node] = field(default_factory=dict)
    optional: bool = False
    nullable: bool = False


@dataclass(frozen=True)
class ListOf:
    """A list of ``item``s (``length`` of them, when given)."""

    item: Node
    length: int | None = None
    optional: bool = False
    nullable: bool = False


@dataclass(frozen=True)
class Row:
    """A fixed-length list whose entries have their own nodes (e.g. a table row)."""

    items: tuple[Node, ...]
    optional: bool = False
    nullable: bool = False


@dataclass(frozen=True)
class OneOf:
    """Any one of ``options`` (e.g. a number or a mapping)."""

    options: tuple[Node, ...]
    optional: bool = False
    nullable: bool = False


Node = Value | Section | ListOf | Row | OneOf


# ---------------------------------------------------------------------------------------------------------------
# Loading, merging, validating
# ---------------------------------------------------------------------------------------------------------------


def load(filename: str) -> dict[str, Any]:
    """The whole YAML file ``filename`` of ``aiida_polymer/protocols``."""
    return yaml.safe_load((files("aiida_polymer.protocols") / filename).read_text())


def label(filename: str) -> str:
    """How messages name a protocol file: ``equilibrate.yaml`` → "equilibrate protocol"."""
    return f"{filename.removesuffix('.yaml')} protocol"


def schema(filename: str) -> Section:
    """The schema of the protocols of ``filename``."""
    from .protocol_schema import SCHEMAS  # here: the schemas import chem constants, which import this module's users

    return SCHEMAS[filename]


def merge(base: Mapping[str, Any], overrides: Mapping[str, Any]) -> dict[str, Any]:
    """A deep copy of ``base`` with ``overrides`` merged in: a mapping into a mapping recursively (sibling keys
    are kept), any other value replaces."""
    merged = copy.deepcopy(dict(base))
    for key, value in overrides.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = merge(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def settings(filename: str, name: str | None = None, overrides: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """One protocol's validated settings (the file's default when ``name`` is None) with ``overrides`` merged in
    recursively; :class:`ProtocolError` for an unknown protocol or settings that do not fit the schema."""
    data = load(filename)
    name = name or data["default_protocol"]
    if name not in data["protocols"]:
        close = difflib.get_close_matches(str(name), data["protocols"], n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        raise ProtocolError(f"unknown protocol {name!r} in {filename}; choose from "
                            f"{', '.join(data['protocols'])}{hint}")
    if overrides is not None and not isinstance(overrides, Mapping):
        raise ProtocolError(f"the overrides of the {label(filename)} must be a mapping, got {overrides!r}")
    shared = {key: value for key, value in data.items() if key not in FILE_KEYS}
    merged = merge(merge(shared, data["protocols"][name]), overrides or {})
    validate(merged, schema(filename), label(filename))
    return merged


def check(value: Mapping[str, Any], filename: str) -> str | None:
    """The problems of the settings ``value`` against the schema of ``filename`` as one message, or None (the
    form an AiiDA port validator returns)."""
    try:
        validate(value, schema(filename), label(filename))
    except ProtocolError as exc:
        return str(exc)
    return None


def validate(value: Any, node: Node, what: str) -> None:
    """Raise :class:`ProtocolError` listing every mismatch of ``value`` against ``node``; ``what`` names the
    whole (e.g. "nemd protocol") in the messages."""
    errors: list[str] = []
    _check(value, node, "", _Context(node, what), errors)
    if errors:
        raise ProtocolError(errors)


def steps(duration_ps: float, timestep_fs: float) -> int:
    """MD steps (at least one) for a duration in ps at a timestep in fs."""
    return max(1, round(duration_ps * 1000.0 / timestep_fs))


# ---------------------------------------------------------------------------------------------------------------
# The checks
# ---------------------------------------------------------------------------------------------------------------


@dataclass
class _Context:
    root: Node
    what: str
    _paths: dict[str, list[str]] | None = None

    def paths(self) -> dict[str, list[str]]:
        """Every key of the schema → the full paths where it is a key."""
        if self._paths is None:
            self._paths = {}
            _collect(self.root, "", self._paths)
        return self._paths


def _collect(node: Node, path: str, out: dict[str, list[str]]) -> None:
    if isinstance(node, Section):
        for key, child in node.fields.items():
            full = _join(path, key)
            out.setdefault(key, []).append(full)
            _collect(child, full, out)
    elif isinstance(node, OneOf):
        for option in node.options:
            _collect(option, path, out)


def _join(path: str, key: Any) -> str:
    return f"{path}.{key}" if path else str(key)


def _either(paths: list[str]) -> str:
    quoted = [f"'{p}'" for p in paths]
    return quoted[0] if len(quoted) == 1 else f"{', '.join(quoted[:-1])} or {quoted[-1]}"


def _name(path: str, ctx: _Context) -> str:
    return f"'{path}'" if path else f"the {ctx.what}"


def _describe(node: Node) -> str:
    if isinstance(node, Value):
        text = ("one of " + ", ".join(repr(c) for c in node.choices)) if node.choices else KINDS[node.kind]
    elif isinstance(node, Section):
        text = "a mapping"
    elif isinstance(node, ListOf):
        text = f"a list of {node.length} values" if node.length else "a list"
    elif isinstance(node, Row):
        text = f"a list of {len(node.items)} values"
    else:
        text = " or ".join(_describe(option) for option in node.options)
    return text + (" or null" if node.nullable else "")


def _type_error(value: Any, node: Node, path: str, ctx: _Context) -> str:
    return f"{_name(path, ctx)} must be {_describe(node)}, got {value!r} ({ctx.what})"


def _is_kind(value: Any, kind: str) -> bool:
    if kind == "number":
        return isinstance(value, numbers.Real) and not isinstance(value, bool) and math.isfinite(value)
    if kind == "integer":
        return isinstance(value, numbers.Integral) and not isinstance(value, bool)
    if kind == "boolean":
        return isinstance(value, bool)
    if kind == "string":
        return isinstance(value, str)
    if kind == "mapping":
        return isinstance(value, Mapping)
    return True


def _fits(value: Any, node: Node) -> bool:
    """Does ``value`` have the shape of ``node`` (its type, not its contents)?"""
    if value is None:
        return node.nullable
    if isinstance(node, Section):
        return isinstance(value, Mapping)
    if isinstance(node, ListOf | Row):
        return isinstance(value, list | tuple)
    if isinstance(node, OneOf):
        return any(_fits(value, option) for option in node.options)
    return _is_kind(value, node.kind)


def _check(value: Any, node: Node, path: str, ctx: _Context, errors: list[str]) -> None:
    if value is None:
        if not node.nullable:
            errors.append(_type_error(value, node, path, ctx))
        return
    if not _fits(value, node):
        errors.append(_type_error(value, node, path, ctx))
    elif isinstance(node, Section):
        _check_section(value, node, path, ctx, errors)
    elif isinstance(node, ListOf):
        if node.length is not None and len(value) != node.length:
            errors.append(_type_error(value, node, path, ctx))
        for i, item in enumerate(value):
            _check(item, node.item, f"{path}[{i}]", ctx, errors)
    elif isinstance(node, Row):
        if len(value) != len(node.items):
            errors.append(_type_error(value, node, path, ctx))
        else:
            for i, (item, child) in enumerate(zip(value, node.items, strict=True)):
                _check(item, child, f"{path}[{i}]", ctx, errors)
    elif isinstance(node, OneOf):
        _check(value, next(o for o in node.options if _fits(value, o)), path, ctx, errors)
    else:
        _check_value(value, node, path, ctx, errors)


def _check_section(value: Mapping[str, Any], node: Section, path: str, ctx: _Context, errors: list[str]) -> None:
    for key in value:
        if key not in node.fields:
            errors.append(_unknown(str(key), node, path, ctx))
    for key, child in node.fields.items():
        if key in value:
            _check(value[key], child, _join(path, key), ctx, errors)
        elif not child.optional:
            errors.append(f"missing key '{_join(path, key)}' in the {ctx.what}")


def _unknown(key: str, node: Section, path: str, ctx: _Context) -> str:
    """The message for ``key``, not a key of the section at ``path``: the same key elsewhere, else close keys here,
    else close keys anywhere, else the keys known here."""
    paths = ctx.paths()
    elsewhere = paths.get(key, [])
    if elsewhere:
        where = f"the {ctx.what}'s top level" if not path else f"section '{path}' of the {ctx.what}"
        return f"'{key}' is not a key of {where}; did you mean {_either(elsewhere)}?"
    siblings = list(node.fields)
    close = [_join(path, k) for k in difflib.get_close_matches(key, siblings, n=3, cutoff=0.6)]
    if not close:
        close = [p for k in difflib.get_close_matches(key, list(paths), n=3, cutoff=0.75) for p in paths[k]]
    hint = f"did you mean {_either(close)}?" if close else f"known keys here: {', '.join(siblings)}"
    return f"unknown key '{_join(path, key)}' in the {ctx.what}; {hint}"


def _check_value(value: Any, node: Value, path: str, ctx: _Context, errors: list[str]) -> None:
    if node.choices:
        folded = value.lower() if node.ignore_case and isinstance(value, str) else value
        if folded not in node.choices:
            strings = [c for c in node.choices if isinstance(c, str)]
            close = difflib.get_close_matches(value, strings, n=1) if isinstance(value, str) else []
            hint = f"; did you mean {close[0]!r}?" if close else ""
            errors.append(f"{_type_error(value, node, path, ctx)}{hint}")
        return
    if node.kind not in ("number", "integer"):
        return
    below = node.low is not None and (value <= node.low if node.open_low else value < node.low)
    above = node.high is not None and (value >= node.high if node.open_high else value > node.high)
    if below or above:
        errors.append(f"{_name(path, ctx)} must be {_bounds(node)}, got {value!r} ({ctx.what})")


def _bounds(node: Value) -> str:
    if node.low is not None and node.high is not None:
        return (f"in {'(' if node.open_low else '['}{node.low:g}, {node.high:g}{')' if node.open_high else ']'}")
    if node.low is not None:
        if node.low == 0:
            return "positive" if node.open_low else "zero or positive"
        return f"{'>' if node.open_low else '>='} {node.low:g}"
    return f"{'<' if node.open_high else '<='} {node.high:g}"
