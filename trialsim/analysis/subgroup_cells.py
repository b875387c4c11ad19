"""Cell counts of a subgroup factor: its patients split by (level, arm, stratum), with each
endpoint's responders and evaluable patients per cell, from one pass over the patients.

A cell is a covariate pattern of every subgroup model of the factor: a level's comparison
(intercept, treatment, strata; ``comparisons.compare_patients``) is fitted on the level's
cells of the two arms, the interaction model (``subgroups.interaction_kernel``) on all the
factor's cells of the two arms. The logistic likelihood depends on the patients only through
these counts, so every level and the interaction are analysed from them without going back
to the patients. Each cell keeps its first patient, and each endpoint's first evaluable one,
so that the patterns of an analysis come out in the order in which ``pattern_groups`` meets
them among the patients: the fits are those on the patients, to the last bit.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from trialsim.analysis.comparisons import (
    compare_counts,
    compare_patients,
    compare_rates,
    compare_result,
    critical_z,
    fill_unanalysable,
    fitted_rows,
    separates,
)
from trialsim.analysis.endpoints import NOT_EVALUABLE, RESPONDER
from trialsim.analysis.logistic import drop_constant_columns, fit_work, pool_rows
from trialsim.analysis.newton import (
    LANE_CONVERGED,
    LANE_FAILED,
    LANE_SCALAR,
    BatchWork,
    batch_work,
    cov_offset,
    fit_sizes,
    newton_batch,
    newton_fit,
)
from trialsim.analysis.subgroups import (
    _interaction_design,
    interaction_counts,
    interaction_kept,
    interaction_kernel,
    interaction_result,
    separated_cell,
)
from trialsim.core.jit import jit

#: most stratification columns coded into cells (2^q strata per level and arm)
MAX_STRATUM_BITS = 10
#: fewest fits on one design run side by side (fewer: one by one)
MIN_LANES = 4


class FactorCells(NamedTuple):
    """The cells of one factor: cell ``(level * n_arms + arm) * n_strata + stratum``."""

    n_arms: int
    n_strata: int
    size: np.ndarray  # int64 (n_cells,): patients
    first: np.ndarray  # int64 (n_cells,): first patient (index), -1 when empty
    responders: np.ndarray  # int64 (n_cells, n_endpoints)
    evaluable: np.ndarray  # int64 (n_cells, n_endpoints): patients in the denominator
    first_evaluable: np.ndarray  # int64 (n_cells, n_endpoints): first of them, -1 none


@jit
def stratum_bits(strata):
    """Each patient's stratum as a binary code (bit j: column j is 1) when ``strata`` holds
    only 0 and 1 in at most ``MAX_STRATUM_BITS`` columns; else an empty array (no cells)."""
    n, q = strata.shape
    codes = np.zeros(n, dtype=np.int64)
    if q > MAX_STRATUM_BITS:
        return codes[:0]
    for i in range(n):
        c = 0
        for j in range(q):
            x = strata[i, j]
            if x == 1.0:
                c |= 1 << j
            elif x != 0.0:
                return codes[:0]
        codes[i] = c
    return codes


@jit
def level_codes(member):
    """Each patient's level (row of ``member``, the levels of one factor) or -1 for none;
    ``ok`` False when a patient is in two levels (the levels do not partition, no cells)."""
    n_lev, n = member.shape
    code = np.full(n, -1, dtype=np.int64)
    ok = True
    for lv in range(n_lev):
        for i in range(n):
            if member[lv, i]:
                if code[i] < 0:
                    code[i] = lv
                else:
                    ok = False
    return code, ok


@jit
def factor_cells(code, n_levels, arm, n_arms, bits, n_strata, resp_t):
    """Count the cells of one factor.

    Parameters
    ----------
    code : ndarray of int64, shape (n_patients,)
        Each patient's level, -1 for none (left out).
    n_levels : int
    arm : ndarray of int64, shape (n_patients,)
    n_arms : int
    bits : ndarray of int64, shape (n_patients,)
        Each patient's stratum (``stratum_bits``), below ``n_strata``.
    n_strata : int
    resp_t : ndarray of uint8, shape (n_patients, n_endpoints)
        Responses, patient-major: 0/1 or ``NOT_EVALUABLE``.

    Returns
    -------
    FactorCells
    """
    n, n_end = resp_t.shape
    n_cells = n_levels * n_arms * n_strata
    size = np.zeros(n_cells, dtype=np.int64)
    first = np.full(n_cells, -1, dtype=np.int64)
    responders = np.zeros((n_cells, n_end), dtype=np.int64)
    left_out = np.zeros((n_cells, n_end), dtype=np.int64)
    cell = np.empty(n, dtype=np.int64)
    for i in range(n):
        if code[i] < 0:
            cell[i] = -1
            continue
        k = (code[i] * n_arms + arm[i]) * n_strata + bits[i]
        cell[i] = k
        size[k] += 1
        if first[k] < 0:
            first[k] = i
        for e in range(n_end):  # (indexed, not through row views: a view costs a
            v = resp_t[i, e]      # reference count)
            responders[k, e] += v == RESPONDER
            left_out[k, e] += v == NOT_EVALUABLE
    evaluable = np.empty((n_cells, n_end), dtype=np.int64)
    first_evaluable = np.empty((n_cells, n_end), dtype=np.int64)
    for e in range(n_end):
        some_left_out = False
        for k in range(n_cells):
            evaluable[k, e] = size[k] - left_out[k, e]
            first_evaluable[k, e] = first[k]
            if left_out[k, e] > 0:
                some_left_out = True
        if some_left_out:  # the first evaluable patient of each cell, from the patients
            for k in range(n_cells):
                first_evaluable[k, e] = -1
            for i in range(n):
                k = cell[i]
                if k >= 0 and first_evaluable[k, e] < 0 and resp_t[i, e] != NOT_EVALUABLE:
                    first_evaluable[k, e] = i
    return FactorCells(n_arms, n_strata, size, first, responders, evaluable, first_evaluable)


@jit
def comparison_cells(cells, levels, trt, ctl, out):
    """The non-empty cells of ``levels`` (level indices) on a comparison's two arms, in the
    order of their first patient (the order of ``pattern_groups`` on the patients), into
    ``out``; returns how many."""
    g = 0
    for lv in levels:
        for a in (trt, ctl):
            base = (lv * cells.n_arms + a) * cells.n_strata
            for s in range(cells.n_strata):
                k = base + s
                if cells.size[k] > 0:
                    out[g] = k
                    g += 1
    _sort_by(out[:g], cells.first)
    return g


class Seen(NamedTuple):
    """Each endpoint's patterns and counts in one comparison (``evaluable_cells``), so that
    an endpoint with the same as an earlier one takes its result (``earlier``)."""

    n: np.ndarray  # int64 (n_endpoints,): patterns holding an evaluable patient
    order: np.ndarray  # int64 (n_endpoints, n_patterns): their indices, in order
    y: np.ndarray  # float64 (n_endpoints, n_patterns): responders
    m: np.ndarray  # float64 (n_endpoints, n_patterns): evaluable patients
    hash: np.ndarray  # int64 (n_endpoints,)
    key: np.ndarray  # int64 (n_patterns,): work space


@jit
def seen_work(n_end, n_patterns):
    """An empty ``Seen`` for ``n_end`` endpoints of up to ``n_patterns`` patterns."""
    return Seen(np.zeros(n_end, dtype=np.int64), np.zeros((n_end, n_patterns), dtype=np.int64),
                np.zeros((n_end, n_patterns)), np.zeros((n_end, n_patterns)),
                np.zeros(n_end, dtype=np.int64), np.zeros(n_patterns, dtype=np.int64))


@jit
def evaluable_cells(cells, pattern_cells, e, seen):
    """Endpoint ``e``'s patterns among ``pattern_cells`` (one cell each): those holding an
    evaluable patient, in the order of their first one (``pattern_counts`` and
    ``evaluable_patterns`` on the patients), as indices into ``pattern_cells``, with their
    responders and evaluable patients, into row ``e`` of ``seen``; returns how many.
    (Indexed throughout, no views: a view costs a reference count.)"""
    order = seen.order
    key = seen.key
    g = 0
    for j in range(pattern_cells.shape[0]):
        k = pattern_cells[j]
        if cells.evaluable[k, e] > 0:
            # insertion by first evaluable patient (sorted already unless some patients
            # of the endpoint are left out)
            v = cells.first_evaluable[k, e]
            b = g - 1
            while b >= 0 and key[b] > v:
                order[e, b + 1] = order[e, b]
                key[b + 1] = key[b]
                b -= 1
            order[e, b + 1] = j
            key[b + 1] = v
            g += 1
    h = g
    for a in range(g):
        k = pattern_cells[order[e, a]]
        r = cells.responders[k, e]
        c = cells.evaluable[k, e]
        seen.y[e, a] = float(r)
        seen.m[e, a] = float(c)
        h = h * 1000003 + (order[e, a] * 65537 + r) * 65537 + c
    seen.n[e] = g
    seen.hash[e] = h
    return g


@jit
def earlier(seen, e):
    """An endpoint before ``e`` with the same patterns, in the same order, and the same
    counts as ``e`` (its analysis is then ``e``'s, to the last bit), or -1."""
    g = seen.n[e]
    for d in range(e):
        if seen.hash[d] != seen.hash[e] or seen.n[d] != g:
            continue
        same = True
        for j in range(g):
            if (seen.order[d, j] != seen.order[e, j] or seen.y[d, j] != seen.y[e, j]
                    or seen.m[d, j] != seen.m[e, j]):
                same = False
                break
        if same:
            return d
    return -1


@jit
def stratum_columns(s, dest):
    """The 0/1 strata of stratum code ``s`` (``stratum_bits``) into ``dest`` (q,)."""
    for j in range(dest.shape[0]):
        dest[j] = 1.0 if (s >> j) & 1 else 0.0


@jit
def _sort_by(idx, key):
    """Sort ``idx`` in place by ``key[idx]`` (insertion sort: a few dozen distinct keys)."""
    for a in range(1, idx.shape[0]):
        v = idx[a]
        kv = key[v]
        b = a - 1
        while b >= 0 and key[idx[b]] > kv:
            idx[b + 1] = idx[b]
            b -= 1
        idx[b + 1] = v


# --- every subgroup analysis of a trial, from the cells ---------------------------------


@jit
def analyse_levels(member, response, arm, n_arms, strata, pairs, alpha, factor_start, out,
                   rates, counts, interaction):
    """Each subgroup level's patients analysed as the trial is (``compare_patients``), with
    their arm sizes and rates (among an endpoint's evaluable patients), and each factor's
    treatment x level interaction test (``interaction_kernel``), into one replicate's rows of
    the ``ChunkResult`` arrays.

    Parameters
    ----------
    member : ndarray of bool, shape (n_levels, n_patients)
        The patients of every level, the levels of factor f at rows
        ``factor_start[f] … factor_start[f + 1] - 1``.
    response : ndarray of uint8, shape (n_endpoints, n_patients)
    arm : ndarray of int64, shape (n_patients,)
    n_arms : int
    strata : ndarray of float64, shape (n_patients, q)
    pairs : ndarray of int64, shape (n_comparisons, 2)
    alpha : float
    factor_start : ndarray of int64, shape (n_factors + 1,)
    out : ndarray of float64, shape (n_levels, n_endpoints, n_comparisons, N_FIELDS)
    rates : ndarray of float64, shape (n_levels, n_endpoints, n_arms)
    counts : ndarray of int64, shape (n_levels, n_arms)
    interaction : ndarray of float64, shape (n_factors, n_endpoints, n_comparisons, 3)

    Notes
    -----
    A factor whose levels partition its patients, with 0/1 strata, is analysed from its
    cells (``factor_cells``), bit-identical to the patient-by-patient kernels; any other
    (levels that overlap, other strata) by those kernels.
    """
    n = arm.shape[0]
    n_end = response.shape[0]
    resp_t = np.ascontiguousarray(response.T)
    bits = stratum_bits(strata)
    q = strata.shape[1]
    for f in range(factor_start.shape[0] - 1):
        first = factor_start[f]
        n_lev = factor_start[f + 1] - first
        code, partition = level_codes(member[first:first + n_lev])
        if partition and bits.shape[0] == n and 2 + 2 * (n_lev - 1) + q <= 62:
            cells = factor_cells(code, n_lev, arm, n_arms, bits, 1 << q, resp_t)
            for lv in range(n_lev):
                _level_rates(cells, lv, n_end, rates[first + lv], counts[first + lv])
                _compare_level(cells, lv, q, pairs, alpha, out[first + lv])
            _interaction_of_cells(cells, n_lev, q, pairs, interaction[f])
            continue
        among = np.empty(n, dtype=np.int64)
        for lv in range(first, first + n_lev):
            m = 0
            for i in range(n):
                if member[lv, i]:
                    among[m] = i
                    m += 1
            _patient_rates(response, arm, among[:m], n_arms, rates[lv], counts[lv])
            out[lv] = compare_patients(response, arm, strata, pairs, alpha, among[:m])
        interaction[f] = interaction_kernel(response, arm, code, n_lev, strata, pairs)


@jit
def _patient_rates(response, arm, patients, n_arms, rates, counts):
    """Arm sizes (``counts``, (n_arms,)) and rates among each endpoint's evaluable patients
    (``rates``, (n_endpoints, n_arms)) of ``patients``."""
    n_end = response.shape[0]
    hits = np.zeros((n_end, n_arms))
    evaluated = np.zeros((n_end, n_arms))
    counts[:] = 0
    for i in patients:
        counts[arm[i]] += 1
        for t in range(n_end):
            if response[t, i] != NOT_EVALUABLE:
                hits[t, arm[i]] += response[t, i]
                evaluated[t, arm[i]] += 1.0
    for t in range(n_end):
        for a in range(n_arms):
            m = evaluated[t, a]
            rates[t, a] = hits[t, a] / m if m > 0 else np.nan


@jit
def _level_rates(cells, lv, n_end, rates, counts):
    """``_patient_rates`` of level ``lv`` from its cells."""
    for a in range(cells.n_arms):
        base = (lv * cells.n_arms + a) * cells.n_strata
        size = 0
        for s in range(cells.n_strata):
            size += cells.size[base + s]
        counts[a] = size
        for t in range(n_end):
            hits = 0
            evaluated = 0
            for s in range(cells.n_strata):
                hits += cells.responders[base + s, t]
                evaluated += cells.evaluable[base + s, t]
            rates[t, a] = hits / evaluated if evaluated > 0 else np.nan


@jit
def _compare_level(cells, lv, q, pairs, alpha, out):
    """``compare_patients`` of level ``lv`` from its cells, into ``out`` (n_endpoints,
    n_comparisons, N_FIELDS). The endpoints fitted on the same patterns (every pattern of
    the comparison, or those left when a stratum separates) are fitted side by side
    (``Lanes``)."""
    n_end = out.shape[0]
    z_crit = critical_z(alpha)
    cap = 2 * cells.n_strata
    pattern_cells = np.empty(cap, dtype=np.int64)
    levels = np.full(1, lv, dtype=np.int64)
    seen = seen_work(n_end, cap)
    wk = fit_work(cap, 2 + q)
    lanes = lanes_work(n_end, cap, 2 + q)
    designs = designs_work(n_end, cap)
    for c in range(pairs.shape[0]):
        trt = pairs[c, 0]
        g = comparison_cells(cells, levels, trt, pairs[c, 1], pattern_cells)
        patterns = np.empty((g, 2 + q))
        for j in range(g):
            k = pattern_cells[j]
            patterns[j, 0] = 1.0
            patterns[j, 1] = 1.0 if (k // cells.n_strata) % cells.n_arms == trt else 0.0
            stratum_columns(k % cells.n_strata, patterns[j, 2:])
        keep_all = drop_constant_columns(patterns, 1)
        n_designs = 0
        for e in range(n_end):
            designs.of[e] = -1
            g_e = evaluable_cells(cells, pattern_cells[:g], e, seen)
            if earlier(seen, e) >= 0:  # its result once the earlier one has it
                continue
            order, y, m = seen.order[e, :g_e], seen.y[e, :g_e], seen.m[e, :g_e]
            every = _identity(order, g)
            rows = patterns if every else patterns[order]
            if every:  # fitted on every pattern, or those a separating stratum leaves
                if not compare_rates(out, e, c, rows, y, m):
                    continue  # not analysable (as in compare_counts)
                kept = designs.rows[e, :g]
                if separates(rows, y, m):
                    fit, analysable = fitted_rows(rows, y, m)
                    if not analysable:
                        fill_unanalysable(out, e, c)
                        continue
                    kept[:] = fit
                else:
                    kept[:] = True
                n_designs = design_of(designs, e, g, n_designs)
                continue
            # (the estimable columns depend on the set of patterns, not on their order)
            keep = keep_all if order.shape[0] == g else drop_constant_columns(rows, 1)
            compare_counts(out, e, c, rows, y, m, keep, z_crit, wk)
        for d in range(n_designs):
            mask = designs.rows[designs.first[d], :g]
            sub = patterns[mask]
            keep = keep_all if sub.shape[0] == g else drop_constant_columns(sub, 1)
            G, group = pool_rows(np.ascontiguousarray(sub[:, keep]))
            n_lanes = 0
            for e in range(n_end):
                if designs.of[e] == d:
                    n_lanes = add_lane(lanes, n_lanes, e, group, G.shape[0], seen.y[e],
                                       seen.m[e], mask)
            fit_lanes(lanes, n_lanes, G)
            for k in range(n_lanes):
                e = lanes.endpoint[k]
                if lanes.status[k] == LANE_SCALAR:  # step-halving: on its own
                    compare_counts(out, e, c, patterns, seen.y[e, :g], seen.m[e, :g], keep_all,
                                   z_crit, wk)
                else:
                    compare_result(out, e, c, lanes.beta[k], lanes.cov[k],
                                   lanes.status[k] == LANE_CONVERGED, z_crit)
        for e in range(n_end):
            same = earlier(seen, e)
            if same >= 0:  # the same patterns and counts as an earlier endpoint: its result
                out[e, c] = out[same, c]


@jit
def _interaction_of_cells(cells, n_lev, q, pairs, out):
    """``interaction_kernel`` from the factor's cells, into ``out`` (n_endpoints,
    n_comparisons, 3); the endpoints fitted on the same patterns are fitted side by side
    (``Lanes``)."""
    n_end = out.shape[0]
    p_full = 2 + 2 * (n_lev - 1) + q
    cap = 2 * n_lev * cells.n_strata
    pattern_cells = np.empty(cap, dtype=np.int64)
    levels = np.arange(n_lev)
    seen = seen_work(n_end, cap)
    wk = fit_work(cap, p_full)
    lanes = lanes_work(n_end, cap, p_full)
    designs = designs_work(n_end, cap)
    y_sub = np.empty(cap)
    m_sub = np.empty(cap)
    for c in range(pairs.shape[0]):
        trt = pairs[c, 0]
        g = comparison_cells(cells, levels, trt, pairs[c, 1], pattern_cells)
        patterns = np.zeros((g, p_full))
        for j in range(g):
            k = pattern_cells[j]
            lv = k // (cells.n_arms * cells.n_strata)
            t = 1.0 if (k // cells.n_strata) % cells.n_arms == trt else 0.0
            patterns[j, 0] = 1.0
            patterns[j, 1] = t
            if lv >= 1:  # dummy: column 1 + lv; product with treatment: n_lev + lv
                patterns[j, 1 + lv] = 1.0
                patterns[j, n_lev + lv] = t
            stratum_columns(k % cells.n_strata, patterns[j, p_full - q:])
        X_all, inter_all, n_int_all = _interaction_design(patterns, n_lev)
        n_designs = 0
        for e in range(n_end):
            designs.of[e] = -1
            g_e = evaluable_cells(cells, pattern_cells[:g], e, seen)
            if earlier(seen, e) >= 0:
                continue
            order, y, m = seen.order[e, :g_e], seen.y[e, :g_e], seen.m[e, :g_e]
            every = _identity(order, g)
            rows = patterns if every else patterns[order]
            if every and g > 0:  # fitted on every pattern, or those a separating stratum leaves
                out[e, c, 0] = np.nan
                out[e, c, 1] = 0.0
                out[e, c, 2] = np.nan
                interaction_kept(rows, y, m, n_lev, designs.rows[e, :g])
                n_designs = design_of(designs, e, g, n_designs)
                continue
            interaction_counts(out, e, c, rows, y, m, order, g, X_all, inter_all, n_int_all,
                               n_lev, wk)
        for d in range(n_designs):
            mask = designs.rows[designs.first[d], :g]
            sub = patterns[mask]
            if sub.shape[0] == g:
                X, inter, n_int = X_all, inter_all, n_int_all
            else:
                X, inter, n_int = _interaction_design(sub, n_lev)
            if n_int == 0 or sub.shape[0] == 0:
                continue  # not analysable
            G, group = pool_rows(X)
            n_lanes = 0
            for e in range(n_end):
                if designs.of[e] != d:
                    continue
                r = 0
                for j in range(g):  # the endpoint's counts on the patterns kept
                    if mask[j]:
                        y_sub[r] = seen.y[e, j]
                        m_sub[r] = seen.m[e, j]
                        r += 1
                if separated_cell(sub, y_sub[:r], m_sub[:r], n_lev, X):
                    continue  # no finite estimate: not analysable
                n_lanes = add_lane(lanes, n_lanes, e, group, G.shape[0], seen.y[e], seen.m[e],
                                   mask)
            fit_lanes(lanes, n_lanes, G)
            for k in range(n_lanes):
                e = lanes.endpoint[k]
                if lanes.status[k] == LANE_SCALAR:
                    interaction_counts(out, e, c, patterns, seen.y[e, :g], seen.m[e, :g],
                                       seen.order[e, :g], g, X_all, inter_all, n_int_all,
                                       n_lev, wk)
                else:
                    interaction_result(out, e, c, lanes.beta[k], lanes.cov[k],
                                       lanes.status[k] == LANE_CONVERGED, inter, n_int)
        for e in range(n_end):
            same = earlier(seen, e)
            if same >= 0:
                out[e, c] = out[same, c]


class Designs(NamedTuple):
    """The designs of one comparison's endpoints: each endpoint's patterns fitted (a mask of
    the comparison's patterns), the distinct ones and which one each endpoint has."""

    rows: np.ndarray  # bool (n_endpoints, n_patterns): the patterns an endpoint's fit keeps
    first: np.ndarray  # int64 (n_endpoints,): the first endpoint of each distinct design
    of: np.ndarray  # int64 (n_endpoints,): an endpoint's design, -1 for none


@jit
def designs_work(n_end, n_patterns):
    """``Designs`` for ``n_end`` endpoints of up to ``n_patterns`` patterns."""
    return Designs(np.zeros((n_end, n_patterns), dtype=np.bool_),
                   np.empty(n_end, dtype=np.int64), np.full(n_end, -1, dtype=np.int64))


@jit
def design_of(designs, e, g, n_designs):
    """Endpoint ``e``'s design: the first of those before with the same patterns (mask
    ``designs.rows[e, :g]``), or a new one; returns the number of designs."""
    for d in range(n_designs):
        f = designs.first[d]
        same = True
        for j in range(g):
            if designs.rows[f, j] != designs.rows[e, j]:
                same = False
                break
        if same:
            designs.of[e] = d
            return n_designs
    designs.first[n_designs] = e
    designs.of[e] = n_designs
    return n_designs + 1


class Lanes(NamedTuple):
    """Fits on one design side by side (``newton.newton_batch``): each lane's endpoint, its
    successes and trials per pooled row, and its result."""

    endpoint: np.ndarray  # int64 (n_lanes,)
    Y: np.ndarray  # float64 (n_rows, n_lanes)
    M: np.ndarray  # float64 (n_rows, n_lanes)
    beta: np.ndarray  # float64 (n_lanes, p)
    cov: np.ndarray  # float64 (n_lanes, p, p)
    status: np.ndarray  # int64 (n_lanes,)
    work: BatchWork  # of newton_batch


@jit
def lanes_work(n_lanes, n_rows, p):
    """``Lanes`` for up to ``n_lanes`` fits of ``n_rows`` rows and ``p`` columns (the work
    of ``newton_batch`` only if there can be ``MIN_LANES``)."""
    side_by_side = n_lanes >= MIN_LANES
    return Lanes(np.empty(n_lanes, dtype=np.int64), np.empty((n_rows, n_lanes)),
                 np.empty((n_rows, n_lanes)), np.empty((n_lanes, p)),
                 np.empty((n_lanes, p, p)), np.empty(n_lanes, dtype=np.int64),
                 batch_work(n_rows if side_by_side else 0, p if side_by_side else 0,
                            n_lanes if side_by_side else 0))


@jit
def add_lane(lanes, k, e, group, n_pooled, y, m, mask):
    """Endpoint ``e`` as lane ``k``: its successes ``y`` and trials ``m`` on the patterns of
    ``mask``, pooled as ``fit_patterns_into`` pools them (``group``: the pooled row of each
    pattern kept; each sum in the order of the patterns); returns the number of lanes."""
    lanes.endpoint[k] = e
    for i in range(n_pooled):
        lanes.Y[i, k] = 0.0
        lanes.M[i, k] = 0.0
    r = 0
    for i in range(mask.shape[0]):
        if mask[i]:
            lanes.Y[group[r], k] += y[i]
            lanes.M[group[r], k] += m[i]
            r += 1
    return k + 1


@jit
def fit_lanes(lanes, n_lanes, G):
    """The fits of lanes 0 … n_lanes - 1 on the pooled design ``G``, side by side: the same
    fits, to the last bit, as ``fit_patterns_into`` on each (``LANE_SCALAR``: one that needs
    a step halved, to be fitted on its own)."""
    n, p = G.shape
    if n_lanes >= MIN_LANES:
        newton_batch(G, lanes.Y[:n, :n_lanes], lanes.M[:n, :n_lanes], 50, 1e-10,
                     lanes.beta[:n_lanes, :p], lanes.cov[:n_lanes, :p, :p],
                     lanes.status[:n_lanes], lanes.work)
        return
    nf, ni = fit_sizes(n, p)
    F = np.empty(nf)
    II = np.empty(ni, dtype=np.int64)
    oc = cov_offset(p)
    for k in range(n_lanes):  # a few: one by one
        ob, converged = newton_fit(G, np.ascontiguousarray(lanes.Y[:n, k]),
                                   np.ascontiguousarray(lanes.M[:n, k]), 50, 1e-10, F, II)
        lanes.status[k] = LANE_CONVERGED if converged else LANE_FAILED
        for j in range(p):
            lanes.beta[k, j] = F[ob + j]
            for i in range(p):
                lanes.cov[k, j, i] = F[oc + j * p + i]


@jit
def _identity(order, g):
    """Whether ``order`` is 0 … g - 1."""
    if order.shape[0] != g:
        return False
    for j in range(g):
        if order[j] != j:
            return False
    return True
