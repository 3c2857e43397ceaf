# a2qgen: the two commands a new machine needs are `make demo` and `make test`.

CARGO ?= cargo
HDL_TOOLS := verilator yosys iverilog
DEMO_MODEL ?= examples/digits_p12.toml

.PHONY: all build demo test deps lint bench calibrate check-estimates fuzz fuzz-inputs ptq-study ptq-brevitas search study study-train

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

## Every test: unit, property, snapshot and integration; then the API
## documentation, which must build without a warning.
test: deps
	$(CARGO) test --all-targets
	RUSTDOCFLAGS="-D warnings" $(CARGO) doc --no-deps

## Whole-chain random verification: 500 drawn models through check, gen,
## Verilator lint, co-simulation and Icarus (see docs/verification.md).
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
	for model in mlp3 hadamard_tiled digits_p12 digits_cnn_p12; do \
	  ./target/release/a2qgen synth examples/$$model.toml --json calibration/cached/$$model.json || exit 1; \
	done
	$(CARGO) test --test estimates

## Seeded mutation fuzzing of the model, .npy and ONNX readers: FUZZ_TOML,
## FUZZ_NPY and FUZZ_ONNX mutants (FUZZ_SEED, FUZZ_WORKERS), each run in a subprocess with
## a time limit; prints the exit codes, panics, signals, timeouts and time.
FUZZ_TOML ?= 20000
FUZZ_NPY ?= 5000
FUZZ_ONNX ?= 5000
fuzz-inputs:
	FUZZ_TOML=$(FUZZ_TOML) FUZZ_NPY=$(FUZZ_NPY) FUZZ_ONNX=$(FUZZ_ONNX) $(CARGO) test --release --test fuzz_inputs -- --ignored --nocapture the_full_round

## Post-training quantization study on digits (docs/ptq.md): A2Q, AXE-OPTQ
## and AXE-GPFQ at P = 8..16, beside Brevitas's committed AXE accuracies, and
## multi-stage accumulation; writes docs/ptq/*.
ptq-study:
	$(CARGO) run --release --example ptq_study

## Rerun Brevitas's own AXE on the same float model and data (needs
## torch and brevitas: pip install -r examples/digits/axe/requirements.txt);
## rewrites examples/digits/axe/brevitas_axe.csv, which tests/ptq.rs checks against.
PYTHON ?= python3
ptq-brevitas:
	$(PYTHON) examples/digits/axe/axe_brevitas.py

## The mixed-precision search of docs/search.md on the digits MLP, 1-point
## budget: judged on the test split and on a validation split held out of
## the training images, minimizing LUTs and FFs. Reports go to
## docs/digits_search/, the winners to sim/search/, each checked and
## co-simulated on the whole test set.
SEARCH_DIGITS := --float examples/digits/float --calibration examples/digits/data/train_x.npy \
  --input-scale 1/16 --input-type uint5 --test-inputs examples/digits/data/test_x.npy \
  --test-labels examples/digits/data/test_y.npy --budget 1.0
SEARCH_RUNS := test_lut test_ff validation_lut validation_ff
search: deps build
	for run in $(SEARCH_RUNS); do \
	  case $$run in validation_*) split="--calibration-labels examples/digits/data/train_y.npy";; *) split="";; esac; \
	  ./target/release/a2qgen search $(SEARCH_DIGITS) $$split --objective $${run#*_} \
	    -o sim/search/digits_$$run.toml --report docs/digits_search/$$run || exit 1; \
	  ./target/release/a2qgen check sim/search/digits_$$run.toml || exit 1; \
	  ./target/release/a2qgen cosim sim/search/digits_$$run.toml --inputs examples/digits/data/test_x.npy \
	    --gaps 0.2 --backpressure 0.2 --build-dir sim/search/build_$$run || exit 1; \
	done

## The accumulator-width study (docs/study.md): every model of
## examples/study/models as ROM and hardwired, with proven and 32-bit
## accumulators, scored by infer, estimated and synthesized by Yosys (2 jobs).
## docs/study/results.csv is the cache, keyed by the Verilog's hash: only
## designs whose Verilog changed are synthesized again, and an interrupted
## run resumes. Writes docs/study/{results.csv,parts.csv,table.md,study.svg}.
study: deps
	$(CARGO) run --release --example study -- --jobs 2

## Retrain the study's models with Brevitas (needs torch and brevitas:
## pip install -r examples/study/requirements.txt); rewrites examples/study/models.
study-train:
	$(PYTHON) examples/study/train.py
