"""SRI-S2K and the SELENA-SLEDAI's proteinuria rule, end to end (docs/model.md §3, §4).

Under ``disease.sledai_proteinuria: new_onset`` the course leaves persistent proteinuria out
of the SELENA-SLEDAI and flags the visit; SRI-S2K scores it back. Here the SLEDAI-2K is
rebuilt in numpy from the course's arrays, the SRI-S2K from it and the SRI's other
components, and the compiled trial's arm rates must equal that. SRI-4 can only gain from
the SELENA rule (the baseline is scored the same way), and under the default rule the two
endpoints are one.
"""

from __future__ import annotations

import numpy as np
import pytest

from trialsim.analysis.endpoints import ENDPOINTS
from trialsim.config.scenario import with_overrides
from trialsim.model.instruments import FLAG_PROTEINURIA_UNSCORED, PROTEINURIA_WEIGHT
from trialsim.run.trial import Plan, ReplicatePatients, run_chunk

WEEK = 52
REPLICATES = 2


def scenario_with(bliss76, rule):
    return with_overrides(bliss76, {
        "design.sample_size": 400,
        "analysis.endpoints": ["sri4", "sri4_s2k", "lldas"],
        "analysis.subgroups.factors": [],
        "disease.sledai_proteinuria": rule,
        "seed": 515,
    })


@pytest.fixture(scope="module")
def selena(bliss76):
    sc = scenario_with(bliss76, "new_onset")
    return sc, run_chunk(sc, 0, REPLICATES), ReplicatePatients(sc)


def test_compiled_sri_s2k_equals_a_numpy_rebuild(selena):
    sc, res, patients = selena
    plan = Plan(sc)
    visit = WEEK // sc.design.visit_interval_weeks
    t_s2k = plan.targets.index(("sri4_s2k", WEEK))
    gained = 0
    for r in range(REPLICATES):
        trial = patients(r)
        c = trial.course
        unscored = (c.activity_flags & FLAG_PROTEINURIA_UNSCORED) != 0
        assert not unscored[:, 0].any()  # the baseline is scored as screened
        s2k = c.sledai.astype(int) + PROTEINURIA_WEIGHT * unscored
        assert unscored.any()  # persistent proteinuria exists at this size
        on = trial.on_study(visit)
        mine = (on & (s2k[:, 0] - s2k[:, visit] >= 4)
                & ENDPOINTS["no_new_bilag"](trial, visit)
                & ENDPOINTS["no_pga_worsening"](trial, visit))
        np.testing.assert_array_equal(ENDPOINTS["sri4_s2k"](trial, visit), mine)
        for a in range(len(sc.design.arms)):
            assert res.rates[r, t_s2k, a] == pytest.approx(mine[trial.arm == a].mean(), abs=1e-12)
        sri4 = ENDPOINTS["sri4"](trial, visit)
        assert not (mine & ~sri4).any()  # SRI-S2K responders are SRI-4 responders
        gained += int((sri4 & ~mine).sum())
    assert gained > 0  # and the SELENA rule makes some SRI-4 responders that S2K does not


def test_default_rule_sri_s2k_is_sri4(bliss76):
    sc = scenario_with(bliss76, "whenever_present")
    trial = ReplicatePatients(sc)(0)
    visit = WEEK // sc.design.visit_interval_weeks
    assert not (trial.course.activity_flags & FLAG_PROTEINURIA_UNSCORED).any()
    np.testing.assert_array_equal(ENDPOINTS["sri4_s2k"](trial, visit),
                                  ENDPOINTS["sri4"](trial, visit))
