"""Calibration targets and the GMM weighting (``trialsim.experiments.calibration``), against
independent implementations (statsmodels as an oracle only)."""

import numpy as np
import pytest
from pydantic import ValidationError

from trialsim.experiments.calibration import CalibrationSpec, Target, sampling_covariance

sm_tables = pytest.importorskip("statsmodels.stats.contingency_tables")


def test_crude_odds_ratio_and_woolf_se_match_statsmodels():
    t = Target(scenario="a", endpoint="sri4", week=52, comparison="bel1_vs_placebo",
               counts=((148, 288), (125, 287)))
    table = sm_tables.Table2x2(np.array([[148, 288 - 148], [125, 287 - 125]]))
    assert t.kind == "log_or_crude"
    assert t.observed == pytest.approx(table.log_oddsratio, rel=1e-12)
    assert t.sampling_se == pytest.approx(table.log_oddsratio_se, rel=1e-12)
    assert t.label.endswith(":crude")


def test_published_ratio_target_takes_its_se_from_the_ci():
    t = Target(scenario="a", endpoint="time_to_first_flare", week=52,
               comparison="bel1_vs_placebo", ratio=0.75, ci=(0.62, 0.90))
    assert t.kind == "log_hr"
    assert t.observed == pytest.approx(np.log(0.75))
    assert t.sampling_se == pytest.approx((np.log(0.90) - np.log(0.62)) / (2 * 1.959964),
                                          rel=1e-6)


@pytest.mark.parametrize("fields, message", [
    ({"arm": "bel1", "comparison": "bel1_vs_placebo", "ratio": 1.5, "ci": (1.1, 2.0)},
     "not both"),
    ({"comparison": "bel1_vs_placebo"}, "needs ratio and ci"),
    ({"comparison": "bel1_vs_placebo", "ratio": 2.5, "ci": (1.1, 2.0)}, "inside its ci"),
    ({"comparison": "bel1_vs_placebo", "counts": ((10, 10), (3, 10))}, "0 < events < n"),
    ({"comparison": "bel1_vs_placebo", "counts": ((3, 10), (3, 10)), "ratio": 1.0,
      "ci": (0.5, 2.0)}, "not both"),
])
def test_bad_contrast_targets_are_refused(fields, message):
    with pytest.raises(ValidationError, match=message):
        Target(scenario="a", endpoint="sri4", week=52, **fields)


def _spec(targets, shrinkage=0.05):
    return CalibrationSpec(
        scenarios={"a": "a.yaml"}, shrinkage=shrinkage,
        parameters={"x": {"paths": ["drug.emax"], "bounds": (0.0, 1.0)}},
        targets=targets,
    )


def test_sampling_covariance_keeps_published_ses_and_simulated_correlation():
    targets = [
        Target(scenario="a", endpoint="sri4", week=52, arm="placebo", events=125, n=287),
        Target(scenario="a", endpoint="sri4", week=52, comparison="bel1_vs_placebo",
               counts=((148, 288), (125, 287))),
        Target(scenario="a", endpoint="sri4", week=52, comparison="bel10_vs_placebo",
               counts=((167, 290), (125, 287))),
    ]
    rng = np.random.default_rng(1)
    shared = rng.normal(size=5000)  # a shared placebo arm: the two contrasts correlate
    x = np.column_stack([shared, rng.normal(size=5000) - shared, rng.normal(size=5000) - shared])
    spec = _spec(targets, shrinkage=0.1)
    cov = sampling_covariance(spec, x)
    se = np.array([t.sampling_se for t in targets])
    np.testing.assert_allclose(np.sqrt(np.diag(cov)), se, rtol=1e-12)
    corr = cov / np.outer(se, se)
    expected = np.corrcoef(x, rowvar=False) * 0.9 + 0.1 * np.eye(3)
    np.testing.assert_allclose(corr, expected, atol=1e-12)
    assert corr[1, 2] == pytest.approx(0.9 * 0.5, abs=0.03)  # cov 1 / var 2
    assert np.linalg.eigvalsh(cov).min() > 0


def test_sampling_covariance_drops_replicates_with_a_missing_moment():
    targets = [Target(scenario="a", endpoint="sri4", week=52, arm=a, events=100, n=280)
               for a in ("placebo", "bel1")]
    x = np.array([[0.1, 0.2], [np.nan, 0.3], [0.2, 0.1], [0.3, 0.5], [0.0, 0.0]])
    cov = sampling_covariance(_spec(targets, shrinkage=0.0), x)
    keep = x[~np.isnan(x).any(axis=1)]
    r = np.corrcoef(keep, rowvar=False)[0, 1]
    assert cov[0, 1] / np.sqrt(cov[0, 0] * cov[1, 1]) == pytest.approx(r)


def test_a_spec_with_nothing_fitted_is_refused():
    t = Target(scenario="a", endpoint="sri4", week=52, arm="placebo", events=100, n=280,
               fit=False)
    with pytest.raises(ValidationError, match="fit: false"):
        _spec([t])


@pytest.mark.parametrize("fields, message", [
    ({"subgroup": "left_handed", "arm": "placebo", "events": 3, "n": 10},
     "serologically_active"),
    ({"subgroup": "serologically_active", "comparison": "bel1_vs_placebo", "ratio": 1.5,
      "ci": (1.1, 2.0)}, "crude odds ratio"),
    ({"pooled_with": ["a"], "arm": "placebo", "events": 3, "n": 10}, "other scenarios"),
    ({"pooled_with": ["b", "b"], "arm": "placebo", "events": 3, "n": 10}, "each once"),
])
def test_bad_subgroup_and_pooled_targets_are_refused(fields, message):
    with pytest.raises(ValidationError, match=message):
        Target(scenario="a", endpoint="sri4", week=52, **fields)


def test_a_pooled_target_names_its_trials_and_needs_them_in_the_spec():
    t = Target(scenario="a", pooled_with=["b"], subgroup="serologically_active",
               endpoint="sri4", week=52, arm="placebo", events=91, n=287)
    assert t.scenarios == ("a", "b") and t.by_patient
    assert t.label == "a+b:sri4:w52:placebo[serologically_active]"
    assert t.observed == pytest.approx(91 / 287)
    with pytest.raises(ValidationError, match="names scenario 'b'"):
        _spec([t])


@pytest.mark.parametrize("order", [(0, 1), (1, 0)])
def test_a_dose_contrast_puts_the_higher_dose_first_whatever_the_config_order(order):
    from trialsim.experiments.calibration import CalibrationResult

    contrasts = [
        Target(scenario="a", endpoint="sri4", week=52, comparison="bel1_vs_placebo",
               counts=((148, 288), (125, 287))),
        Target(scenario="a", endpoint="sri4", week=52, comparison="bel10_vs_placebo",
               counts=((167, 290), (125, 287))),
    ]
    targets = [contrasts[i] for i in order]
    spec = _spec(targets)
    simulated = np.array([t.observed for t in targets]) + 0.01 * np.array(order)
    res = CalibrationResult(
        spec=spec, theta=np.array([0.5]), cov=np.eye(1) * 0.01, start=np.array([0.5]),
        simulated=simulated, gradient=np.ones((2, 1)), sampling_cov=np.eye(2) * 0.02,
        fitted=np.array([True, True]), cost=0.0, evaluations=1, message="",
        doses={"placebo": 0.0, "bel1": 1.0, "bel10": 10.0})
    table = res.dose_contrasts()
    assert table.contrast.tolist() == ["bel10_vs_bel1"]
    published = (167 / 123) / (148 / 140)
    assert table.published_ratio.iloc[0] == pytest.approx(published, rel=1e-12)
    k10, k1 = (targets.index(contrasts[1]), targets.index(contrasts[0]))
    assert table.simulated_ratio.iloc[0] == pytest.approx(
        np.exp(simulated[k10] - simulated[k1]), rel=1e-12)
