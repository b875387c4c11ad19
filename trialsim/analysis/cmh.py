"""The Cochran-Mantel-Haenszel test and the Mantel-Haenszel common odds ratio of a
stratified 2 × 2 comparison (treated vs control × responder or not, in K strata).

The stratified analysis of a binary endpoint that stays defined with sparse strata: a
stratum without both arms, or with no responders or no non-responders, adds nothing to
either sum (where a logistic regression with stratum terms would fail to converge by
separation). Conventions as statsmodels' ``StratifiedTable`` (``test_null_odds(correction=
False)``, ``oddsratio_pooled``, ``logodds_pooled_se``, the Robins-Breslow-Greenland
variance), which the tests use as the oracle.
"""

from __future__ import annotations

import math

import numpy as np

from trialsim.core.jit import jit


@jit
def cmh_test(treated, response, stratum, n_strata):
    """CMH test of the treated vs control odds of response, stratified.

    Parameters
    ----------
    treated, response : bool arrays (n,)
    stratum : int64 array (n,)
        Codes 0 … n_strata - 1.
    n_strata : int

    Returns
    -------
    statistic : float
        The CMH chi-square (1 df, no continuity correction); nan without information.
    p : float
        Two-sided p-value.
    log_or : float
        Log of the Mantel-Haenszel common odds ratio (±inf or nan when a sum is 0).
    se : float
        Its Robins-Breslow-Greenland standard error.
    """
    t = np.zeros((n_strata, 4))  # a: treated responders, b: treated non, c: control resp, d
    for i in range(treated.shape[0]):
        s = stratum[i]
        if treated[i]:
            t[s, 0 if response[i] else 1] += 1.0
        else:
            t[s, 2 if response[i] else 3] += 1.0
    num = 0.0
    var = 0.0
    r_sum = 0.0
    s_sum = 0.0
    pr = 0.0
    ps_qr = 0.0
    qs = 0.0
    for s in range(n_strata):
        a, b, c, d = t[s, 0], t[s, 1], t[s, 2], t[s, 3]
        n = a + b + c + d
        if n < 2.0:
            continue
        n1, n0, m1, m0 = a + b, c + d, a + c, b + d
        num += a - n1 * m1 / n
        var += n1 * n0 * m1 * m0 / (n * n * (n - 1.0))
        r = a * d / n
        q = b * c / n
        r_sum += r
        s_sum += q
        p_k = (a + d) / n
        q_k = (b + c) / n
        pr += p_k * r
        ps_qr += p_k * q + q_k * r
        qs += q_k * q
    if var <= 0.0:
        return math.nan, math.nan, math.nan, math.nan
    stat = num * num / var
    p = math.erfc(math.sqrt(stat / 2.0))
    if r_sum > 0.0 and s_sum > 0.0:
        log_or = math.log(r_sum / s_sum)
        se = math.sqrt(pr / (2.0 * r_sum * r_sum) + ps_qr / (2.0 * r_sum * s_sum)
                       + qs / (2.0 * s_sum * s_sum))
    else:
        log_or = math.inf if r_sum > 0.0 else (-math.inf if s_sum > 0.0 else math.nan)
        se = math.nan
    return stat, p, log_or, se
