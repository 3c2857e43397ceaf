# a2qgen: the two commands a new machine needs are `make demo` and `make test`.

CARGO ?= cargo
HDL_TOOLS := verilator yosys iverilog
DEMO_MODEL ?= examples/digits_p12.toml

.PHONY: all build demo test deps lint bench calibrate check-estimates fuzz fuzz-inputs

all: build

build:
	$(CARGO) build --release

## Install Verilator, Yosys and Icarus Verilog from Debian's packages when missing.
deps:
	@missing=""; \
	for tool in $(HDL_TOOLS); do command -v $$tool >/dev/null 2>&1 || missing="$$missing $$tool"; done; \
	if [ -z "$$missing" ]; then exit 0; fi; \
	if [ "$$(id -u)" != 0 ]; then \
	  echo "error: missing:$$missing. Install them as root: apt-get update && apt-get install -y $(HDL_TOOLS)" >&2; \
	  exit 1; \
	fi; \
	echo "installing$$missing with apt-get"; \
	apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y $(HDL_TOOLS)

## The main job on the bundled example.
demo: deps build
	./target/release/a2qgen info $(DEMO_MODEL)
	./target/release/a2qgen check $(DEMO_MODEL)
	./target/release/a2qgen infer $(DEMO_MODEL) --inputs examples/digits/data/test_x.npy --labels examples/digits/data/test_y.npy
	./target/release/a2qgen gen $(DEMO_MODEL)
	./target/release/a2qgen cosim $(DEMO_MODEL) --inputs examples/digits/data/test_x.npy --gaps 0.2 --backpressure 0.2
	./target/release/a2qgen estimate $(DEMO_MODEL)

## Every test: unit, property, snapshot and integration.
test: deps
	$(CARGO) test --all-targets

## Whole-chain random verification: 500 drawn models through check, gen,
## Verilator lint, co-simulation and Icarus (see "How the chain is verified").
fuzz: deps build
	./target/release/a2qgen fuzz --models 500 --seed 1

## Formatting check and clippy with warnings as errors.
lint:
	$(CARGO) fmt --check
	$(CARGO) clippy --all-targets -- -D warnings

## Benchmarks: each prints its figures.
bench:
	$(CARGO) bench

## Synthesize the calibration grid with Yosys (resumes from the runs already
## in calibration/yosys_runs.csv) and refit calibration/constants.toml.
## Delete the CSV first to redo every run.
calibrate: deps build
	./target/release/a2qgen calibrate
	$(CARGO) build --release

## Rerun Yosys on the bundled examples, refresh calibration/cached/*.json,
## and check the estimates against them.
check-estimates: deps build
	for model in mlp3 hadamard_tiled digits_p12; do \
	  ./target/release/a2qgen synth examples/$$model.toml --json calibration/cached/$$model.json || exit 1; \
	done
	$(CARGO) test --test estimates

## Seeded mutation fuzzing of the model and .npy readers: FUZZ_TOML and
## FUZZ_NPY mutants (FUZZ_SEED, FUZZ_WORKERS), each run in a subprocess with
## a time limit; prints the exit codes, panics, signals, timeouts and time.
FUZZ_TOML ?= 20000
FUZZ_NPY ?= 5000
FUZZ_ONNX ?= 5000
fuzz-inputs:
	FUZZ_TOML=$(FUZZ_TOML) FUZZ_NPY=$(FUZZ_NPY) FUZZ_ONNX=$(FUZZ_ONNX) $(CARGO) test --release --test fuzz_inputs -- --ignored --nocapture the_full_round
