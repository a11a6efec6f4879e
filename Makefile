# llm-labs: `make labs` runs the four labs headless, `make test` runs the tests.
# Both create .venv and install everything on first use.
# `make rehearse` runs the labs on the full profile against a local replica of its Hub
# repositories (random weights): the code path students run, checked without the Hub.
# `make distributed` trains LoRA and PPO on two CPU processes with accelerate launch.

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed
PROFILE ?= $(or $(LABS_PROFILE),tiny)

REPLICA_SCALE ?= ci
REPLICA := build/hub-replica-$(REPLICA_SCALE)

.PHONY: install labs jupyter test test-code test-notebooks lint strip tiny-world hub-replica rehearse rehearse-gpu bench clean mutate \
	distributed oldest newest robustness

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
	$(BIN)/python -m labs_tools.tinyworld.build --if-missing

labs: install tiny-world
	LABS_PROFILE=$(PROFILE) $(BIN)/python -m labs_tools.runner --profile $(PROFILE)

# The unit tests, then the labs (nbval, tiny profile) under numerics other than this
# machine's default: one thread and ATen's AVX2 kernels (on an AVX-512 machine, not its own).
# The tiny world's lessons must hold on any CPU, so CI checks them on other arithmetic than
# the default. (MKL_CBWR=COMPATIBLE, a robustness variant, is left out here: it makes the
# labs two to three times slower.)
OTHER_NUMERICS := OMP_NUM_THREADS=1 ATEN_CPU_CAPABILITY=avx2
# Two chains side by side, one core each: the unit tests, the two-process training and the
# full-profile rehearsal; and the four notebooks. Each chain's output is printed when it ends.
test: install tiny-world lint
	$(MAKE) --no-print-directory -j2 --output-sync=target test-code test-notebooks

test-code: install tiny-world
	OMP_NUM_THREADS=1 LABS_PROFILE=tiny $(BIN)/python -m pytest tests
	$(MAKE) --no-print-directory distributed
	$(MAKE) --no-print-directory rehearse

test-notebooks: install tiny-world
	$(OTHER_NUMERICS) LABS_PROFILE=tiny $(BIN)/python -m pytest notebooks

# The labs' training on two processes, as on two GPUs, but on CPUs: accelerate's --multi_gpu
# launcher starts them with torchrun and, without CUDA, they talk over gloo (--cpu alone
# would start one). A short LoRA fine-tune, then PPO from that adapter, on the tiny
# profile; build/distributed/results.json has each recipe's steps, final figure and seconds.
DISTRIBUTED := build/distributed
LAUNCH_2_CPUS := CUDA_VISIBLE_DEVICES= OMP_NUM_THREADS=1 $(BIN)/accelerate launch --multi_gpu \
	--num_processes 2 --num_machines 1 --mixed_precision no --dynamo_backend no \
	--num_cpu_threads_per_process 1
distributed: install tiny-world
	rm -rf $(DISTRIBUTED)
	$(LAUNCH_2_CPUS) -m labs_tools.recipes lora --profile tiny --steps 20 \
		--out $(DISTRIBUTED)/lora --results $(DISTRIBUTED)/results.json
	$(LAUNCH_2_CPUS) -m labs_tools.recipes ppo --profile tiny --steps 3 \
		--adapter $(DISTRIBUTED)/lora --out $(DISTRIBUTED)/ppo --results $(DISTRIBUTED)/results.json

# A replica of every Hub repository the full profile names: real file layouts, configs and
# schemas, random weights, widths shrunk for CPUs (python -m labs_tools.hub_replica --help).
hub-replica: install
	$(BIN)/python -m labs_tools.hub_replica --out $(REPLICA) --scale $(REPLICA_SCALE)

rehearse: install hub-replica
	$(BIN)/python -m labs_tools.runner --rehearsal --hub-dir $(REPLICA) $(REHEARSE_FLAGS)

# On a GPU: the full profile at its real dimensions and sizes, as on a Colab T4 (fp32, TF32
# off, 15 GiB), printing each lab's minutes and peak GPU memory. About 2 GB of replica.
rehearse-gpu:
	$(MAKE) --no-print-directory rehearse REPLICA_SCALE=real REHEARSE_FLAGS="--full-sizes --t4"

# Open the labs in JupyterLab, with this project's environment as the notebooks' kernel.
jupyter: install tiny-world
	$(BIN)/jupyter lab notebooks/

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

# The tiny labs under a matrix of CPU numerics (threads, ISA, MKL) and seeds, every claim's
# margin per variant: build/robustness/results.json and table.md. Hours on 2 cores for the
# whole matrix; ROBUSTNESS_FLAGS narrows it, e.g. "--only lab3 --variants ci seed-7".
ROBUSTNESS_FLAGS ?= --jobs 1
robustness: install tiny-world
	$(BIN)/python -m labs_tools.robustness $(ROBUSTNESS_FLAGS)

# The two ends of pyproject.toml's ranges, each in an environment of its own
# (build/venv-oldest, build/venv-newest; torch stays at the 2.13.0 CPU wheel): the unit tests
# and Lab 1 on tiny, and for the newest also a short Lab 3. Each prints a table and writes
# build/versions/<end>/report.md. Not part of `make test`: they need the package index and
# 15 to 20 minutes each on 2 idle cores. The tool needs only the standard library: no .venv.
oldest:
	$(PYTHON) -m labs_tools.versions oldest

newest:
	$(PYTHON) -m labs_tools.versions newest

# Mutation testing of the arithmetic the labs' figures rest on (slow; not part of `make test`).
# mutmut copies the package into mutants/ (ignored by git), runs the fast unit tests of
# those modules against each mutant in scope, and a table gives the score per module.
# Scope (tests/README.md): all of rl.ppo_math, stats and metrics; the budget checks of
# prompts; the loss and KL wiring of rl.ppo; the padding and label masking of training.
# MUTATE_JOBS: parallel workers.
MUTATE_JOBS ?= 1
MUTATE_SCOPE ?= 'labs_common.rl.ppo_math.*' 'labs_common.stats.*' 'labs_common.metrics.*' \
	'labs_common.prompts.*PromptBudget*' 'labs_common.prompts.*count_prompt_tokens__mutmut_*' \
	'labs_common.prompts.*max_examples_that_fit__mutmut_*' \
	'labs_common.prompts.*check_prompt_budget__mutmut_*' 'labs_common.rl.ppo.*optimize__mutmut_*' \
	'labs_common.rl.ppo.*_update__mutmut_*' 'labs_common.rl.actor_critic.*_score__mutmut_*' \
	'labs_common.rl.actor_critic.*_kl_to__mutmut_*' \
	'labs_common.rl.actor_critic.*response_logprobs__mutmut_*' \
	'labs_common.training.*tokenize_pairs__mutmut_*' \
	'labs_common.training.*collate_examples__mutmut_*' \
	'labs_common.training.*pad_to_max_length_batch__mutmut_*' \
	'labs_common.training.*padding_share__mutmut_*' 'labs_common.training.*PaddingShare*'
mutate: install
	OMP_NUM_THREADS=1 $(BIN)/mutmut run --max-children $(MUTATE_JOBS) $(MUTATE_SCOPE)
	$(BIN)/python tests/mutation_report.py $(MUTATE_SCOPE)
