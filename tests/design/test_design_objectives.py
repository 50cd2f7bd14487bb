"""Parsing of design objectives and constraints, and their JSON round trip."""

import json

import pytest

from aiida_polymer.design.objectives import (
    Constraint,
    Objective,
    check_objectives,
    parse_constraint,
    parse_objective,
)


def test_parse_objectives():
    assert parse_objective("max:thermal_conductivity") == Objective("thermal_conductivity", "max")
    assert parse_objective(" MIN:density ") == Objective("density", "min")
    o = parse_objective("window:density:1.0:1.2")
    assert (o.goal, o.low, o.high) == ("window", 1.0, 1.2)
    assert o.distance(1.1) == 0.0 and o.distance(0.9) == pytest.approx(0.1) and o.distance(1.5) == pytest.approx(0.3)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("maximise:density", "is not one of"),
        ("max", "write max:PROPERTY"),
        ("max:", "property name is empty"),
        ("max:1density", "is not a property name"),
        ("window:density:1.2", "window:PROPERTY:LOW:HIGH"),
        ("window:density:a:1.2", "low bound 'a' is not a number"),
        ("window:density:1.2:1.0", "low bound must be below"),
        ("window:density:1.0:inf", "must be finite"),
    ],
)
def test_objective_errors(text, message):
    with pytest.raises(ValueError, match=message):
        parse_objective(text)


def test_parse_constraints_and_holds():
    c = parse_constraint("density>1.0")
    assert c == Constraint("density", ">", 1.0)
    assert c.holds(1.01) and not c.holds(1.0) and not c.holds(float("nan"))
    d = parse_constraint("refractive_index <= 1.6")
    assert (d.property, d.op, d.value) == ("refractive_index", "<=", 1.6)
    assert d.holds(1.6) and not d.holds(1.61)
    assert parse_constraint("x>=2").holds(2.0) and not parse_constraint("x<2").holds(2.0)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("density", "write PROPERTY>VALUE"),
        ("density=1", "equality is not a constraint"),
        ("density>", "value after '>' is missing"),
        ("density>abc", "value 'abc' is not a number"),
        (">1.0", "property name is empty"),
        ("1<density<2", "is not a property name|only one comparison"),
    ],
)
def test_constraint_errors(text, message):
    with pytest.raises(ValueError, match=message):
        parse_constraint(text)


def test_round_trip_json():
    for o in (parse_objective("max:kappa"), parse_objective("window:density:1:1.2")):
        assert Objective.from_dict(json.loads(json.dumps(o.to_dict()))) == o
    c = parse_constraint("density>=1.05")
    assert Constraint.from_dict(json.loads(json.dumps(c.to_dict()))) == c


def test_objective_combinations():
    check_objectives([parse_objective("max:a"), parse_objective("min:b")])
    with pytest.raises(ValueError, match="one objective or two"):
        check_objectives([])
    with pytest.raises(ValueError, match="not a window"):
        check_objectives([parse_objective("max:a"), parse_objective("window:b:0:1")])
    with pytest.raises(ValueError, match="same property"):
        check_objectives([parse_objective("max:a"), parse_objective("min:a")])
    with pytest.raises(ValueError, match="needs low < high"):
        Objective("a", "window", 2.0, 1.0)
