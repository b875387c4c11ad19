"""Published results of the trials the presets reproduce: their baseline characteristics
(the source populations: what the simulated baseline table is set against, in the tests and
the HTML report) and their arms' SRI-4 and component responses (the calibration acceptance
and the installation qualification).

Names are those of ``trialsim.analysis.baseline.BASELINE_NAMES``. Percentages are of the
randomised patients; means come with their published SD.
"""

from __future__ import annotations

from typing import NamedTuple


class SourcePopulation(NamedTuple):
    """One trial's published baseline: percentages and (mean, SD) pairs."""

    trial: str
    source: str
    percent: dict[str, float]
    mean_sd: dict[str, tuple[float, float]]


#: (BLISS-52, BLISS-76) percentages: seed 000 Table 4 and domain.md §3 (which quotes the
#: published baseline tables: Navarra et al., Lancet 2011; Furie et al., Arthritis Rheum 2011)
_PERCENT = {
    "female": (95, 93),
    "race_white": (27, 70),
    "race_black": (4, 14),
    "race_asian": (38, 3),
    "race_indigenous_american": (32, 13),
    "region_latin_america": (50, 11),
    "region_asia_pacific": (39, 0),
    "region_eastern_europe": (11, 11),
    "region_us_canada": (0, 53),
    "region_western_europe_israel": (0, 25),
    "ana_positive": (95, 92),
    "anti_dsdna_positive": (74.5, 64.0),
    "low_c3": (49.4, 40.4),
    "low_c4": (59.3, 52.6),
    "anti_dsdna_and_low_c3_or_c4": (55.5, 44.5),
    "prednisone_use": (96, 76),
    "prednisone_gt_7_5mg": (69, 46),
    "immunosuppressant": (42, 56),
    "antimalarial": (67, 63),
    "bilag_1a_or_2b": (58, 64),  # domain.md §3
}
#: (BLISS-52 mean, SD), (BLISS-76 mean, SD): seed 000 Table 4 and domain.md §3
_MEAN_SD = {
    "age_years": ((35.5, 11.5), (40.2, 11.5)),
    "disease_duration_years": ((5.3, 5.3), (7.5, 7.1)),
    "prednisone_mg": ((12.7, 8.4), (8.8, 8.2)),
    "sledai": ((9.8, 3.8), (9.7, 3.8)),
}


def _trial(k: int, trial: str, source: str) -> SourcePopulation:
    return SourcePopulation(trial, source, {n: float(v[k]) for n, v in _PERCENT.items()},
                            {n: v[k] for n, v in _MEAN_SD.items()})


#: the source population of each preset, by scenario name
SOURCE_POPULATIONS = {
    "bliss52": _trial(0, "BLISS-52",
                      "Navarra et al., Lancet 2011 (seed 000 Table 4; domain.md §3)"),
    "bliss76": _trial(1, "BLISS-76",
                      "Furie et al., Arthritis Rheum 2011 (seed 000 Table 4; domain.md §3)"),
}


#: the arms of the BLISS trials, in the order of :data:`BLISS_RESPONSES`
BLISS_ARMS = ("placebo", "bel1", "bel10")
#: responders and patients, (events, n) per arm, by trial and (endpoint, week): seed 000
#: Table 3 (SRI-4 and its three components; BLISS-76 also SRI-4 at week 76)
BLISS_RESPONSES = {
    "bliss52": {
        ("sri4", 52): [(125, 287), (148, 288), (167, 290)],
        ("sledai_reduction_4", 52): [(132, 287), (153, 288), (169, 290)],
        ("no_pga_worsening", 52): [(199, 287), (227, 288), (231, 290)],
        ("no_new_bilag", 52): [(210, 287), (226, 288), (236, 290)],
    },
    "bliss76": {
        ("sri4", 52): [(93, 275), (110, 271), (118, 273)],
        ("sledai_reduction_4", 52): [(98, 275), (116, 271), (128, 273)],
        ("no_pga_worsening", 52): [(173, 275), (197, 271), (189, 273)],
        ("no_new_bilag", 52): [(179, 275), (203, 271), (189, 273)],
        ("sri4", 76): [(89, 275), (106, 271), (105, 273)],
    },
}
