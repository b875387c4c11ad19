# trialsim: `make sim SCENARIO=bliss76` and `make test` set everything up on a fresh machine.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
SCENARIO ?= bliss76
SIZES  ?=
REPS   ?=
JOBS   ?=

SIM_ARGS := $(if $(REPS),--replicates $(REPS)) $(if $(JOBS),--n-jobs $(JOBS))
REPORT ?=

.PHONY: install sim report qualify schema test validate lint bench bench-peers power calibrate assurance explain mutations clean-venv

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[test,dask]"
	touch $(STAMP)

install: $(STAMP)

sim: $(STAMP)
	$(VENV)/bin/trialsim run configs/$(SCENARIO).yaml $(SIM_ARGS) $(if $(REPORT),--report)

# the HTML report of a results folder, after `make sim` (or `make sim REPORT=1` does both)
report: $(STAMP)
	$(VENV)/bin/trialsim report results/$(SCENARIO)

# installation qualification of the installed package: dated HTML/JSON in results/qualification
qualify: $(STAMP)
	$(VENV)/bin/trialsim qualify --out results/qualification

# the editor schemas of the shipped configs (docs/editors.md)
schema: $(STAMP)
	$(VENV)/bin/trialsim schema --out configs/schema/scenario.schema.json
	$(VENV)/bin/trialsim schema --family skin --out configs/schema/skin.schema.json
	$(VENV)/bin/trialsim schema --family calibration --out configs/schema/calibration.schema.json

test: $(STAMP)
	$(PY) -m pytest -q -m "not slow" --durations=15

validate: $(STAMP)
	$(PY) -m pytest -q -m "acceptance or slow"

lint: $(STAMP)
	$(VENV)/bin/ruff check trialsim tests scripts

power: $(STAMP)
	$(VENV)/bin/trialsim power configs/$(SCENARIO).yaml $(if $(SIZES),--sizes $(SIZES)) $(SIM_ARGS)

calibrate: $(STAMP)
	$(VENV)/bin/trialsim calibrate configs/calibration.yaml --cross-validate --n-jobs 3

# make assurance SCENARIO=bliss76 [ASIZES=600,800,1000] [DRAWS=100] [REPS=...]
assurance: $(STAMP)
	$(VENV)/bin/trialsim assurance configs/$(SCENARIO).yaml $(if $(ASIZES),--sizes $(ASIZES)) $(if $(DRAWS),--draws $(DRAWS)) $(SIM_ARGS)

explain: $(STAMP)
	$(VENV)/bin/trialsim explain configs/bliss52.yaml configs/bliss76.yaml

bench: $(STAMP)
	$(PY) scripts/bench.py --out results/bench.json

# optional: times R's Mediana beside trialsim when R, Mediana and rpact are installed
bench-peers: $(STAMP)
	$(PY) scripts/bench_peers.py --out results/bench_peers.json

mutations: $(STAMP)
	$(PY) scripts/mutations.py --validate --out results/mutations.json

clean-venv:
	rm -rf $(VENV)
