"""JSON Schema of the scenario files, for editors (``trialsim schema``, docs/editors.md).

The schema is built from the pydantic models that validate the files
(:class:`~trialsim.config.scenario.Scenario`, :class:`~trialsim.config.skin.SkinScenario`),
with the documentation the models already carry: a class's docstring describes its
definition, and the Sphinx-style ``#:`` comment lines directly above a field (and a
trailing ``# ...`` comment on its line) describe the field. Pydantic does not read those
comments, so they are read here from the source (:func:`field_docs`); the text lives in one
place, the model. A field's unit comes from its name (:data:`UNITS`: ``duration_weeks`` is in
weeks) and is added to its description and as the keyword ``x-unit``.

Two variants:

* the **editor** schema (default): the files a user edits may be partial (``extends:``
  merges a file over another, so a required field may come from the parent; the shared
  ``configs/model.yaml`` has no ``name`` or ``design``), so nothing is required, and the
  keys the loader consumes before validation (``extends``, ``skin.model_from``,
  ``drug_from``) are allowed. Unknown keys stay errors (``additionalProperties: false``),
  so typos are flagged.
* the **strict** schema (``--strict``): a complete, resolved scenario as pydantic validates
  it (required fields kept, no loader keys).

Neither checks the cross-field rules (endpoint weeks must be visit weeks, shares that sum
to 1, arms named in comparisons, ...): ``trialsim run`` does, after merging.
"""

from __future__ import annotations

import ast
import functools
import inspect
import io
import json
import tokenize
import typing
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import GenerateJsonSchema, JsonSchemaValue, model_json_schema

from trialsim.config.scenario import Scenario, TrialSkin
from trialsim.config.skin import SkinScenario
from trialsim.config.vocab import ENDPOINT_NAMES, SUBGROUP_FACTORS

#: the JSON Schema dialect of the output
SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"

#: units by field name: a key with a leading ``_`` matches the names that end with it, a key
#: without matches that whole name; the longest matching key wins (``dose_mg_kg``: mg/kg)
UNITS: dict[str, str] = {
    "_weeks": "weeks",
    "_week": "weeks",  # a week of the study (primary_week, steroid_limit_week)
    "week": "weeks",
    "_per_week": "per week",
    "_days": "days",
    "_per_day": "per day",
    "_months": "months",
    "_month": "months",
    "_months_on_drug": "months",
    "_per_month": "per month",
    "_years": "years",
    "_per_year": "per year",
    "dropout_per_year": "probability within a year",  # a share, not a rate
    "lost_per_year": "probability within a year",
    "age": "years",
    "_mg_kg": "mg/kg",
    "dose_mg": "mg",  # an arm's fixed dose
    "_mg": "mg/day",  # every other *_mg field is a prednisone dose
    "_kg": "kg",
    "_g": "g/24h",  # proteinuria
    "_ml_day": "mL/day",
    "_l": "L",
    "_ug_ml": "µg/mL",
    "_per_100py": "events per 100 patient-years",
}

#: trailing comments that are tool pragmas, not documentation
_PRAGMAS = ("noqa", "type:", "pragma", "fmt:")


def unit_of(name: str) -> str | None:
    """The unit of a field by its name (:data:`UNITS`), or None."""
    keys = [k for k in UNITS if (name.endswith(k) if k.startswith("_") else name == k)]
    return UNITS[max(keys, key=len)] if keys else None


@functools.cache
def _parsed(filename: str) -> tuple[ast.Module, dict[int, str], frozenset[int]]:
    """A source file's syntax tree, its comments by line, and the lines that hold nothing
    but a comment (each file read once: the models of a module share it)."""
    with tokenize.open(filename) as f:
        source = f.read()
    lines = source.splitlines()
    comments: dict[int, str] = {}
    whole_line = set()
    for tok in tokenize.generate_tokens(io.StringIO(source).readline):
        if tok.type == tokenize.COMMENT:
            comments[tok.start[0]] = tok.string
            if not lines[tok.start[0] - 1][: tok.start[1]].strip():
                whole_line.add(tok.start[0])
    return ast.parse(source, filename), comments, frozenset(whole_line)


def _class_node(tree: ast.Module, qualname: str) -> ast.ClassDef | None:
    """The definition of the class ``qualname`` (``Outer.Inner`` for a nested one)."""
    body: list[ast.stmt] = tree.body
    node = None
    for name in qualname.split("."):
        node = next((n for n in body if isinstance(n, ast.ClassDef) and n.name == name), None)
        if node is None:
            return None
        body = node.body
    return node


@functools.cache
def _own_field_comments(cls: type) -> dict[str, str]:
    """The comments of the fields annotated in ``cls``'s own body: the ``#:`` lines right
    above each (no blank or other line between) and a trailing ``# ...`` on its lines."""
    tree, comments, whole_line = _parsed(inspect.getsourcefile(cls))
    node = _class_node(tree, cls.__qualname__)
    out: dict[str, str] = {}
    for field in node.body if node is not None else ():
        if not (isinstance(field, ast.AnnAssign) and isinstance(field.target, ast.Name)):
            continue
        above: list[str] = []
        line = field.lineno - 1
        while line in whole_line and comments[line].startswith("#:"):
            above.insert(0, comments[line][2:].strip())
            line -= 1
        trailing = [comments[n].lstrip("#:").strip()
                    for n in range(field.lineno, field.end_lineno + 1)
                    if n in comments and n not in whole_line]
        trailing = [t for t in trailing if t and not t.startswith(_PRAGMAS)]
        text = " ".join(above + trailing).strip()
        if text:
            out[field.target.id] = text
    return out


def field_docs(cls: type[BaseModel]) -> dict[str, str]:
    """Field name -> its documentation comment, for every field of ``cls`` that has one
    (an inherited field documented where it is defined; the nearest comment wins)."""
    docs: dict[str, str] = {}
    for klass in reversed(cls.__mro__):
        if isinstance(klass, type) and issubclass(klass, BaseModel) and klass is not BaseModel:
            try:
                docs.update(_own_field_comments(klass))
            except (OSError, TypeError):  # no source file (a class built at run time)
                continue
    return {name: text for name, text in docs.items() if name in cls.model_fields}


def _describe(prop: dict, name: str, doc: str | None) -> None:
    """Put a field's documentation and unit into its property schema."""
    unit = unit_of(name)
    text = doc or prop.get("description")
    if unit is not None:
        prop["x-unit"] = unit
        text = f"{text}\n\nUnit: {unit}." if text else f"Unit: {unit}."
    if text:
        prop["description"] = text


#: list fields whose entries a validator checks against a closed vocabulary (``vocab.py``):
#: (model, field) -> the allowed names, given to the editor as the entries' ``enum``
NAMED_ENTRIES: dict[tuple[str, str], tuple[str, ...]] = {
    ("Analysis", "endpoints"): ENDPOINT_NAMES,
    ("Subgroups", "endpoints"): ENDPOINT_NAMES,
    ("Subgroups", "factors"): SUBGROUP_FACTORS,
}


def _name_entries(prop: dict, names: tuple[str, ...]) -> None:
    """Give the string entries of a list property (or of its list branch) an ``enum``."""
    for branch in [prop, *prop.get("anyOf", [])]:
        items = branch.get("items") if branch.get("type") == "array" else None
        if isinstance(items, dict) and items.get("type") == "string":
            items["enum"] = list(names)


class _DocumentedSchema(GenerateJsonSchema):
    """Pydantic's JSON Schema, each model property described by its field's comment (and
    the entries of :data:`NAMED_ENTRIES` restricted to their names)."""

    def model_schema(self, schema: Any) -> JsonSchemaValue:
        json_schema = super().model_schema(schema)
        docs = field_docs(schema["cls"])
        for name, prop in json_schema.get("properties", {}).items():
            _describe(prop, name, docs.get(name))
            names = NAMED_ENTRIES.get((schema["cls"].__name__, name))
            if names is not None:
                _name_entries(prop, names)
        return json_schema


def models_in(model: type[BaseModel]) -> list[type[BaseModel]]:
    """``model`` and every model class its fields use, each once, in the order found."""
    found: list[type[BaseModel]] = []

    def visit(tp: Any) -> None:
        if isinstance(tp, type) and issubclass(tp, BaseModel):
            if tp not in found:
                found.append(tp)
                for f in tp.model_fields.values():
                    visit(f.annotation)
            return
        for arg in typing.get_args(tp):
            visit(arg)

    visit(model)
    return found


def documentation_coverage(model: type[BaseModel]) -> tuple[list[str], list[str]]:
    """The fields (``Class.field``) of ``model`` and the models it uses with and without a
    documentation comment."""
    documented, undocumented = [], []
    for cls in models_in(model):
        docs = field_docs(cls)
        for name in cls.model_fields:
            (documented if name in docs else undocumented).append(f"{cls.__name__}.{name}")
    return documented, undocumented


@dataclass(frozen=True)
class LoaderKey:
    """A key the loader consumes before validation (so not a model field), in the block
    validated by ``model`` (the family's root model for a top-level key)."""

    model: type[BaseModel]
    name: str
    description: str


@dataclass(frozen=True)
class Family:
    """A kind of YAML file and the model that validates it.

    Attributes
    ----------
    name : str
        ``--family`` of ``trialsim schema``; the shipped schema is
        ``configs/schema/<name>.schema.json``.
    model : type[BaseModel]
        The model that validates a complete, resolved file.
    title : str
        What the file is, for the schema's title.
    loader_keys : tuple of LoaderKey
        Keys the loader consumes before validation (allowed by the editor schema).
    partial : bool
        Whether files may be partial (``extends``): the editor schema then requires nothing.
    command : str
        The command that reads the files (and checks what the schema cannot).
    """

    name: str
    model: type[BaseModel]
    title: str
    loader_keys: tuple[LoaderKey, ...] = ()
    partial: bool = True
    command: str = "trialsim run"

    @property
    def file_name(self) -> str:
        return f"{self.name}.schema.json"


_EXTENDS = ("a YAML file (relative to this one) whose content this file is merged over, key "
            "by key; required fields may come from it. Consumed by the loader.")

#: the scenario families of ``trialsim schema``
FAMILIES: dict[str, Family] = {
    "scenario": Family("scenario", Scenario, "trialsim scenario file", (
        LoaderKey(Scenario, "extends", _EXTENDS),
        LoaderKey(TrialSkin, "model_from", (
            "a YAML file (relative to this one) whose skin block fills skin.model; keys of "
            "skin.model given here override parts of it. Consumed by the loader.")),
    )),
    "skin": Family("skin", SkinScenario, "trialsim skin scenario file", (
        LoaderKey(SkinScenario, "extends", _EXTENDS),
        LoaderKey(SkinScenario, "drug_from", (
            "the SLE model file (relative to this one; default model.yaml) whose drug block "
            "(PK, EC50) fills drug; keys of drug given here override parts of it. Consumed "
            "by the loader.")),
    )),
}


def _usage(family: Family, strict: bool) -> str:
    """The top-level description: what the schema is and how to use it."""
    if strict and family.loader_keys:
        keys = ", ".join(f"`{k.name}`" for k in family.loader_keys)
        what = ("Strict schema: a complete file as validated after the loader has resolved "
                f"{keys} (every required field present).")
    elif strict:
        what = "Strict schema: a complete file (every required field present)."
    elif family.partial:
        what = ("Editor schema: files may be partial (`extends` merges a file over another), "
                "so no field is required here; unknown keys are errors.")
    else:
        what = "Editor schema: unknown keys are errors."
    return (
        f"{what} Put `# yaml-language-server: $schema=<path to this file>` as the first "
        "line of a YAML file (VS Code with the Red Hat YAML extension, or any editor using "
        "yaml-language-server), or map files to it in the editor's settings (docs/editors.md). "
        "Rules that relate several fields (shares that sum to 1, names that must match, "
        f"...) are not checked here: `{family.command}` checks them"
        f"{' after merging' if family.partial else ''}. "
        + (f"Generated by `trialsim schema --family {family.name} --strict`." if strict else
           f"Regenerate with `trialsim schema --family {family.name} --out "
           f"configs/schema/{family.file_name}`.")
    )


def _definition(schema: dict, root: type[BaseModel], model: type[BaseModel]) -> dict:
    """The schema of ``model``'s block: the root, or its entry in ``$defs``."""
    if model is root:
        return schema
    found = schema.get("$defs", {}).get(model.__name__)
    if found is None or found.get("title") != model.__name__:
        raise LookupError(f"no definition of {model.__name__} in the schema of {root.__name__}")
    return found


#: keywords whose values are data (defaults, constants), not schemas
_DATA_KEYWORDS = ("default", "const", "enum", "examples")
#: keywords whose values map names (fields, definitions) to schemas
_SCHEMA_MAPS = ("properties", "$defs", "patternProperties", "dependentSchemas")


def _relax(node: Any) -> Any:
    """The editor's variant of a schema: no ``required`` lists, and ``oneOf`` as ``anyOf``
    (with nothing required, a partial block may match several branches of a union)."""
    if isinstance(node, list):
        return [_relax(x) for x in node]
    if not isinstance(node, dict):
        return node
    out = {}
    for key, value in node.items():
        if key in _SCHEMA_MAPS:  # the names are fields, not keywords: relax their schemas
            out[key] = {name: _relax(sub) for name, sub in value.items()}
        elif key in _DATA_KEYWORDS:
            out[key] = value
        elif key == "required" and isinstance(value, list):
            continue
        else:
            out["anyOf" if key == "oneOf" else key] = _relax(value)
    return out


def family_schema(family: Family, strict: bool = False) -> dict:
    """The JSON Schema of a family's files (the editor schema unless ``strict``).

    Parameters
    ----------
    family : Family
        One of :data:`FAMILIES` (or another model's family).
    strict : bool
        The schema of a complete, resolved file: required fields kept, no loader keys.

    Returns
    -------
    dict
        A draft 2020-12 JSON Schema.
    """
    body = model_json_schema(family.model, schema_generator=_DocumentedSchema)
    if not strict:
        for key in family.loader_keys:
            block = _definition(body, family.model, key.model)
            block.setdefault("properties", {})[key.name] = {
                "type": "string", "minLength": 1, "title": key.name.replace("_", " ").title(),
                "description": key.description}
        if family.partial:
            body = _relax(body)
    doc = body.pop("description", "")
    body.pop("title", None)
    variant = "strict" if strict else "editor"
    return {
        "$schema": SCHEMA_DIALECT,
        "$id": f"urn:trialsim:schema:{family.name}{':strict' if strict else ''}",
        "title": f"{family.title} ({variant} schema)",
        "description": f"{doc}\n\n{_usage(family, strict)}".strip(),
        **body,
    }


def schema_text(schema: dict) -> str:
    """A schema as the shipped files hold it: JSON, indented by 2, ASCII, ending in a newline."""
    return json.dumps(schema, indent=2, ensure_ascii=True) + "\n"
