"""Per-endpoint sample sizes from a power curve (``sample_size_table``) against the closed
form of the curve they were drawn from."""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.stats import norm

from trialsim.config.scenario import with_overrides
from trialsim.experiments.power import sample_size_table


def curve(sizes, delta, replicates, rng, endpoint="sri4"):
    power = norm.cdf(delta * np.sqrt(sizes) - norm.ppf(0.975))
    hits = rng.binomial(replicates, power)
    return pd.DataFrame({
        "scenario": "x", "sample_size": sizes, "endpoint": endpoint, "week": 52,
        "comparison": "bel10_vs_placebo", "statistic": "power", "value": hits / replicates,
        "mcse": np.sqrt(power * (1 - power) / replicates), "replicates": replicates,
    })


def test_roots_match_the_closed_form_within_their_mcse(tiny):
    sc = with_overrides(tiny, {"design.sample_size": 600})
    delta = (norm.ppf(0.8) + norm.ppf(0.975)) / np.sqrt(900)  # 80% at N = 900
    rng = np.random.default_rng(11)
    sizes = np.array([300, 450, 600, 750, 900, 1050])
    table = sample_size_table(curve(sizes, delta, 2000, rng), sc)
    want = {t: ((norm.ppf(t) + norm.ppf(0.975)) / delta) ** 2 for t in (0.8, 0.9)}
    for _, row in table.iterrows():
        n = want[row.target_power]
        assert abs(row.sample_size_estimate - n) < 3.5 * row.mcse, row
        assert 0 < row.mcse < 0.05 * n
        assert row.sample_size >= row.sample_size_estimate and row.sample_size % 3 == 0
        assert row.extrapolated == (not sizes.min() <= row.sample_size_estimate <= sizes.max())
        p600 = norm.cdf(delta * np.sqrt(600) - norm.ppf(0.975))
        assert abs(row.power_at_design - p600) < 3.5 * row.power_at_design_mcse
    assert table.set_index("target_power").extrapolated.to_dict() == {0.8: False, 0.9: True}


def test_a_flat_curve_gives_no_size(tiny):
    rng = np.random.default_rng(3)
    table = sample_size_table(curve(np.array([300, 600, 900]), 0.0, 500, rng), tiny)
    assert table.sample_size.isna().all() and not table.extrapolated.any()


def test_the_table_is_reproducible(tiny):
    c = curve(np.array([300, 600, 900]), 0.08, 400, np.random.default_rng(5))
    pd.testing.assert_frame_equal(sample_size_table(c, tiny), sample_size_table(c, tiny))
