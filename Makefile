# The README's commands. Each target creates the virtual environment it needs.
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-$(shell cksum pyproject.toml | cut -d' ' -f1)

.PHONY: demo test goldens mutation lint fmt bench clean iepd

$(STAMP): pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	rm -f $(VENV)/.installed-*
	touch $@

## Run the engine's main job end to end (embedded: spool intake, SQLite ledger, reference receiver).
demo: $(STAMP)
	$(VENV)/bin/engine demo

## Lint, type-check (mypy strict), check the import contract (pyproject.toml), then every
## test: unit, property, integration (real RabbitMQ/PostgreSQL), faults. The in-process
## tests run on every core (pytest-xdist); the `integration` ones (services, engine
## processes, timed faults) run after them one at a time, so no other test competes with
## their timers.
test: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy engine
	$(VENV)/bin/lint-imports
	$(PY) -m pytest -m "not integration" -n auto
	$(PY) -m pytest -m integration

## Rewrite the golden NIEM/CLETS files from the renderers (after an intended change only;
## review the diff). The golden tests never write them.
goldens: $(STAMP)
	$(PY) -m tests.regenerate_goldens

## Mutation testing of the invariant-carrying modules (docs/testing.md): long and CPU-bound,
## so not part of `make test`; niced. MUTATION_ARGS picks targets, e.g. "breaker retry".
mutation: $(STAMP)
	nice -n 19 $(PY) tools/mutation.py $(MUTATION_ARGS)

## Performance: the engine end to end against a bare RabbitMQ relay (docs/performance.md).
## Needs the local RabbitMQ. BENCH_ARGS passes options, e.g. BENCH_ARGS="--mode backlog".
bench: $(STAMP)
	$(PY) bench/pipeline.py $(BENCH_ARGS)

## The NIEM IEPD: regenerate its samples, mapping and catalog in schemas/niem/, then write a
## self-contained copy to build/iepd (every sample validated against the copy's schemas).
iepd: $(STAMP)
	$(PY) tools/build_iepd.py
	rm -rf build/iepd
	$(VENV)/bin/engine niem iepd build/iepd

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/lint-imports

fmt: $(STAMP)
	$(VENV)/bin/ruff check --fix .

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .hypothesis build *.egg-info
