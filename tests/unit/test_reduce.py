"""Streamed results: the reducers against two-pass numpy formulas, independence of the chunk
size, and the parquet datasets against the in-memory tables."""

import numpy as np
import pandas as pd
import pytest

from trialsim.analysis.comparisons import RESULT_FIELDS
from trialsim.run.simulate import simulate
from trialsim.run.trial import ChunkResult, Plan
from trialsim.summarize.reduce import PartWriter, Reducer, Welford, dataset_columns, trial_table
from trialsim.summarize.tables import baseline_table, summarize, trajectory_table, whole_trial

F = {n: i for i, n in enumerate(RESULT_FIELDS)}


@pytest.fixture(scope="module")
def run(tiny):
    plan = Plan(tiny)
    return plan, simulate(tiny, replicates=23, n_jobs=1, chunk_size=5, progress=False)


def test_welford_matches_two_pass_and_skips_non_finite():
    rng = np.random.default_rng(3)
    x = rng.normal(1e6, 3.0, size=(500, 3))  # a large mean: the naive formula would lose it
    x[::7, 1] = np.nan
    x[::11, 2] = np.inf
    w = Welford(3)
    w.add(x[:123])
    w.add(x[123:])
    for j in range(3):
        col = x[:, j][np.isfinite(x[:, j])]
        mean, se = w.mean_mcse(j)
        assert mean == pytest.approx(col.mean(), rel=1e-14)
        assert se == pytest.approx(col.std(ddof=1) / np.sqrt(col.size), rel=1e-9)


def test_summary_statistics_against_two_pass_numpy(run):
    plan, res = run
    s = whole_trial(summarize(plan, res)).set_index(
        ["endpoint", "week", "arm", "comparison", "statistic"])
    alpha = plan.scenario.analysis.alpha
    for t, (e, w) in enumerate(plan.targets):
        for a, arm in enumerate(plan.arms):
            x = res.rates[:, t, a]
            row = s.loc[(e, w, arm, "", "response_rate")]
            assert row.value == pytest.approx(x.mean(), abs=1e-14)
            assert row.mcse == pytest.approx(x.std(ddof=1) / np.sqrt(x.size), rel=1e-9)
            q = s.loc[(e, w, arm, "", "response_rate_q975")].value
            assert q == pytest.approx(np.quantile(x, 0.975), abs=1e-14)
        for c, comp in enumerate(plan.comparisons):
            an = res.analysis[:, t, c]
            power = np.mean(an[:, F["p_value"]] < alpha)
            assert s.loc[(e, w, "", comp, "power")].value == pytest.approx(power, abs=1e-15)
            rd = an[:, F["risk_difference"]]
            rd = rd[np.isfinite(rd)]
            got = s.loc[(e, w, "", comp, "risk_difference_mean")].value
            assert got == pytest.approx(rd.mean(), abs=1e-14)
            nnt = s.loc[(e, w, "", comp, "nnt")]
            if rd.mean() > 0:  # 1 / mean RD, MCSE by the delta method
                assert nnt.value == pytest.approx(1 / rd.mean(), rel=1e-12)
                se = rd.std(ddof=1) / np.sqrt(rd.size)
                assert nnt.mcse == pytest.approx(se / rd.mean() ** 2, rel=1e-9)
            else:  # the drug does not help on average: no NNT
                assert np.isnan(nnt.value)
            # the distribution over trials: quantiles of the per-trial risk difference, and
            # the NNT's as their reversed reciprocals
            per_trial = an[:, F["risk_difference"]]
            per_trial = per_trial[~np.isnan(per_trial)]
            if per_trial.size:
                lo, hi = np.quantile(per_trial, [0.025, 0.975])
                assert s.loc[(e, w, "", comp, "risk_difference_q025")].value == pytest.approx(
                    lo, abs=1e-14)
                assert s.loc[(e, w, "", comp, "risk_difference_q975")].value == pytest.approx(
                    hi, abs=1e-14)
                top = s.loc[(e, w, "", comp, "nnt_q975")].value
                assert top == (pytest.approx(1 / lo, rel=1e-12) if lo > 0 else np.inf)
                if hi > 0:
                    assert s.loc[(e, w, "", comp, "nnt_q025")].value == pytest.approx(
                        1 / hi, rel=1e-12)
            odds = an[:, F["odds_ratio"]]
            med = s.loc[(e, w, "", comp, "odds_ratio_median")].value
            if np.isnan(odds).all():  # e.g. steroid sparing at week 12: no responders yet
                assert np.isnan(med)
                continue
            assert med == pytest.approx(np.quantile(odds[~np.isnan(odds)], 0.5), rel=1e-12)
            for bound in ("ci_low", "ci_high"):  # the CI a typical trial reports
                x = an[:, F[bound]]
                got = s.loc[(e, w, "", comp, f"{bound}_median")].value
                assert got == pytest.approx(np.quantile(x[~np.isnan(x)], 0.5), rel=1e-12)


def test_baseline_and_trajectory_against_two_pass_numpy(run):
    plan, res = run
    base = baseline_table(plan, res).set_index(["characteristic", "arm"])
    m = res.baseline  # (r, arms, 3, k)
    tot = m.sum(axis=0)
    k = list(base.loc["age_years"].index)
    assert k == [*plan.arms, "overall"]
    j = 1  # age_years
    a = 0
    mean = tot[a, 1, j] / tot[a, 0, j]
    assert base.loc[("age_years", plan.arms[a])].value == pytest.approx(mean, rel=1e-13)
    per_trial = m[:, a, 1, j] / m[:, a, 0, j]
    mcse = per_trial.std(ddof=1) / np.sqrt(per_trial.size)
    assert base.loc[("age_years", plan.arms[a])].mcse == pytest.approx(mcse, rel=1e-9)
    traj = trajectory_table(plan, res).set_index(["arm", "week"])
    x = res.sledai_mean[:, 0, 2]
    week = 2 * plan.scenario.design.visit_interval_weeks
    assert traj.loc[(plan.arms[0], week)]["mean"] == pytest.approx(x[np.isfinite(x)].mean())


def _reduce(plan, res, cuts):
    red = Reducer(plan)
    edges = [0, *cuts, res.replicates.size]
    for s, e in zip(edges[:-1], edges[1:], strict=True):
        red.add(res.take(slice(s, e)))
    return red


def test_reducers_do_not_depend_on_the_chunking(run):
    plan, res = run
    a = _reduce(plan, res, [])
    b = _reduce(plan, res, [1, 2, 9, 17])
    for name in ("reject", "favor", "converged", "flare_reject", "flare_favor",
                 "baseline_total"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name), name)
    for name in ("rate", "risk_difference", "baseline_trial_mean"):
        for attr in ("n", "mean", "m2"):
            np.testing.assert_array_equal(getattr(getattr(a, name), attr),
                                          getattr(getattr(b, name), attr), name)


def test_part_files_do_not_depend_on_the_chunking_and_read_back(run, tmp_path):
    plan, res = run
    for label, cuts in (("one", []), ("many", [3, 4, 10, 21])):
        w = PartWriter(plan, tmp_path / label, part_size=8)
        edges = [0, *cuts, res.replicates.size]
        for s, e in zip(edges[:-1], edges[1:], strict=True):
            w.add(res.take(slice(s, e)))
        w.close()
    for sub in ("replicates", "trials"):
        names = sorted(p.name for p in (tmp_path / "one" / sub).iterdir())
        assert names == ["part-000000000.parquet", "part-000000008.parquet",
                         "part-000000016.parquet"]
        for n in names:
            assert (tmp_path / "one" / sub / n).read_bytes() == \
                (tmp_path / "many" / sub / n).read_bytes()
    trials = pd.read_parquet(tmp_path / "one" / "trials")
    pd.testing.assert_frame_equal(trials, trial_table(plan, res))
    col = dataset_columns(tmp_path / "one" / "trials")
    name = f"rate.{plan.targets[0][0]}.w{plan.targets[0][1]}.{plan.arms[1]}"
    np.testing.assert_array_equal(col(name), res.rates[:, 0, 1])
    reps = pd.read_parquet(tmp_path / "one" / "replicates")
    assert len(reps) == res.replicates.size * len(plan.targets) * len(plan.comparisons)


def test_chunk_take_and_concat_round_trip(run):
    _, res = run
    back = ChunkResult.concat([res.take(slice(0, 7)), res.take(slice(7, None))])
    for k in ChunkResult.__annotations__:
        np.testing.assert_array_equal(getattr(back, k), getattr(res, k))


def test_a_resumed_run_loads_its_stored_chunks_one_at_a_time(tiny, tmp_path):
    """iter_chunks loads a stored chunk when its turn comes, not all of them up front."""
    from trialsim.run.backends import iter_chunks
    from trialsim.run.checkpoint import ChunkStore

    store = ChunkStore(tmp_path / "ck", tiny, 2)
    for _ in iter_chunks(tiny, 8, 2, store=store, progress=False):
        pass
    store.chunk_path(2, 4).unlink()  # one chunk to recompute
    loads = []
    original = store.load

    def counting(start, stop):
        loads.append(start)
        return original(start, stop)

    store.load = counting
    stream = iter_chunks(tiny, 8, 2, store=store, progress=False)
    first = next(stream)
    assert loads == [0] and first.replicates.tolist() == [0, 1]
    rest = list(stream)
    assert [c.replicates[0] for c in rest] == [2, 4, 6] and loads == [0, 4, 6]
