"""Per-trial analyses (logistic regression, survival) and the constants they share."""

#: the standard normal 97.5% quantile, ``scipy.special.ndtri(0.975)``: the one 95% z of trialsim
Z_95 = 1.959963984540054
