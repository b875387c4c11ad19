"""The stored reference values of ``trialsim qualify`` (``trialsim/qualify/golden.json``)
against their oracles: statsmodels and lifelines refit on the stored datasets, the datasets
against the generator (scripts/make_qualify_golden.py), the published BLISS rates against the
acceptance test's; and the packaged scenario files against configs/."""

from __future__ import annotations

import ast
import importlib.util
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from lifelines import CoxPHFitter
from lifelines.statistics import logrank_test

from trialsim.qualify import golden

ROOT = Path(__file__).resolve().parents[2]


def _module(path: Path, name: str):
    spec = importlib.util.spec_from_file_location(name, path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@pytest.fixture(scope="module")
def stored():
    return golden.load()


@pytest.fixture(scope="module")
def generator():
    return _module(ROOT / "scripts" / "make_qualify_golden.py", "make_qualify_golden")


def test_logistic_reference_is_statsmodels(stored):
    g = stored["logistic"]
    X = np.column_stack([np.ones(len(g["data"]["response"]))]
                        + [np.asarray(g["data"][c], float) for c in g["columns"][1:]])
    fit = sm.Logit(np.asarray(g["data"]["response"], float), X).fit(
        disp=0, method="newton", tol=1e-12, maxiter=200)
    ref = g["reference"]
    np.testing.assert_allclose(ref["coef"], fit.params, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(ref["se"], fit.bse, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(ref["z"], fit.tvalues, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(ref["p_value"], fit.pvalues, rtol=1e-8, atol=1e-15)
    assert g["columns"][1] == "treated" and len(X) >= 300


def test_survival_reference_is_lifelines(stored):
    g = stored["survival"]
    t = np.asarray(g["data"]["time_days"], float)
    e = np.asarray(g["data"]["event"], int)
    x = np.asarray(g["data"]["treated"], bool)
    cph = CoxPHFitter().fit(pd.DataFrame({"t": t, "e": e, "treated": x.astype(float)}), "t", "e")
    lr = logrank_test(t[x], t[~x], e[x], e[~x])
    ref = g["reference"]
    # lifelines stops its Newton iteration at its own tolerance: agreement to ~1e-9
    assert ref["log_hr"] == pytest.approx(cph.params_["treated"], abs=1e-8)
    assert ref["se"] == pytest.approx(cph.standard_errors_["treated"], abs=1e-8)
    assert ref["hazard_ratio"] == pytest.approx(np.exp(cph.params_["treated"]), abs=1e-8)
    assert ref["p_wald"] == pytest.approx(cph.summary.loc["treated", "p"], rel=1e-6)
    assert ref["logrank_chi2"] == pytest.approx(lr.test_statistic, rel=1e-9)
    assert ref["p_logrank"] == pytest.approx(lr.p_value, rel=1e-9)
    # the data exercise what the check is for: ties among event times, and censoring
    events = t[e == 1]
    assert len(np.unique(events)) < len(events) / 5 and (e == 0).sum() > 0.1 * len(e)


def test_datasets_are_the_generators(stored, generator):
    assert stored["logistic"]["data"] == generator.logistic_data()
    assert stored["survival"]["data"] == generator.survival_data()
    assert stored["bliss"]["rates"] == generator.bliss_rates()
    for name in ("statsmodels", "lifelines"):
        assert stored["oracles"][name]


def test_published_rates_are_the_acceptance_tests(stored):
    acceptance = _module(ROOT / "tests" / "validation" / "test_bliss_reproduction.py",
                         "bliss_acceptance_rates")
    got = {}
    for r in stored["bliss"]["rates"]:
        got.setdefault(r["trial"], {}).setdefault((r["endpoint"], r["week"]), []).append(
            (r["events"], r["n"]))
    assert got == acceptance.RATES
    assert tuple(stored["bliss"]["arms"]) == acceptance.ARMS


def test_packaged_scenarios_link_to_configs():
    """Each file of trialsim/qualify/configs is a relative link to configs/ (a wheel holds
    the files' contents), and every file they name (extends, model_from) is there."""
    folder = ROOT / "trialsim" / "qualify" / "configs"
    names = sorted(p.name for p in folder.iterdir())
    assert names == ["bliss52.yaml", "bliss76.yaml", "model.yaml", "skin.yaml"]
    for name in names:
        link = folder / name
        assert link.is_symlink() and not Path(link.readlink()).is_absolute()
        assert link.resolve() == (ROOT / "configs" / name).resolve()
    for name in golden.SCENARIOS:
        sc = golden.scenario(name)
        assert sc.name == name and sc.skin is not None


def test_the_package_never_imports_the_oracles():
    """statsmodels and lifelines are test-only dependencies: no trialsim module imports them
    (anywhere in its source, functions included)."""
    found = []
    for path in (ROOT / "trialsim").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = ([a.name for a in node.names] if isinstance(node, ast.Import)
                     else [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            found += [f"{path.name}: {n}" for n in names
                      if n.split(".")[0] in ("statsmodels", "lifelines")]
    assert not found, found
