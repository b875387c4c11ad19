"""Multiplicity procedures (analysis/multiplicity.py) and their power summaries
(summarize/multiplicity.py), checked against independent answers:

* Bonferroni, Holm and Hochberg: statsmodels' ``multipletests`` (rejections and adjusted
  p-values) on seeded p-vectors with ties, 0, 1 and p exactly at the critical values, and on
  hypothesis-generated ones;
* the graphical procedure: a plain closed test written here, whose intersection weights come
  from the absorbing Markov chain of the graph (not the update formula of the kernel), on
  random graphs; Holm and fixed sequence as graphs; worked examples of Bretz et al. 2009 and
  gMCP computed by hand;
* FWER by simulation under the global and partial nulls (20,000 trials each);
* the validation of every input, and the summaries on a small hand-counted example.
"""

from __future__ import annotations

import gc
import itertools
import math
from unittest import mock

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.special import ndtr
from statsmodels.stats.multitest import multipletests

from trialsim.analysis.multiplicity import (
    BOUNDARY_RTOL,
    PROCEDURES,
    fixed_sequence,
    fixed_sequence_graph,
    graphical,
    graphical_adjusted,
    graphical_reject,
    hierarchy_graph,
    holm,
    holm_graph,
    multiplicity_adjust,
    multiplicity_adjust_trials,
    multiplicity_params,
)
from trialsim.summarize.multiplicity import rejection_table, summarize_rejections

ALPHAS = (0.01, 0.025, 0.05, 0.1)
#: statsmodels' names of our unweighted procedures
SM_METHOD = {"bonferroni": "bonferroni", "holm": "holm", "hochberg": "simes-hochberg"}


def run(procedure, p, alpha, **kw):
    """(reject, adjusted) of one p-vector through the record and the dispatcher."""
    p = np.asarray(p, dtype=np.float64)
    mp = multiplicity_params(procedure, p.size, alpha=alpha, **kw)
    return multiplicity_adjust(p, mp)


def graph_run(weights, transitions, p, alpha):
    return run("graphical", p, alpha, weights=weights, transitions=transitions)


def crit(alpha):
    return alpha * (1.0 + BOUNDARY_RTOL)


def p_grid(seed=11, n=1500):
    """Seeded p-vectors and levels: uniform, small (most rejected), with ties, 0 and 1, and
    with p exactly at a critical value alpha / k or just off it."""
    rng = np.random.default_rng(seed)
    for t in range(n):
        m = int(rng.integers(1, 9))
        alpha = float(rng.choice(ALPHAS))
        kind = t % 5
        if kind == 0:
            p = rng.uniform(size=m)
        elif kind == 1:
            p = rng.uniform(0, 2.5 * alpha, size=m)
        elif kind == 2:  # ties, 0 and 1
            p = rng.choice([0.0, 1.0, alpha / 2, alpha, 0.3], size=m)
        else:  # critical values alpha / k, exactly or 1e-6 relative off either side
            k = rng.integers(1, m + 1, size=m)
            off = rng.choice([1.0, 1.0, 1 - 1e-6, 1 + 1e-6], size=m) if kind == 4 else 1.0
            p = np.array([alpha / int(kk) for kk in k]) * off
            p = np.where(rng.uniform(size=m) < 0.2, rng.uniform(size=m), p)
        yield np.asarray(p, dtype=np.float64), alpha


# ------------------------------------------------------- Bonferroni, Holm, Hochberg: statsmodels


def sm_multipletests(p, alpha, method):
    """statsmodels' ``multipletests`` (reject, adjusted), without the ``gc.collect()`` its
    Holm branch runs on every call (0.2 s each with numba loaded; it changes nothing that
    is computed)."""
    with mock.patch.object(gc, "collect", lambda *args: 0):
        reject, adjusted, _, _ = multipletests(p, alpha=alpha, method=method)
    return reject, adjusted


@pytest.mark.parametrize("procedure", sorted(SM_METHOD))
def test_unweighted_procedures_equal_statsmodels_multipletests(procedure):
    for p, alpha in p_grid():
        reject, adjusted = run(procedure, p, alpha)
        sm_reject, sm_adjusted = sm_multipletests(p, alpha, SM_METHOD[procedure])
        assert np.array_equal(reject, sm_reject), (procedure, p, alpha, reject, sm_reject)
        np.testing.assert_allclose(adjusted, sm_adjusted, rtol=1e-12, atol=0,
                                   err_msg=f"{procedure} {p} {alpha}")


@st.composite
def p_vectors(draw):
    m = draw(st.integers(1, 7))
    alpha = draw(st.sampled_from(ALPHAS))
    special = [0.0, 1.0] + [alpha / k for k in range(1, m + 1)]
    p = draw(st.lists(st.one_of(st.floats(0.0, 1.0), st.sampled_from(special)),
                      min_size=m, max_size=m))
    return np.array(p, dtype=np.float64), alpha


@settings(max_examples=300, deadline=None)
@given(p_vectors(), st.sampled_from(sorted(SM_METHOD)))
def test_unweighted_procedures_equal_statsmodels_on_generated_p(case, procedure):
    p, alpha = case
    reject, adjusted = run(procedure, p, alpha)
    sm_reject, sm_adjusted = sm_multipletests(p, alpha, SM_METHOD[procedure])
    assert np.array_equal(reject, sm_reject)
    np.testing.assert_allclose(adjusted, sm_adjusted, rtol=1e-12, atol=0)


def test_weighted_bonferroni_by_hand():
    # weights (0.5, 0.3, 0.2, 0) at alpha 0.05: critical values 0.025, 0.015, 0.01, none;
    # adjusted p / w capped at 1 (and 1 without weight, even for p = 0)
    reject, adjusted = run("bonferroni", [0.024, 0.016, 0.01, 0.0], 0.05,
                           weights=[0.5, 0.3, 0.2, 0.0])
    assert reject.tolist() == [True, False, True, False]
    np.testing.assert_allclose(adjusted, [0.048, 0.016 / 0.3, 0.05, 1.0], rtol=1e-14)


def test_weighted_holm_by_hand():
    # weights (0.5, 0.25, 0.25), p = (0.03, 0.005, 0.02), alpha 0.05. Order of p / w:
    # H1 (0.02), H0 (0.06), H2 (0.08). Step 1: H1 at 0.25 * 0.05 = 0.0125, rejected;
    # step 2: H0 at 0.05 * 0.5 / 0.75 = 0.0333, rejected; step 3: H2 at 0.05, p = 0.02
    # rejected. Adjusted: H1 0.02, H0 max(0.02, 0.03 * 0.75 / 0.5 = 0.045), H2 max(0.045,
    # 0.02) = 0.045.
    reject, adjusted = run("holm", [0.03, 0.005, 0.02], 0.05, weights=[0.5, 0.25, 0.25])
    assert reject.all()
    np.testing.assert_allclose(adjusted, [0.045, 0.02, 0.045], rtol=1e-14)
    # at alpha 0.04 step 2 fails (0.03 > 0.04 * 0.5 / 0.75 = 0.0267) and stops the test
    reject, _ = run("holm", [0.03, 0.005, 0.02], 0.04, weights=[0.5, 0.25, 0.25])
    assert reject.tolist() == [False, True, False]
    # weights summing to 0.8 spend 0.8 alpha at every step: p = (0.035, 0.035) with weights
    # (0.4, 0.4) at alpha 0.1: step 1 at 0.04 rejects H0, step 2 at 0.08 (not 0.1) H1
    reject, adjusted = run("holm", [0.035, 0.079], 0.1, weights=[0.4, 0.4])
    assert reject.tolist() == [True, True]
    np.testing.assert_allclose(adjusted, [0.0875, 0.079 / 0.8], rtol=1e-14)
    reject, _ = run("holm", [0.035, 0.081], 0.1, weights=[0.4, 0.4])
    assert reject.tolist() == [True, False]


def test_fixed_sequence_by_hand():
    # order H2, H0, H1: H2 (0.01) and H0 (0.04) rejected at 0.05, H1 (0.06) not, and H3 after
    # it is not tested although p = 0.001. Adjusted: running max along the order.
    p = [0.04, 0.06, 0.01, 0.001]
    reject, adjusted = run("fixed_sequence", p, 0.05, order=[2, 0, 1, 3])
    assert reject.tolist() == [True, False, True, False]
    np.testing.assert_allclose(adjusted, [0.04, 0.06, 0.01, 0.06])
    # names work as order entries
    mp = multiplicity_params("fixed_sequence", ["a", "b", "c", "d"], alpha=0.05,
                             order=["c", "a", "b", "d"])
    assert mp.order.tolist() == [2, 0, 1, 3]


# ------------------------------------------------------------- graphs that are known procedures


def graph_cases(seed=5, n=600):
    rng = np.random.default_rng(seed)
    for p, alpha in p_grid(seed, n):
        yield rng, p, alpha


@pytest.mark.parametrize("weighted", [False, True])
def test_holm_graph_gives_holm(weighted):
    for rng, p, alpha in graph_cases():
        m = p.size
        w = None
        if weighted:
            w = rng.dirichlet(np.ones(m)) * rng.choice([1.0, 0.8])
            w = np.where(rng.uniform(size=m) < 0.15, 0.0, w)  # some hypotheses without weight
            if w.sum() == 0:
                w[0] = 0.5
        gw, gt = holm_graph(m, w)
        r_graph, a_graph = graph_run(gw, gt, p, alpha)
        r_holm, a_holm = run("holm", p, alpha, weights=None if w is None else list(w))
        assert np.array_equal(r_graph, r_holm), (p, alpha, w)
        np.testing.assert_allclose(a_graph, a_holm, rtol=1e-12)


def test_fixed_sequence_graph_gives_fixed_sequence():
    for rng, p, alpha in graph_cases(seed=6):
        order = rng.permutation(p.size)
        gw, gt = fixed_sequence_graph(order.tolist())
        r_graph, a_graph = graph_run(gw, gt, p, alpha)
        r_seq, a_seq = run("fixed_sequence", p, alpha, order=order.tolist())
        assert np.array_equal(r_graph, r_seq), (p, order)
        assert np.array_equal(a_graph, a_seq), (p, order)  # weights 1 and 0: exact


# --------------------------------------------------------- graphical vs a plain closed test


def intersection_weights(w, g, keep):
    """Weights of the intersection hypothesis of the hypotheses ``keep`` (Bretz et al. 2009,
    section 2.2), computed as an absorbing Markov chain instead of by removing hypotheses one
    at a time: the alpha of a hypothesis outside ``keep`` travels along the edges through the
    others outside ``keep`` until it reaches one in ``keep`` (absorbed) or circles for ever
    (lost). ``w_J = w_J + w_R A`` with ``A = (I - Q)^-1 B`` over the hypotheses R that can
    reach J; Q = G[R, R], B = G[R, J]."""
    m = len(w)
    keep = list(keep)
    out = [i for i in range(m) if i not in keep]
    # the outside hypotheses with a path of positive edges into keep
    reach = set()
    changed = True
    while changed:
        changed = False
        for i in out:
            if i not in reach and any(g[i, k] > 0 for k in list(keep) + sorted(reach)):
                reach.add(i)
                changed = True
    r = sorted(reach)
    wj = w[keep].astype(np.float64).copy()
    if r:
        q = g[np.ix_(r, r)]
        b = g[np.ix_(r, keep)]
        a = np.linalg.solve(np.eye(len(r)) - q, b)
        wj += w[r] @ a
    return dict(zip(keep, wj, strict=True))


def closed_test(w, g, p):
    """Adjusted p-values of the closed test whose intersection tests are weighted Bonferroni
    tests with the weights above: max over the intersections containing H_i of
    min_j p_j / w_j(J)."""
    m = len(w)
    adjusted = np.zeros(m)
    for size in range(1, m + 1):
        for keep in itertools.combinations(range(m), size):
            wj = intersection_weights(w, g, keep)
            local = min((p[j] / x if x > 0 else math.inf) for j, x in wj.items())
            for i in keep:
                adjusted[i] = max(adjusted[i], local)
    return np.minimum(adjusted, 1.0)


def random_graph(rng, m):
    if m == 1:
        return np.array([rng.choice([1.0, 0.5])]), np.zeros((1, 1))
    w = rng.dirichlet(np.ones(m)) * rng.choice([1.0, 1.0, 0.9])
    w = np.where(rng.uniform(size=m) < 0.3, 0.0, w)
    if w.sum() == 0:
        w[rng.integers(m)] = 1.0
    g = np.zeros((m, m))
    for i in range(m):
        row = rng.dirichlet(np.ones(m - 1)) * rng.choice([1.0, 1.0, 0.7])
        row = np.where(rng.uniform(size=m - 1) < 0.3, 0.0, row)
        if rng.uniform() < 0.15:  # all to one other hypothesis (closed loops happen)
            row = np.zeros(m - 1)
            row[rng.integers(m - 1)] = 1.0
        g[i, [k for k in range(m) if k != i]] = row
    return w, g


def test_graphical_equals_the_closed_test_on_random_graphs():
    rng = np.random.default_rng(2009)
    near = compared = 0
    for _ in range(300):
        m = int(rng.integers(2, 6))
        w, g = random_graph(rng, m)
        p = rng.uniform(0, 0.08, size=m) * rng.choice([1.0, 3.0], size=m)
        p = np.minimum(p, 1.0)
        want = closed_test(w, g, p)
        reject, adjusted = graphical(p, w, g, 0.05)
        np.testing.assert_allclose(adjusted, want, rtol=1e-9, err_msg=f"{w}\n{g}\n{p}")
        for i in range(m):
            if abs(want[i] - 0.05) < 1e-9:
                near += 1
                continue
            compared += 1
            assert reject[i] == (want[i] <= 0.05), (w, g, p, i)
    assert compared > 1000 and near < 5


@pytest.mark.parametrize("doses, endpoints, gamma", [(2, 2, 0.0), (2, 3, 0.5), (3, 2, 0.3),
                                                      (1, 3, 0.0), (3, 1, 0.0)])
def test_hierarchy_graphs_equal_the_closed_test(doses, endpoints, gamma):
    w, g = hierarchy_graph(doses, endpoints, gamma=gamma)
    rng = np.random.default_rng(doses * 10 + endpoints)
    for _ in range(40):
        p = rng.uniform(0, 0.06, size=w.size)
        np.testing.assert_allclose(graphical_adjusted(p, w, g), closed_test(w, g, p),
                                   rtol=1e-9)


# ----------------------------------------------------------------------- worked examples


def test_gmcp_documentation_example_bonferroni_holm_graph():
    """gMCP's help page of ``gMCP()``: ``gMCP(createBonferroniHolmGraph(5), pvalues=c(0.01,
    0.02, 0.04, 0.04, 0.7))`` at alpha 0.05.

    By hand (Holm): sorted p 0.01, 0.02, 0.04, 0.04, 0.7 against 0.05/5, /4, /3, /2, /1:
    0.01 <= 0.01 rejects H1 (p exactly at its critical value); 0.02 > 0.0125 stops.
    Adjusted: 5 x 0.01 = 0.05; max(0.05, 4 x 0.02) = 0.08; max(0.08, 3 x 0.04) = 0.12;
    max(0.12, 2 x 0.04) = 0.12; max(0.12, 0.7) = 0.7.
    """
    w, g = holm_graph(5)
    assert np.allclose(g[~np.eye(5, dtype=bool)], 0.25) and np.allclose(w, 0.2)
    p = [0.01, 0.02, 0.04, 0.04, 0.7]
    for reject, adjusted in (graph_run(w, g, p, 0.05), run("holm", p, 0.05)):
        assert reject.tolist() == [True, False, False, False, False]
        np.testing.assert_allclose(adjusted, [0.05, 0.08, 0.12, 0.12, 0.7], rtol=1e-12)


#: Bretz et al. 2009, Figure 14 (gMCP's BretzEtAl2009a and BretzEtAl2009b), transcribed in
#: gMCP's node order H11, H21, H12, H22, H13, H23 (H_ij: dose i, endpoint j)
FIG14_LEFT = [[0, 0, 1, 0, 0, 0],
              [0, 0, 0, 1, 0, 0],
              [0, 0, 0, 0, 1, 0],
              [0, 0, 0, 0, 0, 1],
              [0, 1, 0, 0, 0, 0],
              [1, 0, 0, 0, 0, 0]]
FIG14_RIGHT = [[0, .5, .5, 0, 0, 0],
               [.5, 0, 0, .5, 0, 0],
               [0, 0, 0, .5, .5, 0],
               [0, 0, .5, 0, 0, .5],
               [0, 1, 0, 0, 0, 0],
               [1, 0, 0, 0, 0, 0]]
#: our dose-major index of gMCP's node k: H11 H21 H12 H22 H13 H23 -> 0 3 1 4 2 5
GMCP_TO_OURS = [0, 3, 1, 4, 2, 5]


@pytest.mark.parametrize("gamma, figure", [(0.0, FIG14_LEFT), (0.5, FIG14_RIGHT)])
def test_hierarchy_graph_is_bretz_2009_figure_14(gamma, figure):
    w, g = hierarchy_graph(2, 3, gamma=gamma)
    want = np.zeros((6, 6))
    for a, row in enumerate(figure):
        for b, x in enumerate(row):
            want[GMCP_TO_OURS[a], GMCP_TO_OURS[b]] = x
    np.testing.assert_array_equal(g, want)
    np.testing.assert_array_equal(w, [0.5, 0, 0, 0.5, 0, 0])


def test_bretz_2009_figure_14_two_doses_three_endpoints_by_hand():
    """Two doses, each tested down primary -> secondary -> tertiary; a dose's tertiary passes
    its alpha to the other dose's primary (Figure 14, gamma = 0). Order: H11 H12 H13 H21 H22
    H23 (dose-major), p = 0.010 0.020 0.030 0.005 0.040 0.001, weights 1/2 on H11 and H21.

    Adjusted p-values (remove the smallest p / w each time):
    1. H11 0.010/0.5 = 0.02, H21 0.005/0.5 = 0.01 (others weight 0): H21, q = 0.01.
       H22 gets 0.5; H13 now points to H22 (g = 0 + g(H13,H21) g(H21,H22) = 1).
    2. H11 0.02, H22 0.040/0.5 = 0.08: H11, q = 0.02. H12 gets 0.5; H23 -> H12.
    3. H12 0.020/0.5 = 0.04, H22 0.08: H12, q = 0.04. H13 gets 0.5; H23 -> H13.
    4. H13 0.030/0.5 = 0.06, H22 0.08: H13, q = 0.06. H22 gets 0.5 more (weight 1);
       H23 -> H22 (g = g(H23,H13) g(H13,H22) = 1).
    5. H22 0.040/1 = 0.04, H23 weight 0: H22, q = max(0.06, 0.04) = 0.06. H23 gets 1.
    6. H23 0.001/1: q = max(0.06, 0.001) = 0.06 (its p of 0.001 waits behind its gates).
    Adjusted: H11 0.02, H12 0.04, H13 0.06, H21 0.01, H22 0.06, H23 0.06.

    Algorithm 1 at alpha 0.025: H21 (0.005 <= 0.0125) rejected, H22 at 0.0125: 0.04 no;
    H11 (0.01 <= 0.0125) rejected, H12 at 0.0125: 0.02 no. Stop: {H11, H21}.
    At alpha 0.05: H21, H11, then H12 (0.02 <= 0.025) rejected; H13 0.03 > 0.025 and
    H22 0.04 > 0.025. Stop: {H11, H12, H21}.
    """
    w, g = hierarchy_graph(2, 3)
    p = np.array([0.010, 0.020, 0.030, 0.005, 0.040, 0.001])
    np.testing.assert_allclose(graphical_adjusted(p, w, g), [0.02, 0.04, 0.06, 0.01, 0.06, 0.06],
                               rtol=1e-14)
    assert graphical_reject(p, w, g, 0.025).tolist() == [True, False, False, True, False, False]
    assert graphical_reject(p, w, g, 0.05).tolist() == [True, True, False, True, False, False]


def test_parallel_gatekeeping_graph_by_hand():
    """Parallel gatekeeping (Dmitrienko, Offen & Westfall 2003) as the graph of Bretz et al.
    2009 / gMCP's ``parallelGatekeeping()``: primaries H1, H2 with weight 1/2 each, each
    passing 1/2 to each secondary; H3 -> H4 and H4 -> H3 with 1. p = 0.02, 0.03, 0.01, 0.5.

    1. H1 0.02/0.5 = 0.04, H2 0.06: H1, q = 0.04. H3 and H4 get 0.25 each; no edge into H1,
       so the rest of the graph is unchanged.
    2. H2 0.06, H3 0.01/0.25 = 0.04, H4 2: H3, q = max(0.04, 0.04) = 0.04. H4 gets
       0.25 x 1 (weight 0.5). H2 -> H4 becomes (0.5 + 0.5 x 1) / (1 - 0.5 x 0) = 1;
       H4 -> H2 is (0 + 1 x 0) with g(H4,H3) g(H3,H4) = 1: set to 0.
    3. H2 0.03/0.5 = 0.06, H4 0.5/0.5 = 1: H2, q = 0.06. H4 gets 0.5 (weight 1).
    4. H4 0.5/1: q = 0.5.
    Adjusted 0.04, 0.06, 0.04, 0.5: at alpha 0.05 H1 and H3 rejected; H2 (0.03 > 0.025 at
    its weight 1/2) is not.
    """
    w = [0.5, 0.5, 0.0, 0.0]
    g = [[0, 0, 0.5, 0.5], [0, 0, 0.5, 0.5], [0, 0, 0, 1], [0, 0, 1, 0]]
    reject, adjusted = graph_run(w, g, [0.02, 0.03, 0.01, 0.5], 0.05)
    assert reject.tolist() == [True, False, True, False]
    np.testing.assert_allclose(adjusted, [0.04, 0.06, 0.04, 0.5], rtol=1e-14)


# ----------------------------------------------------------------------------- consonance


def every_procedure(rng, m):
    """(procedure, keyword arguments) of each procedure on m hypotheses."""
    w, g = random_graph(rng, m)
    yield "none", {}
    yield "bonferroni", {"weights": list(w)}
    yield "holm", {"weights": list(w)}
    yield "hochberg", {}
    yield "fixed_sequence", {"order": rng.permutation(m).tolist()}
    yield "graphical", {"weights": list(w), "transitions": g.tolist()}


def test_rejected_exactly_when_the_adjusted_p_value_is_at_most_alpha():
    rng = np.random.default_rng(3)
    seen = set()
    for p, alpha in p_grid(seed=3, n=600):
        for procedure, kw in every_procedure(rng, p.size):
            reject, adjusted = run(procedure, p, alpha, **kw)
            # the kernels decide from the number they report, to the last bit
            assert np.array_equal(reject, adjusted <= crit(alpha)), (procedure, p, kw)
            clear = np.abs(adjusted - alpha) > 1e-9 * alpha
            assert np.array_equal(reject[clear], adjusted[clear] <= alpha)
            seen.add(procedure)
    assert seen == set(PROCEDURES)


def test_rejections_grow_with_alpha():
    rng = np.random.default_rng(4)
    levels = np.linspace(0.001, 0.3, 30)
    for _ in range(150):
        m = int(rng.integers(1, 7))
        p = rng.uniform(0, 0.15, size=m)
        for procedure, kw in every_procedure(rng, m):
            mp = multiplicity_params(procedure, m, **kw)
            before = np.zeros(m, dtype=bool)
            for alpha in levels:
                reject, _ = multiplicity_adjust(p, mp._replace(alpha=float(alpha)))
                assert not (before & ~reject).any(), (procedure, p, kw, alpha)
                before = reject


# ------------------------------------------------------------------- the batch and nan p


def test_batch_equals_one_trial_at_a_time_and_nan_is_never_rejected():
    rng = np.random.default_rng(8)
    w, g = hierarchy_graph(2, 2, gamma=0.5)
    mp = multiplicity_params("graphical", 4, alpha=0.05, weights=w, transitions=g)
    p = rng.uniform(0, 0.05, size=(50, 4))
    p[::7, 1] = np.nan
    reject, adjusted = multiplicity_adjust_trials(p, mp)
    for t in range(50):
        r, a = multiplicity_adjust(p[t], mp)
        assert np.array_equal(r, reject[t])
        np.testing.assert_array_equal(a, adjusted[t])
        one = np.where(np.isnan(p[t]), 1.0, p[t])
        r1, a1 = multiplicity_adjust(one, mp)  # nan: the procedure as if p = 1
        assert np.array_equal(r, r1)
        np.testing.assert_array_equal(np.where(np.isnan(p[t]), np.nan, a1), a)
    assert not reject[::7, 1].any() and np.isnan(adjusted[::7, 1]).all()
    assert reject[::7].any()  # the others still are


def test_weight_zero_is_not_rejected_even_with_p_zero():
    reject, adjusted = run("bonferroni", [0.0, 0.0], 0.05, weights=[1.0, 0.0])
    assert reject.tolist() == [True, False] and adjusted.tolist() == [0.0, 1.0]
    # in a graph it is rejected once it has received weight
    w, g = fixed_sequence_graph([0, 1])
    reject, adjusted = graph_run(w, g, [0.0, 0.0], 0.05)
    assert reject.tolist() == [True, True] and adjusted.tolist() == [0.0, 0.0]


# -------------------------------------------------------------------------- FWER by simulation

N_SIM = 20_000


def fwer_bound(alpha, n=N_SIM):
    return alpha + 3 * math.sqrt(alpha * (1 - alpha) / n)


def one_sided_p(z):
    return ndtr(-z)


def correlated_z(rng, n, m, rho, mean):
    shared = rng.standard_normal((n, 1))
    return math.sqrt(rho) * shared + math.sqrt(1 - rho) * rng.standard_normal((n, m)) + mean


def procedures_on_four():
    w, g = hierarchy_graph(2, 2)  # H0 H1: dose 0 primary, secondary; H2 H3: dose 1
    return [("bonferroni", {}), ("holm", {}), ("hochberg", {}),
            ("fixed_sequence", {"order": [0, 2, 1, 3]}),
            ("graphical", {"weights": w, "transitions": g}),
            ("graphical", dict(zip(("weights", "transitions"), holm_graph(4), strict=True)))]


def fwer(procedure, kw, p, alpha, true_nulls):
    mp = multiplicity_params(procedure, p.shape[1], alpha=alpha, **kw)
    reject, _ = multiplicity_adjust_trials(p, mp)
    return reject[:, true_nulls].any(axis=1).mean()


def test_fwer_under_the_global_null_with_independent_p():
    rng = np.random.default_rng(20090204)
    alpha = 0.05
    p = rng.uniform(size=(N_SIM, 4))
    for procedure, kw in procedures_on_four():
        rate = fwer(procedure, kw, p, alpha, [0, 1, 2, 3])
        assert rate <= fwer_bound(alpha), (procedure, rate)
    # the check has power: without adjustment the FWER is 1 - 0.95^4 = 0.185
    assert fwer("none", {}, p, alpha, [0, 1, 2, 3]) > 0.17


def test_hochberg_fwer_with_positively_correlated_statistics():
    rng = np.random.default_rng(1988)
    alpha = 0.025
    for rho in (0.3, 0.8):
        p = one_sided_p(correlated_z(rng, N_SIM, 4, rho, 0.0))
        assert fwer("hochberg", {}, p, alpha, [0, 1, 2, 3]) <= fwer_bound(alpha), rho


def test_fwer_over_the_true_nulls_under_a_partial_null():
    # both doses' primaries (H0, H2) work with a large effect (z mean 4): nearly all alpha
    # flows on to the secondaries, which are null; the FWER over them stays below alpha
    rng = np.random.default_rng(586)
    alpha = 0.025
    mean = np.array([4.0, 0.0, 4.0, 0.0])
    for rho in (0.0, 0.5):
        p = one_sided_p(correlated_z(rng, N_SIM, 4, rho, mean))
        for procedure, kw in procedures_on_four():
            rate = fwer(procedure, kw, p, alpha, [1, 3])
            assert rate <= fwer_bound(alpha), (procedure, rho, rate)
        assert fwer("none", {}, p, alpha, [1, 3]) > 0.04  # unadjusted: about 2 alpha


# ---------------------------------------------------------------------------- validation

NAMES = ["bel10.sri4", "bel1.sri4", "bel10.sri5"]
GOOD_G = [[0, 0.5, 0.5], [0.5, 0, 0.5], [0.5, 0.5, 0]]


@pytest.mark.parametrize("kwargs, fragments", [
    ({"procedure": "holms"}, ["'holms'", "bonferroni, holm"]),
    ({"alpha": 1.0}, ["alpha = 1.0", "(0, 1)"]),
    ({"alpha": 0.0}, ["alpha = 0.0"]),
    ({"alpha": "0.05"}, ["alpha = '0.05' is not a number"]),
    ({"weights": [0.5, -0.1, 0.2]}, ["weights[1] (bel1.sri4) = -0.1", ">= 0"]),
    ({"weights": [0.5, 0.4, 0.2]}, ["weights sum to 1.1 > 1"]),
    ({"weights": [0.5, 0.5]}, ["weights has 2 entries", "3 numbers"]),
    ({"weights": [0.5, float("nan"), 0.0]}, ["weights[1] (bel1.sri4) = nan"]),
    ({"weights": [0.0, 0.0, 0.0]}, ["weights are all 0"]),
    ({"transitions": [[0, 0.5, 0.5], [0.5, 0.2, 0.3], [0.5, 0.5, 0]]},
     ["transitions[1][1] (bel1.sri4) = 0.2", "diagonal must be 0"]),
    ({"transitions": [[0, 0.5, 0.5], [0.5, 0, -0.5], [0.5, 0.5, 0]]},
     ["transitions[1][2] = -0.5", "bel1.sri4's alpha passed to bel10.sri5", ">= 0"]),
    ({"transitions": [[0, 0.7, 0.5], [0.5, 0, 0.5], [0.5, 0.5, 0]]},
     ["transitions[0] (bel10.sri4) sums to 1.2 > 1"]),
    ({"transitions": [[0, 0.5, 0.5], [0.5, 0, 0.5]]}, ["transitions has 2 entries", "3 x 3"]),
    ({"transitions": [[0, 0.5, 0.5], [0.5, 0.5], [0.5, 0.5, 0]]},
     ["transitions[1] (bel1.sri4) has 2 entries"]),
    ({"transitions": None}, ["graphical procedure needs transitions"]),
])
def test_bad_graphical_input_names_the_entry(kwargs, fragments):
    args = {"procedure": "graphical", "hypotheses": NAMES, "alpha": 0.025,
            "weights": [0.5, 0.5, 0.0], "transitions": GOOD_G, **kwargs}
    with pytest.raises(ValueError) as exc:
        multiplicity_params(args.pop("procedure"), args.pop("hypotheses"), **args)
    for f in fragments:
        assert f in str(exc.value), (f, str(exc.value))


@pytest.mark.parametrize("order, fragments", [
    ([0, 1, 1], ["order[2] repeats hypothesis 1 (bel1.sri4)", "order[1]"]),
    ([0, 1], ["order has 2 entries"]),
    ([0, 1, 3], ["order[2] = 3 is not a hypothesis index", "0 to 2"]),
    (["bel10.sri4", "bel1.sri4", "sri6"], ["order[2] = 'sri6' is not a hypothesis",
                                           "bel10.sri5"]),
    ([0, 1.0, 2], ["order[1] = 1.0 is neither"]),
    ([True, 1, 2], ["order[0] = True is neither"]),
])
def test_bad_order_names_the_entry(order, fragments):
    with pytest.raises(ValueError) as exc:
        multiplicity_params("fixed_sequence", NAMES, order=order)
    for f in fragments:
        assert f in str(exc.value), (f, str(exc.value))


@pytest.mark.parametrize("procedure, kwargs, fragment", [
    ("hochberg", {"weights": [0.5, 0.5]}, "weights is not used by the hochberg procedure"),
    ("holm", {"transitions": [[0, 1], [1, 0]]}, "transitions is not used by the holm"),
    ("bonferroni", {"order": [0, 1]}, "order is not used by the bonferroni"),
    ("graphical", {"transitions": [[0, 1], [1, 0]]}, "graphical procedure needs weights"),
])
def test_fields_a_procedure_does_not_take_or_needs(procedure, kwargs, fragment):
    with pytest.raises(ValueError, match=fragment):
        multiplicity_params(procedure, 2, **kwargs)


def test_bad_hypotheses():
    with pytest.raises(ValueError, match="at least one hypothesis"):
        multiplicity_params("holm", 0)
    with pytest.raises(ValueError, match="hypotheses repeat a"):
        multiplicity_params("holm", ["a", "b", "a"])
    with pytest.raises(ValueError, match=r"hypotheses\[1\] = 3 is not a name"):
        multiplicity_params("holm", ["a", 3])


def test_the_record_holds_neutral_values_for_unused_fields():
    mp = multiplicity_params("holm", 4, alpha=0.025)
    assert mp.procedure == PROCEDURES.index("holm") and mp.alpha == 0.025
    np.testing.assert_array_equal(mp.weights, np.full(4, 0.25))
    np.testing.assert_array_equal(mp.transitions, np.zeros((4, 4)))
    assert mp.order.dtype == np.int64 and mp.order.tolist() == [0, 1, 2, 3]
    # 1/3 + 1/3 + 1/3 is above 1 in floating point and still accepted
    multiplicity_params("bonferroni", 3, weights=[1 / 3] * 3)


def test_graph_builders():
    w, g = holm_graph(3, [0.5, 0.3, 0.2])
    np.testing.assert_allclose(g, [[0, 0.6, 0.4], [0.5 / 0.7, 0, 0.2 / 0.7],
                                   [0.5 / 0.8, 0.3 / 0.8, 0]])
    w, g = fixed_sequence_graph([2, 0, 1])
    assert w.tolist() == [0, 0, 1] and g[2, 0] == 1 and g[0, 1] == 1 and g.sum() == 2
    w, g = hierarchy_graph(3, 1, dose_weights=[0.5, 0.25, 0.25])
    np.testing.assert_array_equal(g, [[0, .5, .5], [.5, 0, .5], [.5, .5, 0]])
    w, g = hierarchy_graph(1, 3)  # one dose: a fixed sequence
    assert w.tolist() == [1, 0, 0] and g.tolist() == [[0, 1, 0], [0, 0, 1], [0, 0, 0]]
    with pytest.raises(ValueError, match="gamma = 0.5 must be 0"):
        hierarchy_graph(1, 3, gamma=0.5)
    with pytest.raises(ValueError, match="gamma = 1.5 is outside"):
        hierarchy_graph(2, 2, gamma=1.5)
    with pytest.raises(ValueError, match="n_doses = 0"):
        hierarchy_graph(0, 2)
    with pytest.raises(ValueError, match="dose_weights sum to 1.2"):
        hierarchy_graph(2, 2, dose_weights=[0.6, 0.6])
    with pytest.raises(ValueError, match="order"):
        fixed_sequence_graph([0, 0])


# ------------------------------------------------------------------------------ summaries


def test_summaries_on_a_hand_counted_example():
    reject = np.array([[1, 1, 0],
                       [1, 0, 0],
                       [0, 0, 0],
                       [1, 1, 1],
                       [0, 1, 0]], dtype=bool)
    s = summarize_rejections(reject, subset=[0, 1])
    assert s.n_trials == 5
    np.testing.assert_allclose(s.power, [0.6, 0.6, 0.2])
    np.testing.assert_allclose(s.power_mcse, np.sqrt([0.6 * 0.4 / 5, 0.6 * 0.4 / 5, 0.2 * 0.8 / 5]))
    assert s.disjunctive == pytest.approx(0.8)  # all but trial 3
    assert s.disjunctive_mcse == pytest.approx(math.sqrt(0.8 * 0.2 / 5))
    assert s.conjunctive == pytest.approx(0.2)  # trial 4
    assert s.conjunctive_mcse == pytest.approx(math.sqrt(0.2 * 0.8 / 5))
    # counts 2, 1, 0, 3, 1: mean 1.4, sample SD sqrt(((.6)^2+(.4)^2+(1.4)^2+(1.6)^2+(.4)^2)/4)
    assert s.expected_rejections == pytest.approx(1.4)
    sd = math.sqrt((0.36 + 0.16 + 1.96 + 2.56 + 0.16) / 4)
    assert s.expected_rejections_mcse == pytest.approx(sd / math.sqrt(5))
    assert s.subset == (0, 1)
    assert s.subset_any == pytest.approx(0.8)  # trials 1, 2, 4, 5
    assert s.subset_all == pytest.approx(0.4)  # trials 1, 4
    assert s.subset_all_mcse == pytest.approx(math.sqrt(0.4 * 0.6 / 5))
    table = rejection_table(s, ["a", "b", "c"])
    assert list(table.columns) == ["statistic", "hypothesis", "value", "mcse"]
    row = table.set_index(["statistic", "hypothesis"]).loc[("subset_all_power", "a+b")]
    assert row["value"] == pytest.approx(0.4)
    assert len(table) == 3 + 3 + 2


def test_summary_mcse_matches_the_spread_of_repeated_simulations():
    # the binomial MCSE is the SD of the power estimate over repeated simulations
    rng = np.random.default_rng(12)
    n = 400
    mp = multiplicity_params("holm", 3, alpha=0.05)
    estimates, mcses = [], []
    for _ in range(300):
        p = one_sided_p(rng.standard_normal((n, 3)) + np.array([2.5, 2.0, 0.0]))
        reject, _ = multiplicity_adjust_trials(p, mp)
        s = summarize_rejections(reject)
        estimates.append(s.disjunctive)
        mcses.append(s.disjunctive_mcse)
    assert np.std(estimates, ddof=1) == pytest.approx(np.mean(mcses), rel=0.15)


def test_summary_edges_and_errors():
    s = summarize_rejections(np.zeros((1, 2), dtype=bool))
    assert s.power.tolist() == [0.0, 0.0] and np.isnan(s.power_mcse).all()
    assert np.isnan(s.subset_any) and s.subset == ()
    with pytest.raises(ValueError, match="2-d boolean"):
        summarize_rejections(np.zeros((3, 2)))
    with pytest.raises(ValueError, match=r"subset\[1\] = 5 is not a hypothesis index"):
        summarize_rejections(np.zeros((3, 2), dtype=bool), subset=[0, 5])
    with pytest.raises(ValueError, match="listed twice"):
        summarize_rejections(np.zeros((3, 2), dtype=bool), subset=[1, 1])
    with pytest.raises(ValueError, match="subset is empty"):
        summarize_rejections(np.zeros((3, 2), dtype=bool), subset=[])


def test_kernels_called_directly():
    # the per-procedure kernels take plain arrays (for callers inside other kernels)
    p = np.array([0.01, 0.04, 0.03])
    r, a = holm(p, np.full(3, 1 / 3), 0.05)
    assert r.tolist() == [True, False, False]
    r, a = fixed_sequence(p, np.array([0, 2, 1]), 0.05)
    assert r.tolist() == [True, True, True]
