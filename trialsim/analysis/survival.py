"""Time-to-event comparisons of two arms: log-rank test and Cox model (Efron ties).

Used for the time to first SELENA-SLEDAI Flare Index flare. Times lie on the visit grid, so
ties are the rule: the Cox partial likelihood uses Efron's approximation (as lifelines and
R's ``coxph`` do by default) and the log-rank test the hypergeometric variance.
"""

from __future__ import annotations

import math

import numpy as np

from trialsim.core.jit import jit

#: fields of ``compare_survival``'s result, in order
SURVIVAL_FIELDS = ("log_hr", "se", "hazard_ratio", "p_wald", "logrank_chi2", "p_logrank",
                   "converged")
LOG_HR, SE, HAZARD_RATIO, P_WALD, LOGRANK_CHI2, P_LOGRANK, CONVERGED = range(7)


@jit
def _event_times(time, event):
    """Distinct event times in increasing order."""
    ev = np.sort(time[event])
    if ev.size == 0:
        return ev
    keep = np.ones(ev.size, dtype=np.bool_)
    for i in range(1, ev.size):
        keep[i] = ev[i] != ev[i - 1]
    return ev[keep]


@jit
def logrank(time, event, group):
    """Two-sample log-rank test.

    Parameters
    ----------
    time : ndarray of float64, shape (n,)
        Event or censoring time.
    event : ndarray of bool, shape (n,)
        True for an observed event, False for censoring.
    group : ndarray of bool, shape (n,)
        True for the treated group.

    Returns
    -------
    chi2, p : float
        Chi-square statistic (1 df) and its p-value.
    """
    o_minus_e = 0.0
    var = 0.0
    for t in _event_times(time, event):
        n = 0
        n1 = 0
        d = 0
        d1 = 0
        for i in range(time.size):
            if time[i] >= t:
                n += 1
                if group[i]:
                    n1 += 1
                if time[i] == t and event[i]:
                    d += 1
                    if group[i]:
                        d1 += 1
        o_minus_e += d1 - d * n1 / n
        if n > 1:
            var += d * (n1 / n) * (1.0 - n1 / n) * (n - d) / (n - 1.0)
    if var <= 0.0:
        return 0.0, 1.0
    chi2 = o_minus_e * o_minus_e / var
    return chi2, math.erfc(math.sqrt(chi2 / 2.0))


@jit
def _efron_derivatives(beta, time, event, x, times):
    """Efron partial log-likelihood, score and information for one covariate."""
    loglik = 0.0
    score = 0.0
    info = 0.0
    for t in times:
        s0r = 0.0
        s1r = 0.0
        s2r = 0.0
        s0d = 0.0
        s1d = 0.0
        s2d = 0.0
        d = 0
        xd = 0.0
        for i in range(time.size):
            if time[i] >= t:
                w = math.exp(beta * x[i])
                s0r += w
                s1r += w * x[i]
                s2r += w * x[i] * x[i]
                if time[i] == t and event[i]:
                    d += 1
                    xd += x[i]
                    s0d += w
                    s1d += w * x[i]
                    s2d += w * x[i] * x[i]
        loglik += beta * xd
        score += xd
        for k in range(d):
            f = k / d
            phi = s0r - f * s0d
            phi1 = s1r - f * s1d
            phi2 = s2r - f * s2d
            loglik -= math.log(phi)
            score -= phi1 / phi
            info += phi2 / phi - (phi1 / phi) ** 2
    return loglik, score, info


@jit
def cox_binary(time, event, x, max_iter=50, tol=1e-10):
    """Cox proportional-hazards fit with one covariate (Efron ties) by Newton–Raphson.

    Returns
    -------
    beta, se : float
        Log hazard ratio and its standard error (inverse observed information).
    converged : bool
    """
    times = _event_times(time, event)
    if times.size == 0:
        return np.nan, np.nan, False
    beta = 0.0
    ll, score, info = _efron_derivatives(beta, time, event, x, times)
    for _ in range(max_iter):
        if not (info > 0.0):
            return np.nan, np.nan, False
        step = score / info
        new = beta + step
        ll_new, s_new, i_new = _efron_derivatives(new, time, event, x, times)
        halvings = 0
        while ll_new < ll - 1e-12 and halvings < 30:
            step *= 0.5
            new = beta + step
            ll_new, s_new, i_new = _efron_derivatives(new, time, event, x, times)
            halvings += 1
        beta, ll, score, info = new, ll_new, s_new, i_new
        if abs(beta) > 30.0:
            return np.nan, np.nan, False
        if abs(step) < tol:
            if info > 0.0:
                return beta, 1.0 / math.sqrt(info), True
            return np.nan, np.nan, False
    return np.nan, np.nan, False


@jit
def compare_survival(time, event, arm, pairs):
    """Each treated arm vs control: Cox log HR (Efron), Wald p, log-rank test.

    Parameters
    ----------
    time : ndarray of float64, shape (n,)
    event : ndarray of bool, shape (n,)
    arm : ndarray of int64, shape (n,)
    pairs : ndarray of int64, shape (n_comparisons, 2)
        Rows of (treated arm, control arm).

    Returns
    -------
    ndarray of float64, shape (n_comparisons, len(SURVIVAL_FIELDS))
        Unanalysable comparisons (no events) have nan estimates and p-values 1.
    """
    out = np.empty((pairs.shape[0], len(SURVIVAL_FIELDS)))
    for c in range(pairs.shape[0]):
        sel = (arm == pairs[c, 0]) | (arm == pairs[c, 1])
        t = time[sel]
        e = event[sel]
        g = arm[sel] == pairs[c, 0]
        chi2, p_lr = logrank(t, e, g)
        beta, se, ok = cox_binary(t, e, g.astype(np.float64))
        out[c, LOGRANK_CHI2] = chi2
        out[c, P_LOGRANK] = p_lr
        if ok:
            out[c, LOG_HR] = beta
            out[c, SE] = se
            out[c, HAZARD_RATIO] = math.exp(beta)
            out[c, P_WALD] = math.erfc(abs(beta / se) / math.sqrt(2.0))
            out[c, CONVERGED] = 1.0
        else:
            out[c, LOG_HR] = np.nan
            out[c, SE] = np.nan
            out[c, HAZARD_RATIO] = np.nan
            out[c, P_WALD] = 1.0
            out[c, CONVERGED] = 0.0
    return out


@jit
def km_median(time, observed):
    """Kaplan–Meier median, linearly interpolated between event times.

    Flares happen between visits and are detected at the next one, so the survival curve is
    interpolated linearly between successive event times (from S(0) = 1 at time 0) to the
    time at which it reaches 0.5; inf if it never does.
    """
    order = np.argsort(time)
    n = time.shape[0]
    at_risk = n
    surv = 1.0
    prev_t = 0.0
    prev_s = 1.0
    i = 0
    while i < n:
        ti = time[order[i]]
        j = i
        events = 0
        while j < n and time[order[j]] == ti:
            if observed[order[j]]:
                events += 1
            j += 1
        if at_risk > 0 and events > 0:
            surv *= 1.0 - events / at_risk
            if surv <= 0.5:
                frac = (prev_s - 0.5) / (prev_s - surv)
                return prev_t + frac * (ti - prev_t)
            prev_t = ti
            prev_s = surv
        at_risk -= j - i
        i = j
    return np.inf
