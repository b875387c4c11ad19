# %% [markdown]
# # A results folder in a notebook
#
# `trialsim run configs/bliss76.yaml` leaves tidy tables in `results/bliss76/`. This script
# (cells marked `# %%`, so Jupyter, VS Code or `jupytext` open it as a notebook; `python
# docs/examples/custom_plot.py [RESULTS_DIR] [OUT.png]` runs it whole) loads them with
# pandas and draws a figure trialsim does not make: how power falls as the SRI threshold
# rises from SRI-4 to SRI-8, each point with its Monte Carlo 95% interval.

# %%
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # drop this line in a notebook to see the figure inline
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402

folder = Path(sys.argv[1] if len(sys.argv) > 1 else "results/bliss76")
# beside the working directory, not in the results folder (whose report embeds its figures)
out = Path(sys.argv[2] if len(sys.argv) > 2 else "sri_threshold_power.png")

# %% [markdown]
# In a notebook, `ResultsFolder` shows what the folder is and its headline table (rates,
# power, odds ratio, each with its MCSE) as an HTML table:

# %%
from trialsim.report.folder import ResultsFolder  # noqa: E402

res = ResultsFolder(folder)
if not (res.command == "run" and res.family == "sle"):
    sys.exit(f"{folder}: this example reads the results of `trialsim run` of an SLE scenario; "
             f"this folder holds `trialsim {res.command}` ({res.family})")
res  # noqa: B018  (the notebook displays it)

# %% [markdown]
# `summary.csv` is one tidy row per endpoint, week, arm or comparison, subgroup and
# statistic, with the Monte Carlo SE in `mcse`. Whole-trial rows have no subgroup.

# %%
summary = pd.read_csv(folder / "summary.csv")
whole = summary[summary.subgroup.isna()]
week = int(res.config["design"]["endpoint_weeks"][0])
sri = [f"sri{k}" for k in range(4, 9)]
power = whole[(whole.statistic == "power") & whole.endpoint.isin(sri) & (whole.week == week)]
power = power.assign(k=power.endpoint.str[3:].astype(int)).sort_values("k")
if power.empty:
    sys.exit(f"{folder}: no SRI-k endpoint at week {week}; run it with "
             "analysis.endpoints [sri4, sri5, sri6, sri7, sri8]")
print(power[["endpoint", "comparison", "value", "mcse"]].to_string(index=False))

# %%
fig, ax = plt.subplots(figsize=(6, 4))
for comparison, part in power.groupby("comparison", sort=False):
    ax.errorbar(part.k, part.value, yerr=1.96 * part.mcse, marker="o", capsize=3,
                label=comparison)
ax.set_xlabel("SRI threshold k (SLEDAI-2K reduction of at least k points)")
ax.set_ylabel(f"power at week {week}")
ax.set_xticks(range(4, 9))
ax.set_ylim(0, 1)
ax.set_title(f"{res.name}: power by SRI threshold ({res.run['replicates']} trials)")
ax.legend()
fig.tight_layout()
fig.savefig(out, dpi=120)
print(f"figure written to {out}")

# %% [markdown]
# The per-trial data are in `replicates/` (one row per trial, endpoint, week and comparison:
# estimates, confidence limits, p-values) and `trials/` (one row per trial), both parquet:

# %%
replicates = pd.read_parquet(folder / "replicates")
primary = replicates[(replicates.endpoint == "sri4") & (replicates.week == week)]
print(primary.groupby("comparison").odds_ratio.describe())
