"""``trialsim schema``: the scenario files' JSON Schema for editors (docs/editors.md).

The shipped schemas (``configs/schema/*.schema.json``) are what the command generates now,
every shipped config names its schema in its first line and is valid against it, a typo is
flagged, the fields carry their ``#:`` documentation and units, and ``--strict`` keeps what
the editor schema relaxes. No JSON Schema validator is a dependency, so :func:`problems`
below checks the keywords the schemas use (``$ref``, ``anyOf``/``oneOf``, ``properties``,
``additionalProperties``, ``propertyNames``, ``required``, ``items``/``prefixItems``,
``type``, ``enum``/``const``, bounds, ``pattern``).
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Annotated

import pytest
from pydantic import Field

from trialsim.cli.main import main
from trialsim.cli.schema import FAMILY_NAMES, family
from trialsim.config.json_schema import (
    FAMILIES,
    documentation_coverage,
    family_schema,
    field_docs,
    models_in,
    schema_text,
    unit_of,
)
from trialsim.config.scenario import Design, Model, Scenario, load_scenario, read_yaml_file
from trialsim.config.skin import is_skin_file, load_skin_scenario

ROOT = Path(__file__).resolve().parents[2]
CONFIGS = ROOT / "configs"
SCHEMAS = CONFIGS / "schema"
SHIPPED = sorted(CONFIGS.glob("*.yaml")) + sorted((CONFIGS / "experiments").glob("*.yaml"))
MODELINE = re.compile(r"# yaml-language-server: \$schema=(\S+)\n")


# --------------------------------------------------------------------------- a small validator

_TYPES = {
    "object": lambda v: isinstance(v, dict),
    "array": lambda v: isinstance(v, list),
    "string": lambda v: isinstance(v, str),
    "boolean": lambda v: isinstance(v, bool),
    "null": lambda v: v is None,
    "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
    "number": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
}


def _resolve(ref: str, root: dict) -> dict:
    assert ref.startswith("#/"), f"only local references are expected, got {ref}"
    node = root
    for part in ref[2:].split("/"):
        node = node[part]
    return node


def _scalar_problems(value, schema: dict, where: str) -> list[str]:
    out = []
    if "const" in schema and value != schema["const"]:
        out.append(f"{where}: {value!r} is not {schema['const']!r}")
    if "enum" in schema and value not in schema["enum"]:
        out.append(f"{where}: {value!r} is not one of {schema['enum']}")
    if _TYPES["number"](value):
        for key, ok in (("minimum", lambda b: value >= b), ("maximum", lambda b: value <= b),
                        ("exclusiveMinimum", lambda b: value > b),
                        ("exclusiveMaximum", lambda b: value < b)):
            if key in schema and not ok(schema[key]):
                out.append(f"{where}: {value!r} breaks {key} {schema[key]}")
    if isinstance(value, str):
        if "pattern" in schema and not re.search(schema["pattern"], value):
            out.append(f"{where}: {value!r} does not match {schema['pattern']}")
        if len(value) < schema.get("minLength", 0):
            out.append(f"{where}: {value!r} is too short")
    return out


def _object_problems(value: dict, schema: dict, root: dict, where: str) -> list[str]:
    out = [f"{where}.{k}: required field is missing" for k in schema.get("required", ())
           if k not in value]
    props = schema.get("properties", {})
    extra = schema.get("additionalProperties", True)
    for key, item in value.items():
        at = f"{where}.{key}" if where else str(key)
        if "propertyNames" in schema:
            out += problems(key, schema["propertyNames"], root, f"{at} (key)")
        if key in props:
            out += problems(item, props[key], root, at)
        elif extra is False:
            out.append(f"{at}: unknown key")
        elif isinstance(extra, dict):
            out += problems(item, extra, root, at)
    return out


def _array_problems(value: list, schema: dict, root: dict, where: str) -> list[str]:
    out = []
    if not schema.get("minItems", 0) <= len(value) <= schema.get("maxItems", len(value)):
        out.append(f"{where}: {len(value)} entries, outside "
                   f"[{schema.get('minItems', 0)}, {schema.get('maxItems', 'any')}]")
    prefix = schema.get("prefixItems", [])
    for i, item in enumerate(value):
        sub = prefix[i] if i < len(prefix) else schema.get("items")
        if sub is not None:
            out += problems(item, sub, root, f"{where}[{i}]")
    return out


def problems(value, schema: dict, root: dict, where: str = "") -> list[str]:
    """What is wrong with ``value`` under ``schema`` (empty: valid), each naming its path."""
    out: list[str] = []
    if "$ref" in schema:
        out += problems(value, _resolve(schema["$ref"], root), root, where)
    for key in ("anyOf", "oneOf"):
        if key in schema:
            found = [problems(value, branch, root, where) for branch in schema[key]]
            matching = sum(not p for p in found)
            if key == "oneOf" and matching > 1:
                out.append(f"{where}: matches {matching} branches of oneOf")
            if not matching:
                out += min(found, key=len)
    if "type" in schema and not _TYPES[schema["type"]](value):
        return out + [f"{where}: {value!r} is not of type {schema['type']}"]
    out += _scalar_problems(value, schema, where)
    if isinstance(value, dict):
        out += _object_problems(value, schema, root, where)
    if isinstance(value, list):
        out += _array_problems(value, schema, root, where)
    return out


def editor_schema(name: str) -> dict:
    return json.loads((SCHEMAS / f"{name}.schema.json").read_text(encoding="utf-8"))


def test_the_validator_finds_what_it_checks():
    root = {"type": "object", "additionalProperties": False, "required": ["a"],
            "properties": {"a": {"anyOf": [{"$ref": "#/$defs/A"}, {"type": "null"}]}},
            "$defs": {"A": {"type": "integer", "minimum": 1}}}
    assert problems({"a": 2}, root, root) == []
    assert problems({"a": None}, root, root) == []
    assert problems({"a": 0}, root, root) == ["a: 0 breaks minimum 1"]
    assert problems({"a": True}, root, root) == ["a: True is not of type integer"]
    assert problems({"b": 1}, root, root) == [".a: required field is missing", "b: unknown key"]


# --------------------------------------------------------------------------- shipped schemas


@pytest.mark.parametrize("name", FAMILY_NAMES)
def test_shipped_schemas_are_what_the_command_generates(name):
    path = SCHEMAS / f"{name}.schema.json"
    shipped = path.read_text(encoding="utf-8") if path.exists() else None
    assert shipped == schema_text(family_schema(family(name))), (
        f"{path.relative_to(ROOT)} is out of date with the models (a field, its #: comment, "
        f"a bound or a default changed): regenerate it with\n"
        f"    trialsim schema --family {name} --out configs/schema/{name}.schema.json")


def _extended(path: Path) -> list[Path]:
    """The files ``path`` extends, nearest first."""
    chain = []
    data = read_yaml_file(path)
    while isinstance(data, dict) and isinstance(data.get("extends"), str):
        path = (path.parent / data["extends"]).resolve()
        chain.append(path)
        data = read_yaml_file(path)
    return chain


#: the files that skin scenarios extend: partial skin scenarios (configs/skin.yaml)
SKIN_BASES = {p for f in SHIPPED if is_skin_file(f) for p in _extended(f)}


def family_of(path: Path) -> str:
    """Which loader reads a shipped file: the calibration spec's (``trialsim calibrate``),
    the skin scenarios' (``design.type``, or a file they extend), or the SLE scenarios'."""
    data = read_yaml_file(path)
    if "targets" in data and "parameters" in data:
        return "calibration"
    return "skin" if is_skin_file(path) or path.resolve() in SKIN_BASES else "scenario"


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: str(p.relative_to(CONFIGS)))
def test_shipped_configs_name_their_schema(path):
    first = path.read_text(encoding="utf-8").splitlines(keepends=True)[0]
    match = MODELINE.fullmatch(first)
    assert match, f"{path.name}: the first line is not the yaml-language-server modeline"
    target = (path.parent / match.group(1)).resolve()
    assert target == (SCHEMAS / f"{family_of(path)}.schema.json").resolve()
    assert target.is_file()


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: str(p.relative_to(CONFIGS)))
def test_shipped_configs_are_valid_against_their_editor_schema(path):
    schema = editor_schema(family_of(path))
    assert problems(read_yaml_file(path), schema, schema) == []


def test_shipped_complete_configs_still_load():
    for path in SHIPPED:
        kind = family_of(path)
        if kind == "skin" and is_skin_file(path):
            assert load_skin_scenario(path).name
        elif kind == "scenario" and "name" in read_yaml_file(path):
            assert load_scenario(path).name


def bliss52() -> dict:
    return read_yaml_file(CONFIGS / "bliss52.yaml")


@pytest.mark.parametrize("where, key", [
    ("design", "sample_sise"), ("", "sead"), ("design.arms.bel10", "dose_mg_per_kg"),
    ("population.race", "whte"), ("design", "extends"),
])
def test_a_typo_is_flagged(where, key):
    data = bliss52()
    node = data
    for part in filter(None, where.split(".")):
        node = node.setdefault(part, {})  # bliss52.yaml lists no arms: its parent does
    node[key] = 1
    schema = editor_schema("scenario")
    path = f"{where}.{key}" if where else key
    assert problems(data, schema, schema) == [f"{path}: unknown key"]


def test_loader_keys_are_allowed_only_where_the_loader_reads_them():
    scenario, skin = editor_schema("scenario"), editor_schema("skin")
    ok = {"extends": "model.yaml", "skin": {"model_from": "skin.yaml", "subtypes": {"acle": 1}}}
    assert problems(ok, scenario, scenario) == []
    assert problems({"model_from": "skin.yaml"}, scenario, scenario) == ["model_from: unknown key"]
    assert problems({"drug_from": "model.yaml"}, scenario, scenario) == ["drug_from: unknown key"]
    assert problems({"extends": "skin.yaml", "drug_from": "model.yaml"}, skin, skin) == []
    assert problems({"skin": {"model_from": "x.yaml"}}, skin, skin) == [
        "skin.model_from: unknown key"]


def test_a_wrong_value_is_flagged():
    data = bliss52()
    data["design"]["sample_size"] = "many"
    data["design"]["stratify_by"] = ["sledai", "colour"]
    schema = editor_schema("scenario")
    found = problems(data, schema, schema)
    assert found == ["design.sample_size: 'many' is not of type integer",
                     "design.stratify_by[1]: 'colour' is not one of " +
                     str(schema["$defs"]["Design"]["properties"]["stratify_by"]["items"]["enum"])]


def test_a_partial_skin_design_matches_the_union():
    """Nothing is required in the editor schema, so a partial design (no ``type``) matches
    both designs: the editor schema has anyOf where the strict one has oneOf."""
    editor, strict = family_schema(FAMILIES["skin"]), family_schema(FAMILIES["skin"], True)
    partial = {"design": {"sample_size": 80}}
    assert problems(partial, editor, editor) == []
    assert "oneOf" in strict["properties"]["design"]
    assert "oneOf" not in json.dumps(editor)


# --------------------------------------------------------------------------- documentation


def _comment_above(field: str, source: Path) -> str:
    """The ``#:`` lines right above ``    <field>:`` in a source file, read as plain text."""
    lines = source.read_text(encoding="utf-8").splitlines()
    at = next(i for i, line in enumerate(lines) if line.startswith(f"    {field}:"))
    above = []
    while lines[at - 1].strip().startswith("#:"):
        at -= 1
        above.insert(0, lines[at].strip()[2:].strip())
    return " ".join(above)


def test_a_documented_field_has_its_comment_and_unit():
    schema = family_schema(FAMILIES["scenario"])
    design = schema["$defs"]["Design"]
    text = _comment_above("endpoint_weeks", ROOT / "trialsim/config/scenario.py")
    assert text.startswith("weeks at which endpoints are evaluated")
    endpoint_weeks = design["properties"]["endpoint_weeks"]
    assert endpoint_weeks["description"] == f"{text}\n\nUnit: weeks."
    assert endpoint_weeks["x-unit"] == "weeks"
    duration = design["properties"]["duration_weeks"]
    assert duration["x-unit"] == "weeks" and "Unit: weeks." in duration["description"]
    assert design["description"] == Design.__doc__.strip()


def test_every_documented_field_carries_its_comment():
    for fam in FAMILIES.values():
        schema = family_schema(fam)
        for cls in models_in(fam.model):
            block = schema if cls is fam.model else schema["$defs"][cls.__name__]
            for name, text in field_docs(cls).items():
                assert block["properties"][name]["description"].startswith(text), (cls, name)


class _Base(Model):
    #: documented in the base
    a: int = 0
    #: one line
    #: and another
    b: int = 0


class _Child(_Base):
    b: int = 1  # noqa: E501

    #: not this one: a blank line follows

    c: int = 0
    # a plain comment
    #: the second line only
    d: Annotated[int, Field(ge=0)] = 0  # and a trailing note
    e_weeks: int = 0


def test_field_comments_are_read_as_sphinx_reads_them():
    assert field_docs(_Child) == {"a": "documented in the base", "b": "one line and another",
                                  "d": "the second line only and a trailing note"}
    documented, undocumented = documentation_coverage(_Child)
    assert documented == ["_Child.a", "_Child.b", "_Child.d"]
    assert undocumented == ["_Child.c", "_Child.e_weeks"]


@pytest.mark.parametrize("name, unit", [
    ("duration_weeks", "weeks"), ("primary_week", "weeks"), ("scarring_per_week", "per week"),
    ("dose_mg_kg", "mg/kg"), ("dose_mg", "mg"), ("mean_dose_mg", "mg/day"),
    ("min_months_on_drug", "months"), ("dropout_per_year", "probability within a year"),
    ("age", "years"),
    ("max_proteinuria_g", "g/24h"), ("ec50_ug_ml", "µg/mL"), ("central_l", "L"),
    ("placebo_per_100py", "events per 100 patient-years"), ("sample_size", None),
    ("proteinuria_log_sd", None),
])
def test_units_come_from_field_names(name, unit):
    assert unit_of(name) == unit


def test_units_agree_with_the_comments_that_name_one():
    """A field with a unit by its name whose comment names a unit has that one."""
    for fam in FAMILIES.values():
        for cls in models_in(fam.model):
            for name, text in field_docs(cls).items():
                for unit in ("mg/day", "mg/kg", "g/24h"):
                    if unit in text and unit_of(name) is not None:
                        assert unit_of(name) == unit, (cls.__name__, name, text)


# --------------------------------------------------------------------------- editor and strict


def _count(node, key, test) -> int:
    """How many schemas have ``key`` with a value that passes ``test`` (defaults skipped)."""
    if isinstance(node, list):
        return sum(_count(x, key, test) for x in node)
    if not isinstance(node, dict):
        return 0
    return (key in node and test(node[key])) + sum(
        _count(v, key, test) for k, v in node.items() if k != "default")


@pytest.mark.parametrize("name", list(FAMILIES))
def test_strict_keeps_required_and_the_editor_schema_relaxes_it(name):
    editor, strict = family_schema(FAMILIES[name]), family_schema(FAMILIES[name], strict=True)
    is_list = lambda v: isinstance(v, list)  # noqa: E731
    assert _count(editor, "required", is_list) == 0
    assert _count(strict, "required", is_list) > 5
    assert {"name", "seed", "design"} <= set(strict["required"])
    assert "extends" in editor["properties"] and "extends" not in strict["properties"]
    # unknown keys stay errors in every block of both: typos are flagged
    models = len(models_in(FAMILIES[name].model))
    assert _count(editor, "additionalProperties", lambda v: v is False) == models
    assert _count(strict, "additionalProperties", lambda v: v is False) == models
    assert editor["$schema"] == strict["$schema"] == (
        "https://json-schema.org/draft/2020-12/schema")
    assert editor["$id"] != strict["$id"] and "trialsim" in editor["title"]


def test_strict_design_requires_its_size():
    strict = family_schema(FAMILIES["scenario"], strict=True)
    assert "sample_size" in strict["$defs"]["Design"]["required"]
    assert "model_from" not in strict["$defs"]["TrialSkin"]["properties"]
    schema = editor_schema("scenario")
    assert "model_from" in schema["$defs"]["TrialSkin"]["properties"]
    data = read_yaml_file(CONFIGS / "dose_finding.yaml")  # partial: valid for the editor
    assert problems(data, schema, schema) == []
    assert ".population: required field is missing" in problems(data, strict, strict)


def test_the_calibration_spec_is_complete_so_its_editor_schema_requires():
    schema = editor_schema("calibration")
    assert set(schema["required"]) == {"scenarios", "parameters", "targets"}
    assert "extends" not in schema["properties"]


def test_schema_covers_every_scenario_field():
    schema = family_schema(FAMILIES["scenario"], strict=True)
    assert set(schema["properties"]) == set(Scenario.model_fields)


# --------------------------------------------------------------------------- command line


def test_the_command_prints_the_editor_schema(capsys):
    assert main(["schema"]) == 0
    out = capsys.readouterr().out
    assert json.loads(out) == family_schema(FAMILIES["scenario"])
    assert out == schema_text(family_schema(FAMILIES["scenario"]))


def test_the_command_writes_out(tmp_path, capsys):
    out = tmp_path / "sub" / "skin.json"
    assert main(["schema", "--family", "skin", "--strict", "--out", str(out)]) == 0
    assert capsys.readouterr().out == ""
    assert json.loads(out.read_text(encoding="utf-8")) == family_schema(FAMILIES["skin"], True)
    assert [p.name for p in out.parent.iterdir()] == ["skin.json"]  # no temporary left


def test_a_bad_family_is_an_argparse_error(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["schema", "--family", "skn"])
    assert exc.value.code == 2
    assert "invalid choice: 'skn'" in capsys.readouterr().err


@pytest.mark.parametrize("out", ["", ".", "summary.csv"])
def test_a_bad_out_is_a_user_error(out, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(["schema", "--out", out]) == 2
    assert "--out" in capsys.readouterr().err


def test_named_entries_are_flagged_as_the_loader_flags_them(bliss76):
    """Endpoint and subgroup-factor typos are caught in the editor, and the editor's names
    are exactly those the loader accepts."""
    from trialsim.config.json_schema import NAMED_ENTRIES
    from trialsim.config.scenario import ScenarioError, with_overrides

    data = bliss52()
    data["analysis"] = {"endpoints": ["sri44"],
                        "subgroups": {"factors": ["raec"], "endpoints": ["sri4"]}}
    schema = editor_schema("scenario")
    found = problems(data, schema, schema)
    assert [f.split(":")[0] for f in found] == ["analysis.endpoints[0]",
                                                "analysis.subgroups.factors[0]"]
    paths = {("Analysis", "endpoints"): "analysis.endpoints",
             ("Subgroups", "endpoints"): None,  # a subset of analysis.endpoints
             ("Subgroups", "factors"): "analysis.subgroups.factors"}
    for key, names in NAMED_ENTRIES.items():
        if paths[key] is None:
            continue
        with pytest.raises(ScenarioError):
            with_overrides(bliss76, {paths[key]: ["not_a_name"]})
        if key == ("Subgroups", "factors"):
            with_overrides(bliss76, {paths[key]: list(names)})
