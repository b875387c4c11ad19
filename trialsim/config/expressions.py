"""The subgroup expression language: baseline covariates, comparisons, ``and``/``or``/``not``.

A user-defined subgroup is one line of YAML, e.g. ``sledai >= 10 and serologically_active``
or ``race in ["black", "indigenous_american"] and disease_duration <= 5``. This module parses
such a line with Python's own parser (``ast``), accepts only the small grammar below and
compiles it to a postfix program of (opcode, argument) pairs that the compiled trial
evaluates patient by patient (``analysis.subgroups.eval_programs``). The predefined subgroups
(race, region, serology, SELENA-SLEDAI, disease duration, prednisone, immunosuppressants) are
written in the same language, so one evaluator decides every subgroup.

Grammar::

    expr    := expr "and" expr | expr "or" expr | "not" expr | "(" expr ")" | compare | name
    compare := operand (op operand)+          (chains: 5 <= sledai <= 9)
    op      := "<" | "<=" | ">" | ">=" | "==" | "!=" | "in" | "not in"
    operand := name | number | "true" | "false" | text (only against race or region)

A bare name is true when the covariate is non-zero (a yes/no covariate is 1 or 0). ``race``
and ``region`` take their levels as quoted text (``race == "black"``), with ``==``, ``!=``,
``in`` and ``not in`` only. A pure leaf module: no numpy, no numba, nothing of trialsim's but
the vocabulary.
"""

from __future__ import annotations

import ast
import math

from trialsim.config.vocab import RACES, REGIONS, SUBGROUP_COVARIATES

#: opcodes of a compiled program (postfix): push a covariate / a constant, then operators
PUSH_VAR, PUSH_CONST, LT, LE, GT, GE, EQ, NE, AND, OR, NOT, TRUTH = range(12)

#: categorical covariates and their levels (compared as codes: the index of the level)
CATEGORICAL = {"race": RACES, "region": REGIONS}

_COMPARE = {ast.Lt: LT, ast.LtE: LE, ast.Gt: GT, ast.GtE: GE, ast.Eq: EQ, ast.NotEq: NE}
_ALLOWED = (
    "covariates " + ", ".join(SUBGROUP_COVARIATES) + "; numbers; comparisons < <= > >= == != "
    "(race and region: == != in, not in, with quoted levels); and, or, not; parentheses"
)


#: the longest expression accepted (characters): a subgroup is one readable condition
MAX_LENGTH = 500


class ExpressionError(ValueError):
    """A subgroup expression outside the language (the message says what is allowed)."""


def compile_expression(text: str) -> list[tuple[int, float]]:
    """Compile a subgroup expression to its postfix program.

    Parameters
    ----------
    text : str
        The expression, e.g. ``"sledai >= 10 and serologically_active"``.

    Returns
    -------
    list of (int, float)
        (opcode, argument) pairs: the covariate's index into ``SUBGROUP_COVARIATES`` for
        ``PUSH_VAR``, the value for ``PUSH_CONST`` (a level's code for race and region),
        0 otherwise.

    Raises
    ------
    ExpressionError
        The text does not parse, or uses anything outside the grammar: the message names
        the offending part and lists what is allowed.
    """
    if not isinstance(text, str) or not text.strip():
        raise ExpressionError(f"an expression is needed (got {text!r}); allowed: {_ALLOWED}")
    if len(text) > MAX_LENGTH:
        raise ExpressionError(
            f"the expression is {len(text)} characters long, at most {MAX_LENGTH} are allowed; "
            f"allowed: {_ALLOWED}")
    if not text.isascii():
        raise ExpressionError(f"{text!r}: only ASCII characters are allowed; allowed: {_ALLOWED}")
    if "#" in text:
        raise ExpressionError(f"{text!r}: comments (#) are not part of the language; "
                              f"allowed: {_ALLOWED}")
    source = text.strip().replace("\n", " ")
    for word, py in (("true", "True"), ("false", "False")):
        source = _replace_word(source, word, py)
    try:
        tree = ast.parse(source, mode="eval")
        program: list[tuple[int, float]] = []
        _emit_bool(tree.body, program, text)
    except SyntaxError as exc:
        raise ExpressionError(
            f"{text!r} does not parse ({exc.msg} at column {exc.offset}); allowed: {_ALLOWED}"
        ) from None
    except (RecursionError, MemoryError):
        raise ExpressionError(f"{text!r}: nested too deeply; allowed: {_ALLOWED}") from None
    return program


def negation(program: list[tuple[int, float]]) -> list[tuple[int, float]]:
    """The program of ``not (program)``, built on the compiled code (never by pasting text)."""
    return [*program, (NOT, 0.0)]


def _replace_word(source: str, word: str, py: str) -> str:
    import re

    return re.sub(rf"(?<![\w\"']){word}(?![\w\"'])", py, source)


def _fail(node: ast.AST, text: str, why: str) -> ExpressionError:
    part = ast.unparse(node) if hasattr(ast, "unparse") else type(node).__name__
    return ExpressionError(f"{text!r}: {why} ({part!r}); allowed: {_ALLOWED}")


def _emit_bool(node: ast.AST, out: list, text: str) -> None:
    """Emit code leaving 0/1 on the stack."""
    if isinstance(node, ast.BoolOp):
        op = AND if isinstance(node.op, ast.And) else OR
        _emit_bool(node.values[0], out, text)
        for v in node.values[1:]:
            _emit_bool(v, out, text)
            out.append((op, 0.0))
    elif isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
        _emit_bool(node.operand, out, text)
        out.append((NOT, 0.0))
    elif isinstance(node, ast.Compare):
        left = node.left
        operands = [left, *node.comparators]
        if len(operands) > 2 and any(isinstance(n, ast.Name) and n.id in CATEGORICAL
                                     for n in operands):
            raise _fail(node, text, "race and region compare with one level at a time: "
                        "write e.g. race == \"black\" or race == \"white\", or "
                        "race in [\"black\", \"white\"]")
        for i, (op, right) in enumerate(zip(node.ops, node.comparators, strict=True)):
            _emit_compare(left, op, right, out, text)
            if i:
                out.append((AND, 0.0))
            left = right
    elif isinstance(node, ast.Name):
        if node.id in CATEGORICAL:
            raise _fail(node, text, f"{node.id} is categorical: compare it with a level")
        out.append((PUSH_VAR, float(_var(node, text))))
        out.append((TRUTH, 0.0))
    elif isinstance(node, ast.Constant) and isinstance(node.value, bool):
        out.append((PUSH_CONST, float(node.value)))
    else:
        raise _fail(node, text, "not a condition")


def _var(node: ast.Name, text: str) -> int:
    if node.id not in SUBGROUP_COVARIATES:
        raise _fail(node, text, f"unknown covariate {node.id!r}")
    return SUBGROUP_COVARIATES.index(node.id)


def _emit_compare(left, op, right, out: list, text: str) -> None:
    names = [n.id for n in (left, right) if isinstance(n, ast.Name)]
    categorical = [n for n in names if n in CATEGORICAL]
    if isinstance(op, (ast.In, ast.NotIn)):
        if not (isinstance(left, ast.Name) and left.id in CATEGORICAL):
            raise _fail(left, text, "'in' needs race or region on its left")
        if not isinstance(right, ast.List) or not right.elts:
            raise _fail(right, text, "'in' needs a non-empty list of quoted levels")
        for i, elt in enumerate(right.elts):
            out.append((PUSH_VAR, float(_var(left, text))))
            out.append((PUSH_CONST, float(_level(left.id, elt, text))))
            out.append((EQ, 0.0))
            if i:
                out.append((OR, 0.0))
        if isinstance(op, ast.NotIn):
            out.append((NOT, 0.0))
        return
    code = _COMPARE.get(type(op))
    if code is None:
        raise _fail(left, text, "unsupported comparison")
    if categorical:
        cat = categorical[0]
        if code not in (EQ, NE):
            raise _fail(left, text, f"{cat} is categorical: only == and != (or in) compare it")
        if len(names) == 2:
            raise _fail(left, text, "compare a categorical covariate with a quoted level")
        name_node, level_node = (left, right) if isinstance(left, ast.Name) else (right, left)
        out.append((PUSH_VAR, float(_var(name_node, text))))
        out.append((PUSH_CONST, float(_level(cat, level_node, text))))
        out.append((code, 0.0))
        return
    _emit_number(left, out, text)
    _emit_number(right, out, text)
    out.append((code, 0.0))


def _level(cat: str, node, text: str) -> int:
    levels = CATEGORICAL[cat]
    if not (isinstance(node, ast.Constant) and isinstance(node.value, str)):
        raise _fail(node, text, f"{cat} levels are quoted text, one of {', '.join(levels)}")
    if node.value not in levels:
        raise _fail(node, text, f"unknown {cat} {node.value!r}; levels: {', '.join(levels)}")
    return levels.index(node.value)


def _number(node, value, text: str) -> float:
    """A literal number as a finite float (refused: overflow, inf, nan)."""
    try:
        x = float(value)
    except OverflowError:
        x = math.inf
    if not math.isfinite(x):
        raise _fail(node, text, "numbers must be finite (and at most about 1e308)")
    return x


def _emit_number(node, out: list, text: str) -> None:
    if isinstance(node, ast.Name):
        out.append((PUSH_VAR, float(_var(node, text))))
    elif isinstance(node, ast.Constant) and isinstance(node.value, bool):
        raise _fail(node, text, "true and false are conditions, not numbers")
    elif isinstance(node, ast.Constant) and isinstance(node.value, (int, float)):
        out.append((PUSH_CONST, _number(node, node.value, text)))
    elif (isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub)
          and isinstance(node.operand, ast.Constant)
          and isinstance(node.operand.value, (int, float))
          and not isinstance(node.operand.value, bool)):
        out.append((PUSH_CONST, -_number(node, node.operand.value, text)))
    elif isinstance(node, ast.Constant) and isinstance(node.value, str):
        raise _fail(node, text, "quoted text compares only with race or region")
    else:
        raise _fail(node, text, "not a covariate or a number")
