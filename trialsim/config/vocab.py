"""The vocabulary of trialsim: the names every layer shares, as plain constants.

A leaf module (no numba, no numpy, no imports from trialsim): the configuration schema
validates against these names, and the model builds its arrays from them.
"""

from __future__ import annotations

RACES = ("white", "black", "asian", "indigenous_american", "other")
REGIONS = ("us_canada", "western_europe_israel", "eastern_europe", "latin_america", "asia_pacific")
#: latent dimensions of the baseline covariate copula (population.py)
COPULA_DIMS = (
    "anti_dsdna",
    "low_complement",
    "activity",
    "disease_duration",
    "prednisone",
    "immunosuppressant",
    "antimalarial",
    "age",
    "weight",
)
#: stratification factors (model/randomization.py): the BLISS protocols' three, then the
#: other predefined subgroup factors
STRATIFIERS = (
    "sledai", "proteinuria", "race", "black", "region", "serologically_active", "anti_dsdna",
    "low_complement", "disease_duration", "prednisone", "immunosuppressant",
)
#: patient subgroups by baseline characteristics (defined in analysis/subgroups.py)
SUBGROUP_NAMES = ("serologically_active", "high_steroid", "black")
#: baseline covariates that subgroup expressions may use (config/expressions.py), in the
#: column order of the compiled trial's covariate matrix (analysis/subgroups.py); race and
#: region hold the index of their level, yes/no covariates 1 or 0
SUBGROUP_COVARIATES = (
    "race",
    "region",
    "sledai",
    "age",
    "weight",
    "disease_duration",
    "prednisone",
    "proteinuria",
    "pga",
    "female",
    "ana",
    "anti_dsdna",
    "low_c3",
    "low_c4",
    "low_complement",
    "serologically_active",
    "immunosuppressant",
    "antimalarial",
)
#: the predefined subgroup factors of every run (their levels: analysis/subgroups.py)
SUBGROUP_FACTORS = (
    "race",
    "black",
    "region",
    "serologically_active",
    "anti_dsdna",
    "low_complement",
    "sledai",
    "disease_duration",
    "prednisone",
    "immunosuppressant",
)

#: (name, SELENA-SLEDAI weight, SLEDAI domain, classic BILAG system index or -1), domain.md §2.1
DESCRIPTORS: tuple[tuple[str, int, str, int], ...] = (
    ("vasculitis", 8, "vascular", 5),
    ("arthritis", 4, "musculoskeletal", 3),
    ("myositis", 4, "musculoskeletal", 3),
    ("urinary_casts", 4, "renal", 6),
    ("hematuria", 4, "renal", 6),
    ("proteinuria", 4, "renal", 6),
    ("pyuria", 4, "renal", 6),
    ("rash", 2, "mucocutaneous", 1),
    ("alopecia", 2, "mucocutaneous", 1),
    ("mucosal_ulcers", 2, "mucocutaneous", 1),
    ("pleurisy", 2, "serosal", 4),
    ("pericarditis", 2, "serosal", 4),
    ("low_complement", 2, "immunological", -1),
    ("increased_dna_binding", 2, "immunological", -1),
    ("fever", 1, "constitutional", 0),
    ("thrombocytopenia", 1, "hematological", 7),
    ("leukopenia", 1, "hematological", 7),
)
DESCRIPTOR_NAMES = tuple(d[0] for d in DESCRIPTORS)

#: classic BILAG systems (domain.md §2.3); the neurological system is never active here
BILAG_SYSTEMS = (
    "general",
    "mucocutaneous",
    "neurological",
    "musculoskeletal",
    "cardiorespiratory",
    "vasculitis",
    "renal",
    "hematological",
)

#: CLASI-k response endpoints of the SLE trials (analysis/endpoints.py; the ``skin`` block)
CLASI_ENDPOINTS = ("clasi20", "clasi50", "clasi100")

#: the per-patient endpoints ``trialsim.analysis.endpoints`` registers, in its order (checked there)
ENDPOINT_NAMES: tuple[str, ...] = (
    *(name for k in range(4, 9) for name in (f"sri{k}", f"sledai_reduction_{k}")),
    "no_new_bilag",
    "no_pga_worsening",
    "no_flare",
    "no_severe_flare",
    "bicla",
    "lldas",
    "lldas_50",
    "doris_remission",
    "sri4_modified",
    "sri4_sustained",
    "sri4_s2k",
    "steroid_sparing",
    "constant_response",
    *CLASI_ENDPOINTS,
)

#: ``disease.sledai_proteinuria``: the SELENA-SLEDAI's proteinuria rule at follow-up visits
#: (``model.instruments.PROTEINURIA_RULES`` gives each its kernel code)
SLEDAI_PROTEINURIA_RULES = ("whenever_present", "new_onset")

#: group-sequential spending-function families (analysis/group_sequential.py): Lan-DeMets
#: O'Brien-Fleming-like, Pocock-like, Hwang-Shih-DeCani (with its gamma)
SPENDING_FAMILIES = ("obrien_fleming", "pocock", "hsd")

#: CLASI's 13 anatomical areas, in the instrument's order (Albrecht et al., J Invest Dermatol
#: 2005;125:889; domain.md §2.6); the nose area includes the malar region
CLASI_AREAS = (
    "scalp", "ears", "nose_malar", "rest_of_face", "v_neck", "posterior_neck_shoulders",
    "chest", "abdomen", "back_buttocks", "arms", "hands", "legs", "feet",
)
#: cutaneous lupus subtypes (seed 004): acute, subacute, chronic discoid, non-specific
SKIN_SUBTYPES = ("acle", "scle", "dcle", "nonspecific")
#: the lupus-specific subtypes, whose active lesions are the SELENA-SLEDAI's rash (model/clasi.py)
RASH_SUBTYPES = SKIN_SUBTYPES[:3]
#: skin study designs (``design.type`` of a skin scenario, trialsim/config/skin.py)
SKIN_DESIGNS = ("cohort", "rct")
