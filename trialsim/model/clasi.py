"""CLASI, the Cutaneous Lupus Erythematosus Disease Area and Severity Index, scored from a
lesion map; and the SELENA-SLEDAI mucocutaneous descriptors of the same map.

The one home of the instrument's rules (domain.md §2.6; Albrecht et al., J Invest Dermatol
2005;125:889). A lesion map holds, for each of the 13 areas of ``CLASI_AREAS``:

* activity: erythema 0-3 (absent, pink/faint, red, dark red/purple/violaceous/crusted/
  haemorrhagic) and scale/hypertrophy 0-2 (absent, scale, verrucous/hypertrophic);
* damage: dyspigmentation 0-1 and scarring/atrophy/panniculitis 0-2 (absent, scarring,
  severely atrophic scarring or panniculitis);

and, once per patient: mucous membrane lesions 0-1, recent hair loss 0-1 (within the last 30
days), non-scarring alopecia 0-3 (absent, diffuse non-inflammatory, focal/patchy in one
quadrant, in more than one quadrant) and scarring of the scalp 0, 3, 4, 5 or 6 (absent, one,
two, three quadrants, the whole skull).

CLASI-A (activity, 0-70) = Σ erythema + Σ scale + mucous + recent hair loss + alopecia.
CLASI-D (damage, 0-56) = Σ dyspigmentation (each area's point doubled when the
dyspigmentation has lasted 12 months or more) + Σ scarring + scarring of the scalp. The
scalp's scarring is scored by the scalp item only (its area row has no 0-2 scarring
grade), which gives the published range: 13 × 2 + 12 × 2 + 6 = 56.

CLASI-k response at a visit: baseline CLASI-A at least the design's threshold and
CLASI-A ≤ (1 - k/100) × baseline (so CLASI-100 is CLASI-A = 0).

The same map gives the SELENA-SLEDAI descriptors a physician would score on the same day
(domain.md §2.1): rash (an inflammatory lesion, erythema ≥ 1, of a specific cutaneous lupus
subtype: acute, subacute or discoid), alopecia (recent hair loss or non-scarring alopecia),
mucosal ulcers (mucous membrane lesions) and vasculitis (an active lesion of the
non-specific subtype: cutaneous vasculitis, the subtype's typical lesion, is the SLEDAI's
vasculitis descriptor; an assumption of the map, since non-specific lesions are a mixed
group).
"""

from __future__ import annotations

import numpy as np

from trialsim.config.vocab import CLASI_AREAS, SKIN_SUBTYPES
from trialsim.core.jit import jit
from trialsim.model.instruments import DESCRIPTOR_NAMES, SLEDAI_WEIGHTS

N_AREAS = len(CLASI_AREAS)
SCALP = CLASI_AREAS.index("scalp")
ACLE, SCLE, DCLE, NONSPECIFIC = (SKIN_SUBTYPES.index(s) for s in SKIN_SUBTYPES)
N_SUBTYPES = len(SKIN_SUBTYPES)

#: the instrument's grade ranges
ERYTHEMA_MAX, SCALE_MAX, MUCOUS_MAX, HAIR_LOSS_MAX, ALOPECIA_MAX = 3, 2, 1, 1, 3
DYSPIGMENTATION_MAX, SCARRING_MAX = 1, 2
#: allowed scores of scarring of the scalp (0 or 3-6: quadrants affected, 6 the whole skull)
SCALP_SCARRING_MIN_NONZERO, SCALP_SCARRING_MAX = 3, 6
#: dyspigmentation that has lasted this many weeks (12 months) counts twice
DYSPIGMENTATION_DOUBLING_WEEKS = 52
CLASI_A_MAX = N_AREAS * (ERYTHEMA_MAX + SCALE_MAX) + MUCOUS_MAX + HAIR_LOSS_MAX + ALOPECIA_MAX
CLASI_D_MAX = (N_AREAS * 2 * DYSPIGMENTATION_MAX + (N_AREAS - 1) * SCARRING_MAX
               + SCALP_SCARRING_MAX)
#: domain.md §2.6: activity bands (mild up to 9, moderate 10-20, severe 21-70)
MODERATE_FROM, SEVERE_FROM = 10, 21
#: relative tolerance of the response rule (a fall of exactly k% is a response)
RESPONSE_TOLERANCE = 1e-9

#: the SELENA-SLEDAI descriptors a lesion map sets, and their weights (one home: vocab)
RASH, ALOPECIA, MUCOSAL_ULCERS, VASCULITIS = (
    DESCRIPTOR_NAMES.index(d) for d in ("rash", "alopecia", "mucosal_ulcers", "vasculitis"))
SLEDAI_SKIN_DESCRIPTORS = ("rash", "alopecia", "mucosal_ulcers", "vasculitis")
SLEDAI_SKIN_WEIGHTS = np.array([SLEDAI_WEIGHTS[RASH], SLEDAI_WEIGHTS[ALOPECIA],
                                SLEDAI_WEIGHTS[MUCOSAL_ULCERS], SLEDAI_WEIGHTS[VASCULITIS]],
                               dtype=np.int64)

assert CLASI_A_MAX == 70 and CLASI_D_MAX == 56  # domain.md §2.6; Albrecht et al. 2005


@jit
def _check(value, low, high, what):
    if value < low or value > high:
        raise ValueError(what)


@jit
def clasi_activity(erythema, scale, mucous, hair_loss, alopecia):
    """CLASI-A of one lesion map.

    Parameters
    ----------
    erythema, scale : int64 arrays (13,)
        Per area, in ``CLASI_AREAS`` order: erythema 0-3, scale/hypertrophy 0-2.
    mucous, hair_loss, alopecia : int
        Mucous membrane lesions 0-1, recent hair loss 0-1, non-scarring alopecia 0-3.

    Returns
    -------
    int
        0-70.

    Raises
    ------
    ValueError
        A grade outside its range, or not 13 areas.
    """
    if erythema.shape[0] != N_AREAS or scale.shape[0] != N_AREAS:
        raise ValueError("a CLASI lesion map has 13 areas")
    total = 0
    for k in range(N_AREAS):
        _check(erythema[k], 0, ERYTHEMA_MAX, "CLASI erythema is graded 0-3")
        _check(scale[k], 0, SCALE_MAX, "CLASI scale/hypertrophy is graded 0-2")
        total += erythema[k] + scale[k]
    _check(mucous, 0, MUCOUS_MAX, "CLASI mucous membrane lesions are graded 0-1")
    _check(hair_loss, 0, HAIR_LOSS_MAX, "CLASI recent hair loss is graded 0-1")
    _check(alopecia, 0, ALOPECIA_MAX, "CLASI non-scarring alopecia is graded 0-3")
    return total + mucous + hair_loss + alopecia


@jit
def clasi_damage(dyspigmentation, dyspigmentation_weeks, scarring, scalp_scarring):
    """CLASI-D of one lesion map.

    Parameters
    ----------
    dyspigmentation : int64 array (13,)
        Per area 0-1.
    dyspigmentation_weeks : int64 array (13,)
        How long each area's dyspigmentation has lasted, in weeks: 52 or more doubles it.
    scarring : int64 array (13,)
        Per area scarring/atrophy/panniculitis 0-2; 0 for the scalp (scored by
        ``scalp_scarring``).
    scalp_scarring : int
        0, 3, 4, 5 or 6.

    Returns
    -------
    int
        0-56.
    """
    if (dyspigmentation.shape[0] != N_AREAS or scarring.shape[0] != N_AREAS
            or dyspigmentation_weeks.shape[0] != N_AREAS):
        raise ValueError("a CLASI lesion map has 13 areas")
    total = 0
    for k in range(N_AREAS):
        _check(dyspigmentation[k], 0, DYSPIGMENTATION_MAX, "CLASI dyspigmentation is graded 0-1")
        _check(scarring[k], 0, SCARRING_MAX, "CLASI scarring/atrophy is graded 0-2")
        if k == SCALP and scarring[k] != 0:
            raise ValueError("the scalp's scarring is scored by scalp_scarring (0 or 3-6)")
        d = dyspigmentation[k]
        if d > 0 and dyspigmentation_weeks[k] >= DYSPIGMENTATION_DOUBLING_WEEKS:
            d *= 2
        total += d + scarring[k]
    _check(scalp_scarring, 0, SCALP_SCARRING_MAX, "CLASI scarring of the scalp is 0 or 3-6")
    if 0 < scalp_scarring < SCALP_SCARRING_MIN_NONZERO:
        raise ValueError("CLASI scarring of the scalp is 0 or 3-6")
    return total + scalp_scarring


@jit
def clasi_eligible(baseline, min_baseline):
    """Whether a patient is in a CLASI-k analysis: baseline CLASI-A at least ``min_baseline``
    and above 0."""
    return baseline >= min_baseline and baseline > 0


@jit
def clasi_response(baseline, current, percent, min_baseline):
    """CLASI-k response (``percent`` = k): ``clasi_eligible`` and a fall of at least k% of
    the baseline."""
    if not clasi_eligible(baseline, min_baseline):
        return False
    return current <= baseline * (1.0 - percent / 100.0) + RESPONSE_TOLERANCE * baseline


@jit
def clasi_responders(baseline, current, percent, min_baseline):
    """``clasi_response`` of each patient (arrays of baseline and current CLASI-A)."""
    out = np.zeros(baseline.shape[0], dtype=np.bool_)
    for i in range(baseline.shape[0]):
        out[i] = clasi_response(float(baseline[i]), float(current[i]), percent, min_baseline)
    return out


@jit
def clasi_band(activity):
    """0 mild (0-9), 1 moderate (10-20), 2 severe (21-70): domain.md §2.6."""
    if activity >= SEVERE_FROM:
        return 2
    if activity >= MODERATE_FROM:
        return 1
    return 0


@jit
def sledai_skin_descriptors(subtype, erythema, mucous, hair_loss, alopecia, out):
    """The SELENA-SLEDAI descriptors of a lesion map, written to ``out`` (4,) as 0/1 in
    ``SLEDAI_SKIN_DESCRIPTORS`` order (rash, alopecia, mucosal ulcers, vasculitis); returns
    their SELENA-SLEDAI points."""
    lesion = False
    for k in range(N_AREAS):
        if erythema[k] > 0:
            lesion = True
    out[0] = 1 if (lesion and subtype != NONSPECIFIC) else 0
    out[1] = 1 if (hair_loss > 0 or alopecia > 0) else 0
    out[2] = 1 if mucous > 0 else 0
    out[3] = 1 if (lesion and subtype == NONSPECIFIC) else 0
    points = 0
    for j in range(4):
        points += out[j] * SLEDAI_SKIN_WEIGHTS[j]
    return points


#: bits of a visit's mucocutaneous SELENA-SLEDAI descriptors in an SLE trial (``skin_bits``):
#: the descriptors a CLASI lesion map is drawn to agree with (docs/model.md §7a)
BIT_RASH, BIT_ALOPECIA, BIT_ULCERS = 1, 2, 4


@jit
def skin_bits(state):
    """``BIT_RASH | BIT_ALOPECIA | BIT_ULCERS`` of the active ones among a visit's SELENA-SLEDAI
    descriptors ``state`` (bool, ``DESCRIPTOR_NAMES`` order)."""
    bits = 0
    if state[RASH]:
        bits |= BIT_RASH
    if state[ALOPECIA]:
        bits |= BIT_ALOPECIA
    if state[MUCOSAL_ULCERS]:
        bits |= BIT_ULCERS
    return bits


@jit
def descriptor_bits(descriptors):
    """The ``skin_bits`` of a lesion map's ``sledai_skin_descriptors`` output (its rash,
    alopecia and mucosal ulcers; vasculitis is not among them)."""
    bits = 0
    if descriptors[0] > 0:
        bits |= BIT_RASH
    if descriptors[1] > 0:
        bits |= BIT_ALOPECIA
    if descriptors[2] > 0:
        bits |= BIT_ULCERS
    return bits
