# Golden values for trialsim.analysis.group_sequential, from rpact.
#
#   Rscript scripts/rpact_gsd_reference.R > tests/data/rpact_gsd.json
#
# Prints one JSON document: the rpact and R versions, and for each design the exact R call
# that made it, its critical values, cumulative alpha spent, futility bounds (beta-spending
# designs), getDesignCharacteristics (drift^2 "shift", inflation factor, per-stage rejection
# and futility probabilities, ASN under H1, H1/2 and H0 relative to the fixed design) and
# getPowerAndAverageSampleNumber at theta = 0, 0.1, 0.2, 0.3 with nMax = 100 (drift =
# theta * sqrt(100)); ASN there is divided by nMax. The test suite reads the saved JSON and
# never needs R. Needs rpact and jsonlite (apt-get install r-base-core r-cran-rpact).

suppressMessages({
    library(rpact)
    library(jsonlite)
})

THETAS <- c(0, 0.1, 0.2, 0.3)
N_MAX <- 100

# kMax 2..5 equally spaced for every alpha-spending family; then unequal spacing, alpha 0.05,
# non-binding and binding beta-spending futility designs
calls <- character(0)
families <- c(
    'typeOfDesign = "asOF"',
    'typeOfDesign = "asP"',
    'typeOfDesign = "asHSD", gammaA = -4',
    'typeOfDesign = "asHSD", gammaA = -2',
    'typeOfDesign = "asHSD", gammaA = 1'
)
for (family in families) {
    for (kMax in 2:5) {
        calls <- c(calls, sprintf("getDesignGroupSequential(kMax = %d, alpha = 0.025, sided = 1, %s)",
                                  kMax, family))
    }
}
for (family in families) {
    calls <- c(calls, sprintf(
        "getDesignGroupSequential(informationRates = c(0.3, 0.7, 1), alpha = 0.025, sided = 1, %s)",
        family))
}
calls <- c(calls,
    'getDesignGroupSequential(kMax = 3, alpha = 0.05, sided = 1, typeOfDesign = "asOF")',
    'getDesignGroupSequential(kMax = 4, alpha = 0.05, sided = 1, typeOfDesign = "asHSD", gammaA = -2)',
    paste0('getDesignGroupSequential(kMax = 3, alpha = 0.025, beta = 0.2, sided = 1, ',
           'typeOfDesign = "asOF", typeBetaSpending = "bsOF", bindingFutility = FALSE)'),
    paste0('getDesignGroupSequential(kMax = 2, alpha = 0.025, beta = 0.2, sided = 1, ',
           'typeOfDesign = "asOF", typeBetaSpending = "bsOF", bindingFutility = FALSE)'),
    paste0('getDesignGroupSequential(kMax = 4, alpha = 0.025, beta = 0.1, sided = 1, ',
           'typeOfDesign = "asP", typeBetaSpending = "bsP", bindingFutility = FALSE)'),
    paste0('getDesignGroupSequential(informationRates = c(0.3, 0.7, 1), alpha = 0.025, ',
           'beta = 0.2, sided = 1, typeOfDesign = "asHSD", gammaA = -4, ',
           'typeBetaSpending = "bsHSD", gammaB = -2, bindingFutility = FALSE)'),
    paste0('getDesignGroupSequential(kMax = 5, alpha = 0.025, beta = 0.2, sided = 1, ',
           'typeOfDesign = "asHSD", gammaA = -4, typeBetaSpending = "bsHSD", gammaB = 1, ',
           'bindingFutility = FALSE)'),
    # binding futility: the efficacy bounds are computed with the futility bounds obeyed
    paste0('getDesignGroupSequential(kMax = 3, alpha = 0.025, beta = 0.2, sided = 1, ',
           'typeOfDesign = "asOF", typeBetaSpending = "bsOF", bindingFutility = TRUE)'),
    paste0('getDesignGroupSequential(kMax = 2, alpha = 0.025, beta = 0.2, sided = 1, ',
           'typeOfDesign = "asOF", typeBetaSpending = "bsOF", bindingFutility = TRUE)'),
    paste0('getDesignGroupSequential(kMax = 4, alpha = 0.025, beta = 0.1, sided = 1, ',
           'typeOfDesign = "asP", typeBetaSpending = "bsP", bindingFutility = TRUE)'),
    paste0('getDesignGroupSequential(informationRates = c(0.3, 0.7, 1), alpha = 0.025, ',
           'beta = 0.2, sided = 1, typeOfDesign = "asHSD", gammaA = -4, ',
           'typeBetaSpending = "bsHSD", gammaB = -2, bindingFutility = TRUE)')
)

na_to_null <- function(x) if (length(x) == 0 || all(is.na(x))) NULL else as.numeric(x)

describe <- function(call) {
    design <- eval(parse(text = call))
    chars <- getDesignCharacteristics(design)
    pasn <- getPowerAndAverageSampleNumber(design, theta = THETAS, nMax = N_MAX)
    futility <- NULL
    if (!is.null(design$typeBetaSpending) && design$typeBetaSpending != "none") {
        futility <- list(
            typeBetaSpending = design$typeBetaSpending,
            bindingFutility = isTRUE(design$bindingFutility),
            gammaB = na_to_null(design$gammaB),
            beta = design$beta,
            futilityBounds = as.numeric(design$futilityBounds),
            betaSpent = as.numeric(design$betaSpent),
            power = as.numeric(design$power)
        )
    }
    list(
        call = call,
        kMax = design$kMax,
        alpha = design$alpha,
        beta = design$beta,
        typeOfDesign = design$typeOfDesign,
        gammaA = na_to_null(design$gammaA),
        informationRates = as.numeric(design$informationRates),
        criticalValues = as.numeric(design$criticalValues),
        alphaSpent = as.numeric(design$alphaSpent),
        futility = futility,
        characteristics = list(
            call = "getDesignCharacteristics(design)",
            nFixed = chars$nFixed,
            shift = chars$shift,
            inflationFactor = chars$inflationFactor,
            power = as.numeric(chars$power),
            rejectionProbabilities = as.numeric(chars$rejectionProbabilities),
            futilityProbabilities = na_to_null(chars$futilityProbabilities),
            averageSampleNumber1 = chars$averageSampleNumber1,
            averageSampleNumber01 = chars$averageSampleNumber01,
            averageSampleNumber0 = chars$averageSampleNumber0
        ),
        powerAndASN = list(
            call = sprintf("getPowerAndAverageSampleNumber(design, theta = c(%s), nMax = %d)",
                           paste(THETAS, collapse = ", "), N_MAX),
            theta = THETAS,
            nMax = N_MAX,
            averageSampleNumberFraction = as.numeric(pasn$averageSampleNumber) / N_MAX,
            calculatedPower = as.numeric(pasn$calculatedPower),
            # matrices: one row per stage, one column per theta -> list of per-theta vectors
            rejectPerStage = lapply(seq_along(THETAS), function(j) as.numeric(pasn$rejectPerStage[, j])),
            futilityPerStage = lapply(seq_along(THETAS), function(j) as.numeric(pasn$futilityPerStage[, j])),
            earlyStop = lapply(seq_along(THETAS), function(j) as.numeric(pasn$earlyStop[, j]))
        )
    )
}

out <- list(
    generator = "scripts/rpact_gsd_reference.R",
    rpact_version = as.character(packageVersion("rpact")),
    r_version = R.version.string,
    note = paste(
        "rpact's shift is drift^2 (drift = theta * sqrt(I_max)); averageSampleNumber1/01/0 are",
        "relative to the fixed design's sample size (expected information fraction times",
        "inflationFactor); averageSampleNumberFraction is getPowerAndAverageSampleNumber's ASN / nMax"
    ),
    designs = lapply(calls, describe)
)
cat(toJSON(out, auto_unbox = TRUE, digits = NA, pretty = TRUE, null = "null", na = "null"), "\n")
