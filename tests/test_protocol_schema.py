"""The protocol loader: recursive merge of overrides, validation against the schemas, and the messages."""

import io

import pytest
from aiida import orm
from aiida.engine import run_get_node
from aiida.plugins import WorkflowFactory

from aiida_polymer.chem import equilibration, nemd, protocols
from aiida_polymer.chem.protocol_schema import SCHEMAS
from aiida_polymer.chem.protocols import ProtocolError, Section
from aiida_polymer.workchains import charges

FILES = {"equilibrate.yaml": equilibration.protocol, "nemd.yaml": nemd.protocol, "charges.yaml": charges.protocol}


def _keys(value, node, path=""):
    """Every (path, key) of ``value`` that its schema ``node`` does not know."""
    if not isinstance(value, dict) or not isinstance(node, Section):
        return []
    unknown = [f"{path}.{k}".lstrip(".") for k in value if k not in node.fields]
    return unknown + [u for k, v in value.items() if k in node.fields for u in _keys(v, node.fields[k], f"{path}.{k}")]


# ---------------------------------------------------------------------------------------------------------------
# the shipped protocols
# ---------------------------------------------------------------------------------------------------------------


def test_every_protocol_file_has_every_protocol():
    for filename in SCHEMAS:
        assert set(protocols.load(filename)["protocols"]) == set(protocols.NAMES), filename


@pytest.mark.parametrize("filename", FILES)
def test_every_shipped_key_is_in_the_schema_and_every_protocol_validates(filename):
    data = protocols.load(filename)
    shared = {k: v for k, v in data.items() if k not in protocols.FILE_KEYS}
    assert data["default_protocol"] in data["protocols"]
    for name, settings in data["protocols"].items():
        assert _keys({**shared, **settings}, SCHEMAS[filename]) == [], (filename, name)
        protocols.validate({**shared, **settings}, SCHEMAS[filename], filename)
        assert FILES[filename](name) == {**shared, **settings}
        assert protocols.check(FILES[filename](name), filename) is None


# ---------------------------------------------------------------------------------------------------------------
# merging
# ---------------------------------------------------------------------------------------------------------------


def test_merge_is_recursive_and_leaves_the_base_alone():
    base = {"a": {"b": {"c": 1, "d": 2}, "e": 3}, "f": [1, 2], "g": {"h": 1}}
    merged = protocols.merge(base, {"a": {"b": {"c": 10}}, "f": [3], "g": None})
    assert merged == {"a": {"b": {"c": 10, "d": 2}, "e": 3}, "f": [3], "g": None}
    assert base["a"]["b"]["c"] == 1 and base["g"] == {"h": 1}


def test_overrides_keep_sibling_keys_at_every_depth():
    fast = equilibration.protocol("fast")
    settings = equilibration.protocol("fast", {"production": {"duration": 5},
                                               "convergence": {"thresholds": {"rg": 0.5}}})
    assert settings["production"] == {**fast["production"], "duration": 5}
    assert settings["convergence"] == {"window": fast["convergence"]["window"], "thresholds": {"rg": 0.5}}
    again = equilibration.protocol("fast", {"convergence": {"thresholds": {"density": None}}})
    assert again["convergence"]["thresholds"] == {"density": None}
    tc = nemd.protocol("fast", {"nemd": {"method": "langevin", "delta_t": 10.0}})
    assert tc["nemd"]["method"] == "langevin" and tc["nemd"]["swap_every"] == 100
    assert charges.protocol("fast", {"polarizability": None})["polarizability"] is None


# ---------------------------------------------------------------------------------------------------------------
# the messages
# ---------------------------------------------------------------------------------------------------------------


def _message(load, overrides, name="fast"):
    with pytest.raises(ProtocolError) as info:
        load(name, overrides)
    assert isinstance(info.value, ValueError)
    return str(info.value)


def test_unknown_key_names_its_path_and_the_close_one():
    assert _message(equilibration.protocol, {"production": {"duraton": 10}}) == (
        "unknown key 'production.duraton' in the equilibrate protocol; did you mean 'production.duration'?")
    assert _message(equilibration.protocol, {"cell": {"tacticty": "isotactic"}}) == (
        "unknown key 'cell.tacticty' in the equilibrate protocol; did you mean 'cell.tacticity'?")
    assert "did you mean 'convergence.thresholds.etotal'" in _message(
        equilibration.protocol, {"convergence": {"thresholds": {"etotl": 1e-3}}})
    assert "known keys here: description, " in _message(equilibration.protocol, {"zzz": 1})


def test_a_key_of_another_level_is_pointed_there():
    assert _message(nemd.protocol, {"method": "langevin"}) == (
        "'method' is not a key of the nemd protocol's top level; did you mean 'nemd.method'?")
    assert _message(nemd.protocol, {"md": {"seed": 3}}) == (
        "'seed' is not a key of section 'md' of the nemd protocol; did you mean 'nvt.seed' or 'nemd.seed'?")
    assert "did you mean 'nemd.axis'?" in _message(nemd.protocol, {"analysis": {"axis": "y"}})
    assert "did you mean 'conformers.seed'?" in _message(charges.protocol, {"seed": 1})


def test_wrong_types_and_values():
    assert _message(equilibration.protocol, {"production": {"duration": "ten"}}) == (
        "'production.duration' must be a number, got 'ten' (equilibrate protocol)")
    assert "'production.max_segments' must be an integer, got 2.5" in _message(
        equilibration.protocol, {"production": {"max_segments": 2.5}})
    assert "'md.shake' must be true or false, got 1" in _message(equilibration.protocol, {"md": {"shake": 1}})
    assert "'production' must be a mapping, got 5" in _message(equilibration.protocol, {"production": 5})
    assert "'replicate' must be a list of 3 values, got [3, 1]" in _message(nemd.protocol, {"replicate": [3, 1]})
    assert "'polarizability.scf_type' must be one of 'pk', " in _message(
        charges.protocol, {"polarizability": {"scf_type": "dff"}})
    assert charges.protocol("fast", {"esp": {"scf_type": "DF"}})  # psi4 options are case-insensitive
    message = _message(nemd.protocol, {"nemd": {"method": "langevn"}})
    assert message == ("'nemd.method' must be one of 'muller_plathe', 'langevin', got 'langevn' (nemd protocol); "
                       "did you mean 'langevin'?")
    assert "did you mean 'isotactic'?" in _message(equilibration.protocol, {"cell": {"tacticity": "isotatic"}})
    assert "'cell.copolymer' must be one of" in _message(equilibration.protocol, {"cell": {"copolymer": "graft"}})
    assert "'larsen_21_step[0][0]' must be one of 'nvt', 'npt', got 'nvp'" in _message(
        equilibration.protocol, {"larsen_21_step": [["nvp", "t_max", None, 50]]})
    assert "'nemd.n_slabs' must be >= 4, got 2" in _message(nemd.protocol, {"nemd": {"n_slabs": 2}})


@pytest.mark.parametrize(("load", "overrides", "path"), [
    (equilibration.protocol, {"production": {"temperature": -300}}, "production.temperature"),
    (equilibration.protocol, {"production": {"pressure": 0}}, "production.pressure"),
    (equilibration.protocol, {"compression": {"p_final": -1}}, "compression.p_final"),
    (equilibration.protocol, {"packing": {"duration": 0}}, "packing.duration"),
    (equilibration.protocol, {"production": {"duration": -5.0}}, "production.duration"),
    (equilibration.protocol, {"md": {"timestep": 0.0}}, "md.timestep"),
    (nemd.protocol, {"temperature": 0.0}, "temperature"),
    (nemd.protocol, {"nemd": {"duration": -1}}, "nemd.duration"),
    (nemd.protocol, {"md": {"timestep": -0.5}}, "md.timestep"),
])
def test_unphysical_values_name_the_key(load, overrides, path):
    assert f"'{path}' must be positive, got " in _message(load, overrides)


def test_every_problem_is_listed_and_a_bad_protocol_name_is_refused():
    message = _message(equilibration.protocol, {"production": {"duraton": 1, "temperature": "hot"}, "md": None})
    assert len(message.splitlines()) == 3
    assert "did you mean 'fast'?" in _message(nemd.protocol, None, name="fsat")
    assert "must be a mapping" in _message(nemd.protocol, ["nemd"])


def test_a_missing_key_of_a_hand_built_dict():
    settings = equilibration.protocol("fast")
    del settings["production"]["duration"]
    assert protocols.check(settings, "equilibrate.yaml") == (
        "missing key 'production.duration' in the equilibrate protocol")


# ---------------------------------------------------------------------------------------------------------------
# the workchains: at get_builder_from_protocol time and in the input ports
# ---------------------------------------------------------------------------------------------------------------


@pytest.fixture
def codes(aiida_code_installed):
    code = aiida_code_installed(label="any", filepath_executable="/bin/true")
    return dict.fromkeys(("lmp", "psi4", "antechamber", "parmchk2"), code)


def test_properties_overrides_are_checked_at_every_level(codes):
    properties = WorkflowFactory("polymer.properties")
    with pytest.raises(ProtocolError, match=r"^unknown key 'equlibrate' in the properties overrides; "
                                            r"did you mean 'equilibrate'( or 'replicates')?\?$"):
        properties.get_builder_from_protocol(codes, "*CC*", "fast", {"equlibrate": {}})
    with pytest.raises(ProtocolError, match=r"^'replicates' must be >= 1, got 0 \(properties overrides\)$"):
        properties.get_builder_from_protocol(codes, "*CC*", "fast", {"replicates": 0})
    with pytest.raises(ProtocolError, match=r"^overrides\['nemd'\]: 'method' is not a key of the nemd protocol's "
                                            r"top level; did you mean 'nemd.method'\?$"):
        properties.get_builder_from_protocol(codes, "*CC*", "fast", {"nemd": {"method": "langevin"}})
    with pytest.raises(ProtocolError, match=r"overrides\['equilibrate'\]: unknown key 'production.duraton'"):
        properties.get_builder_from_protocol(codes, "*CC*", "fast", {"equilibrate": {"production": {"duraton": 1}}})
    with pytest.raises(ProtocolError, match=r"overrides\['charges'\]: unknown key 'grid.densty'"):
        properties.get_builder_from_protocol(codes, "*CC*", "fast", {"charges": {"grid": {"densty": 1}}})
    builder = properties.get_builder_from_protocol(codes, "*CC*", "fast", {"nemd": {"nemd": {"method": "langevin"}}},
                                                   temperature=350.0)
    assert builder.nemd.protocol["nemd"]["method"] == "langevin" and builder.nemd.protocol["temperature"] == 350.0
    assert builder.equilibrate.protocol["production"]["temperature"] == 350.0


def test_a_bad_protocol_dict_is_refused_by_the_ports(codes):
    lmp = codes["lmp"]
    equilibrate = WorkflowFactory("polymer.equilibrate")
    builder = equilibrate.get_builder_from_protocol(lmp, "*CC*", "fast", antechamber=lmp, parmchk2=lmp)
    with pytest.raises(ProtocolError):
        equilibrate.get_builder_from_protocol(lmp, "*CC*", "fast", {"cell": {"n_chain": 3}}, lmp, lmp)
    settings = builder.protocol.get_dict()
    settings["production"]["duraton"] = 10
    message = r"unknown key 'production.duraton' in the equilibrate protocol; did you mean 'production.duration'\?"
    with pytest.raises(ValueError, match=message):  # the builder refuses it
        builder.protocol = orm.Dict(settings)
    inputs = {**builder._inputs(prune=True), "protocol": orm.Dict(settings)}
    with pytest.raises(ValueError, match=message):  # and so does the launch
        run_get_node(equilibrate, **inputs)

    conductivity = WorkflowFactory("polymer.thermal_conductivity")
    final_data = orm.SinglefileData(io.BytesIO(b"x"), filename="final.data")
    builder = conductivity.get_builder_from_protocol(lmp, final_data=final_data, protocol="fast")
    inputs = {**builder._inputs(prune=True), "protocol": orm.Dict({**builder.protocol.get_dict(), "method": "x"})}
    with pytest.raises(ValueError, match=r"'method' is not a key of the nemd protocol's top level; "
                                         r"did you mean 'nemd.method'\?"):
        run_get_node(conductivity, **inputs)

    parameters = {**charges.protocol("fast"), "grid": {"density": -1.0}}
    with pytest.raises(ValueError, match=r"'grid.density' must be positive, got -1.0"):
        run_get_node(charges.ChargesWorkChain, smiles=orm.Str("*CC*"), code=codes["psi4"],
                     parameters=orm.Dict(parameters))
