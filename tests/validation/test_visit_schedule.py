"""The disease does not depend on how often it is looked at (docs/model.md §3, continuous time).

Every process of the course is stated per week and converted to the visit interval. With the
physician's actions switched off (no steroid changes, escalations or tapers: the only
processes that legitimately act on what is seen at a visit), 1-, 2- and 4-weekly visits must
give the same placebo SELENA-SLEDAI distribution at week 52 (its mean, and the share
reducing by ≥ 4 … 8 points), the same SRI-4, and the same drug effect on them, within Monte
Carlo error. At week 12, where the latent drivers still move fast (regression to the mean,
background therapy and drug onsets), holding them constant over an interval leaves a small
discretization error (docs/model.md §3 states it); the test bounds it. The per-visit model
that preceded this one fails both: weekly visits gave placebo SRI-4 0.55 vs 0.51 (week 52)
and 0.51 vs 0.39 (week 12).
"""

from pathlib import Path

import numpy as np
import pytest

from trialsim.config.scenario import load_scenario, with_overrides
from trialsim.run.trial import Plan, run_chunk

CONFIGS = Path(__file__).resolve().parents[2] / "configs"
PHYSICIAN_OFF = {
    "standard_of_care.flare_increase_prob": 0.0,
    "standard_of_care.escalate_severe_prob": 0.0,
    "standard_of_care.escalate_mild_prob": 0.0,
    "standard_of_care.symptom_increase_prob": 0.0,
    "standard_of_care.taper_prob": 0.0,
}
ENDPOINTS = ["sri4"] + [f"sledai_reduction_{k}" for k in range(4, 9)]
N = 24_000  # 8,000 per arm: SE of a rate <= 0.0056
SCHEDULES = (4, 2, 1)


def _run(interval: int, physician: bool):
    over = {"design.visit_interval_weeks": interval, "design.sample_size": N,
            "design.endpoint_weeks": [12, 52], "analysis.endpoints": ENDPOINTS,
            "seed": 20261130 + interval}
    if not physician:
        over.update(PHYSICIAN_OFF)
    sc = with_overrides(load_scenario(CONFIGS / "bliss52.yaml"), over)
    plan = Plan(sc)
    res = run_chunk(sc, 0, 1)
    rates = {target: res.rates[0, k] for k, target in enumerate(plan.targets)}
    means = {w: res.sledai_mean[0, :, w // interval] for w in (12, 52)}
    return rates, means, res.arm_n[0]


@pytest.fixture(scope="module")
def schedules():
    return {d: _run(d, physician=False) for d in SCHEDULES}


def _z(p1, p2, n1, n2):
    se = np.sqrt(p1 * (1 - p1) / n1 + p2 * (1 - p2) / n2)
    return (p1 - p2) / se


def test_week52_rates_and_drug_effect_agree_within_monte_carlo_error(schedules):
    ref_rates, _, ref_n = schedules[4]
    bad = []
    for d in (2, 1):
        rates, _, n = schedules[d]
        for e in ENDPOINTS:
            r, r0 = rates[(e, 52)], ref_rates[(e, 52)]
            for a in range(3):
                z = _z(r[a], r0[a], n[a], ref_n[a])
                if abs(z) > 4:
                    bad.append(f"{d}-weekly {e} arm {a}: {r[a]:.3f} vs 4-weekly {r0[a]:.3f}")
            # the drug effect (10 mg/kg - placebo), independent schedules
            eff, eff0 = r[2] - r[0], r0[2] - r0[0]
            se = np.sqrt(sum(p * (1 - p) / m for p, m in
                             [(r[2], n[2]), (r[0], n[0]), (r0[2], ref_n[2]), (r0[0], ref_n[0])]))
            if abs(eff - eff0) > 4 * se:
                bad.append(f"{d}-weekly {e} effect {eff:.3f} vs 4-weekly {eff0:.3f}")
    assert not bad, "\n".join(bad)


def test_week52_mean_sledai_agrees(schedules):
    _, ref, _ = schedules[4]
    for d in (2, 1):
        _, means, _ = schedules[d]
        # SD of SLEDAI at week 52 ~ 3.5: SE of a difference of arm means ~0.06
        np.testing.assert_allclose(means[52], ref[52], atol=0.22, err_msg=f"{d}-weekly")


def test_week12_discretization_error_is_small(schedules):
    ref_rates, ref, _ = schedules[4]
    for d in (2, 1):
        rates, means, _ = schedules[d]
        # the discretization error is ~0.03 (SRI-4) and ~0.2 points (SLEDAI) weekly vs
        # 4-weekly; the per-visit model's was 0.12 and 1.3
        np.testing.assert_allclose(rates[("sri4", 12)], ref_rates[("sri4", 12)], atol=0.05,
                                   err_msg=f"{d}-weekly SRI-4 at week 12")
        np.testing.assert_allclose(means[12], ref[12], atol=0.4,
                                   err_msg=f"{d}-weekly mean SLEDAI at week 12")


def test_physician_actions_explain_the_remaining_difference():
    """With the physician's actions on, more frequent visits see more SFI flares (each is
    judged against the previous visit) and act on them: more steroid increases, more
    treatment failures, a lower SRI-4. The effect is modest and goes that way."""
    sri = {d: _run(d, physician=True)[0][("sri4", 52)][0] for d in (4, 1)}
    assert sri[1] < sri[4] + 0.01
    assert sri[4] - sri[1] < 0.05
