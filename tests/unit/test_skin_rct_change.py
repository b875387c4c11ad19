"""The skin trial's change in CLASI-A at the primary week (LOCF, ANCOVA on baseline CLASI-A
and the subtype strata) equals statsmodels OLS on the same patients, and goes the right
way."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import statsmodels.api as sm

from trialsim.analysis.ancova import ANCOVA_FIELDS
from trialsim.config.skin import load_skin_scenario
from trialsim.core.rng import replicate_key
from trialsim.experiments.skin import run_trial, screen, trial_replicate
from trialsim.model.randomization import randomize
from trialsim.model.skin import exposure, skin_courses, skin_params, trial_dropout_weeks

CONFIGS = Path(__file__).resolve().parents[2] / "configs"
A = {name: i for i, name in enumerate(ANCOVA_FIELDS)}


def test_the_change_ancova_equals_statsmodels_ols():
    sc = load_skin_scenario(CONFIGS / "clasi_rct.yaml")
    des = sc.design
    p = skin_params(sc)
    for r in range(3):
        out = trial_replicate(sc, p, r)
        key = replicate_key(sc.seed, r)
        pat, _ = screen(p, key, des.min_clasi, des.sample_size)
        alloc = np.array([a.allocation for a in des.arms.values()], dtype=np.int64)
        arm = randomize(pat.subtype, alloc, des.block_multiplier, key)
        weeks = p.assessment_weeks
        act = skin_courses(p, pat.units, pat.subtype,
                           exposure(sc, arm, pat.weight, pat.units, key), key[0], key[1],
                           weeks.size)[0]
        drop = trial_dropout_weeks(pat.units, key[0], key[1], des.dropout_per_year)
        j = int(np.flatnonzero(weeks == des.primary_week)[0])
        last = np.array([max(k for k in range(j + 1) if weeks[k] < d) for d in drop])
        y = act[np.arange(len(last)), last] - act[:, 0].astype(float)
        control = list(des.arms).index(des.control)
        treated = 1 - control
        x = np.column_stack([np.ones(len(y)), (arm == treated).astype(float), act[:, 0]]
                            + [(pat.subtype == s).astype(float) for s in (1, 2, 3)
                               if 0 < np.sum(pat.subtype == s) < len(y)])
        fit = sm.OLS(y, x).fit()
        got = out["change"][0]
        assert got[A["difference"]] == pytest.approx(fit.params[1], rel=1e-8)
        assert got[A["se"]] == pytest.approx(fit.bse[1], rel=1e-8)
        assert got[A["p_value"]] == pytest.approx(fit.pvalues[1], rel=1e-8)
        for a in range(2):
            assert out["change_means"][a] == pytest.approx(y[arm == a].mean(), rel=1e-12)


def test_the_change_falls_more_on_drug_and_not_without_one():
    sc = load_skin_scenario(CONFIGS / "clasi_rct.yaml")
    on = run_trial(sc, replicates=60, n_jobs=1).set_index(["arm", "statistic"])
    power = on.xs("power_clasi_change", level="statistic")["value"].iloc[0]
    diff = on.xs("clasi_change_difference", level="statistic")
    assert diff["value"].iloc[0] + 3 * diff["mcse"].iloc[0] < 0
    assert power > 0.3
    off = load_skin_scenario(CONFIGS / "clasi_rct.yaml", {"skin.drug.emax": 0.0})
    res = run_trial(off, replicates=200, n_jobs=1).set_index(["arm", "statistic"])
    null = res.xs("power_clasi_change", level="statistic")["value"].iloc[0]
    assert null < 0.025 + 3.5 * np.sqrt(0.025 * 0.975 / 200)  # one-sided: the drug lower
