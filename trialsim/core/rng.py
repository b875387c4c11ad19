"""Random numbers: counter-based draws keyed by (seed, replicate) and addressed by use.

scenario seed → replicate key → (stage, unit, visit, word). A replicate's key is derived from
``SeedSequence(entropy=seed, spawn_key=(replicate,))``, so its numbers depend only on
(seed, replicate), never on chunking, ``n_jobs`` or backend. Inside a replicate every draw is
the output of the Philox4x32-10 block cipher (Salmon et al. 2011, *Parallel random numbers:
as easy as 1, 2, 3*; the generator of numpy's ``Philox`` and of JAX) applied to a counter that
names its use: ``(unit, visit, block, stage)``, where the unit is a screened candidate, an
enrolled patient or a stratum, and the visit a visit (or a randomization block). So

* one patient's path does not shift any other patient's draws, nor its own at later visits:
  a change of one model parameter changes the draws that depend on it and nothing else, and
  common random numbers hold across arms, sample sizes and the points of a sweep, inside the
  course too;
* every stage (screening, randomization, course, the constant-response model, adverse
  events) has its own counter space.

Words are 32-bit. A uniform uses one word, ``(w + 0.5) 2^-32`` in (0, 1); a normal uses two
(a 53-bit uniform) mapped by Wichura's AS 241 quantile (relative error below 1e-15), so each
normal is a monotone function of one uniform.
"""

from __future__ import annotations

import math

import numpy as np
from numba import float64, uint64

from trialsim.core.jit import jit

STAGES = ("population", "randomization", "course", "reduced", "safety", "accrual", "pk", "skin")
(STAGE_POPULATION, STAGE_RANDOMIZATION, STAGE_COURSE, STAGE_REDUCED, STAGE_SAFETY,
 STAGE_ACCRUAL, STAGE_PK, STAGE_SKIN) = range(len(STAGES))

_M0 = np.uint64(0xD2511F53)
_M1 = np.uint64(0xCD9E8D57)
_W0 = np.uint64(0x9E3779B9)
_W1 = np.uint64(0xBB67AE85)
_MASK = np.uint64(0xFFFFFFFF)
_S32 = np.uint64(32)
_S5 = np.uint64(5)
_S6 = np.uint64(6)
_TWO_M32 = 2.0**-32
_TWO_M53 = 2.0**-53
#: the largest double below 1: (2^53 - 1 + 0.5) 2^-53 rounds up to 1.0, whose normal quantile
#: is infinite, so the top 53-bit value maps here instead (every other value is unchanged)
_BELOW_ONE = 1.0 - 2.0**-53


def replicate_key(seed: int, replicate: int) -> tuple[int, int]:
    """The 64-bit Philox key of one replicate, as two 32-bit words."""
    ss = np.random.SeedSequence(entropy=seed, spawn_key=(replicate,))
    k0, k1 = ss.generate_state(2, np.uint32)
    return int(k0), int(k1)


def replicate_keys(seed: int, start: int, stop: int) -> np.ndarray:
    """Keys of replicates ``start … stop - 1``, shape (stop - start, 2), uint64."""
    return np.array([replicate_key(seed, r) for r in range(start, stop)], dtype=np.uint64).reshape(
        -1, 2
    )


@jit
def philox4x32(c0, c1, c2, c3, k0, k1):
    """Philox4x32-10 of one counter (c0, c1, c2, c3) under the key (k0, k1):
    ``philox4x32_lanes`` on one lane. Arguments and results are uint64 holding 32-bit
    words (Random123's known-answer vectors are checked in tests/unit/test_rng.py)."""
    c = np.empty((4, 1), dtype=np.uint64)
    c[0, 0], c[1, 0], c[2, 0], c[3, 0] = uint64(c0), uint64(c1), uint64(c2), uint64(c3)
    philox4x32_lanes(c, 1, k0, k1)
    return c[0, 0], c[1, 0], c[2, 0], c[3, 0]


@jit
def normal_quantile(p):
    """Standard normal quantile by Wichura's AS 241 (PPND16), for 0 < p < 1.

    Wichura, M. J. (1988). Algorithm AS 241: the percentage points of the normal
    distribution. Applied Statistics 37, 477–484. Relative accuracy about 1e-16.
    """
    q = p - 0.5
    if abs(q) <= 0.425:
        r = 0.180625 - q * q
        num = (((((((2.5090809287301226727e3 * r + 3.3430575583588128105e4) * r
                    + 6.7265770927008700853e4) * r + 4.5921953931549871457e4) * r
                  + 1.3731693765509461125e4) * r + 1.9715909503065514427e3) * r
                + 1.3314166789178437745e2) * r + 3.3871328727963666080e0)
        den = (((((((5.2264952788528545610e3 * r + 2.8729085735721942674e4) * r
                    + 3.9307895800092710610e4) * r + 2.1213794301586595867e4) * r
                  + 5.3941960214247511077e3) * r + 6.8718700749205790830e2) * r
                + 4.2313330701600911252e1) * r + 1.0)
        return q * num / den
    r = p if q < 0.0 else 1.0 - p
    r = math.sqrt(-math.log(r))
    if r <= 5.0:
        r -= 1.6
        num = (((((((7.74545014278341407640e-4 * r + 2.27238449892691845833e-2) * r
                    + 2.41780725177450611770e-1) * r + 1.27045825245236838258e0) * r
                  + 3.64784832476320460504e0) * r + 5.76949722146069140550e0) * r
                + 4.63033784615654529590e0) * r + 1.42343711074968357734e0)
        den = (((((((1.05075007164441684324e-9 * r + 5.47593808499534494600e-4) * r
                    + 1.51986665636164571966e-2) * r + 1.48103976427480074590e-1) * r
                  + 6.89767334985100004550e-1) * r + 1.67638483018380384940e0) * r
                + 2.05319162663775882187e0) * r + 1.0)
    else:
        r -= 5.0
        num = (((((((2.01033439929228813265e-7 * r + 2.71155556874348757815e-5) * r
                    + 1.24266094738807843860e-3) * r + 2.65321895265761230930e-2) * r
                  + 2.96560571828504891230e-1) * r + 1.78482653991729133580e0) * r
                + 5.46378491116411436990e0) * r + 6.65790464350110377720e0)
        den = (((((((2.04426310338993978564e-15 * r + 1.42151175831644588870e-7) * r
                    + 1.84631831751005468180e-5) * r + 7.86869131145613259100e-4) * r
                  + 1.48753612908506148525e-2) * r + 1.36929880922735805310e-1) * r
                + 5.99832206555887937690e-1) * r + 1.0)
    x = num / den
    return -x if q < 0.0 else x


@jit
def uniform53(hi, lo):
    """A uniform in (0, 1) from two 32-bit words: 27 + 26 bits, ``(x + 0.5) 2^-53``, the top
    value kept below 1 (its normal quantile would be infinite)."""
    return min(((hi >> _S5) * 67108864.0 + (lo >> _S6) + 0.5) * _TWO_M53, _BELOW_ONE)


@jit
def philox4x32_lanes(c, n, k0, k1):
    """Philox4x32-10 of the first ``n`` counters of ``c`` (C-contiguous, shape (4, lanes)),
    in place.

    The same function as ``philox4x32``, written lane by lane so that the compiler vectorizes
    it (about twice as fast per block).
    """
    k0, k1 = uint64(k0), uint64(k1)
    c0, c1, c2, c3 = c[0], c[1], c[2], c[3]
    for _ in range(10):
        for lane in range(n):
            p0 = _M0 * c0[lane]
            p1 = _M1 * c2[lane]
            a = (p1 >> _S32) ^ c1[lane] ^ k0
            b = (p0 >> _S32) ^ c3[lane] ^ k1
            c1[lane] = p1 & _MASK
            c3[lane] = p0 & _MASK
            c0[lane] = a
            c2[lane] = b
        k0 = (k0 + _W0) & _MASK
        k1 = (k1 + _W1) & _MASK


@jit
def fill_draws(k0, k1, stage, unit, first_visit, uniforms, normals, scratch, gaussianize=True):
    """The draws of one unit, by visit and slot: ``uniforms[v, s]`` and ``normals[v, s]``.

    Row ``v`` (from ``first_visit`` on) holds visit ``v``: the words ``0 … 2 n_normal - 1`` of
    counter blocks ``(unit, v, 0…, stage)`` make the normals (two words each, a 53-bit
    uniform through ``normal_quantile``), the next ``n_uniform`` words the uniforms
    (``(w + 0.5) 2^-32``). A slot holds the same number for the same (key, stage, unit,
    visit) whatever the number of visits.

    Parameters
    ----------
    k0, k1 : int
        The replicate key (``replicate_key``).
    stage : int
        ``STAGE_*``.
    unit : int
        Candidate, patient or stratum index.
    first_visit : int
        First row to fill (the course draws nothing at baseline).
    uniforms : ndarray of float64, shape (n_visits, n_uniform)
    normals : ndarray of float64, shape (n_visits, n_normal)
    scratch : ndarray of uint64, shape (4, n_lanes)
        Work space of at least ``n_visits * ceil((2 n_normal + n_uniform) / 4)`` lanes
        (``draw_scratch``).
    gaussianize : bool
        False leaves the normal slots as their 53-bit uniforms, for a kernel that maps only
        the ones it uses (``normal_quantile`` costs more than the draw).
    """
    n_normal = normals.shape[1]
    n_uniform = uniforms.shape[1]
    nb = (2 * n_normal + n_uniform + 3) // 4
    rows = uniforms.shape[0] - first_visit
    if rows <= 0:
        return
    c = scratch
    c0, c1, c2, c3 = c[0], c[1], c[2], c[3]
    for r in range(rows):
        for b in range(nb):
            lane = r * nb + b
            c0[lane] = unit
            c1[lane] = first_visit + r
            c2[lane] = b
            c3[lane] = stage
    philox4x32_lanes(c, rows * nb, k0, k1)
    for r in range(rows):
        v = first_visit + r
        base = r * nb
        # words 2s, 2s + 1 of the visit: block s // 2, words (0, 1) or (2, 3)
        for s in range(n_normal):
            lane = base + (s >> 1)
            if s & 1:
                hi, lo = c2[lane], c3[lane]
            else:
                hi, lo = c0[lane], c1[lane]
            x = uniform53(hi, lo)
            normals[v, s] = normal_quantile(x) if gaussianize else x
        for s in range(n_uniform):
            i = 2 * n_normal + s
            lane = base + (i >> 2)
            k = i & 3
            w = c0[lane] if k == 0 else (c1[lane] if k == 1 else (c2[lane] if k == 2 else c3[lane]))
            uniforms[v, s] = (w + 0.5) * _TWO_M32


def draw_scratch(n_visits: int, n_uniform: int, n_normal: int) -> np.ndarray:
    """Work space for ``fill_draws``."""
    return np.empty((4, n_visits * ((2 * n_normal + n_uniform + 3) // 4)), dtype=np.uint64)


@jit
def _words(k0, k1, stage, unit, visit, n):
    """The first ``n`` words of (stage, unit, visit)."""
    nb = (n + 3) // 4
    c = np.empty((4, nb), dtype=np.uint64)
    for b in range(nb):
        c[0, b] = unit
        c[1, b] = visit
        c[2, b] = b
        c[3, b] = stage
    philox4x32_lanes(c, nb, k0, k1)
    return c.T.copy().reshape(-1)[:n]


@jit
def counter_uniforms(k0, k1, stage, unit, visit, n):
    """``n`` uniforms of (stage, unit, visit): ``CounterDraws(..., n, 0).uniform(0 … n-1)``."""
    w = _words(k0, k1, stage, unit, visit, n)
    out = np.empty(n, dtype=float64)
    for s in range(n):
        out[s] = (w[s] + 0.5) * _TWO_M32
    return out


@jit
def counter_words(k0, k1, stage, unit, visit, n):
    """The words behind ``n`` normals of (stage, unit, visit), for a kernel that needs only
    some of them: ``normal_from_words(w, s)`` is ``counter_normals(..., n)[s]``."""
    return _words(k0, k1, stage, unit, visit, 2 * n)


@jit
def normal_from_words(w, s):
    """Normal ``s`` of the words ``counter_words`` returned (as ``counter_normals``)."""
    return normal_quantile(uniform53(w[2 * s], w[2 * s + 1]))


@jit
def counter_normals(k0, k1, stage, unit, visit, n):
    """``n`` normals of (stage, unit, visit): ``CounterDraws(..., 0, n).normal(0 … n-1)``."""
    w = _words(k0, k1, stage, unit, visit, 2 * n)
    out = np.empty(n, dtype=float64)
    for s in range(n):
        u = uniform53(w[2 * s], w[2 * s + 1])
        out[s] = normal_quantile(u)
    return out


def bootstrap_stream(seed: int) -> np.random.Generator:
    """The generator of resampling done on top of a scenario's replicates (e.g. the
    sample-size bootstrap): a child of the scenario seed that no replicate uses."""
    # entropy [seed, tag] gives a pool no replicate key (entropy=seed, spawn_key=(r,)) has
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence(entropy=[seed, 0xB007])))
