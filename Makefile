# llm-labs: `make labs` runs the three labs headless, `make test` runs the tests.
# Both create .venv and install everything on first use.

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed
PROFILE ?= $(or $(LABS_PROFILE),tiny)

.PHONY: install labs test lint strip tiny-world bench clean

install: $(INSTALLED)

$(INSTALLED): pyproject.toml requirements.txt requirements-dev.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	# The CPU wheel first: any other torch request would pull several GB of CUDA packages.
	$(BIN)/python -m pip install --quiet torch==2.13.0
	$(BIN)/python -m pip install --quiet -r requirements.txt -r requirements-dev.txt
	$(BIN)/python -m pip install --quiet --no-deps -e .
	touch $@

tiny-world: install
	$(BIN)/python -m labs_common.tinyworld.build --if-missing

labs: install tiny-world
	LABS_PROFILE=$(PROFILE) $(BIN)/python -m labs_common.runner --profile $(PROFILE)

test: install tiny-world lint
	LABS_PROFILE=tiny $(BIN)/python -m pytest

lint: install
	$(BIN)/ruff check .
	$(BIN)/nbstripout --verify notebooks/*.ipynb

strip: install
	$(BIN)/nbstripout notebooks/*.ipynb

# The labs' fast paths against seed-style baselines: tiny scale, CPU, one ratio table.
# One thread: on a shared 2-core machine busy cores make OpenMP threads wait for each other.
# Full scale on a GPU: python -m benchmarks.run_all --scale full --device cuda (benchmarks/README.md).
bench: install
	$(BIN)/python -m benchmarks.run_all --scale tiny --device cpu --threads 1

clean:
	rm -rf build
