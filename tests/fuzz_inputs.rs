//! A seeded mutation fuzzer for the model (TOML) and `.npy` readers: byte
//! flips, truncations, splices, numbers replaced by extreme values, huge
//! shapes and swapped dtypes in `.npy` headers. Each mutant is run through
//! the binary in a subprocess with a time limit (`info`, `check`,
//! `estimate`, `infer`, `sim`, `gen --plan` in turn), which must exit 0, 1
//! or 2, print no panic, take no signal and finish in time.
//!
//! The committed QONNX exports (and the external data files of the dynamo
//! ones) are mutated the same way and run through `import`.
//!
//! `cargo test` runs a bounded round; `make fuzz-inputs` the full one
//! (`FUZZ_TOML`, `FUZZ_NPY` and `FUZZ_ONNX` mutations, `FUZZ_SEED`), which
//! prints its figures.

use a2qgen::sim::SplitMix64;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Longest a single run may take.
const TIME_LIMIT: Duration = Duration::from_secs(10);

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Numbers a mutation puts in place of a number.
const EXTREMES: [&str; 22] = [
    "0",
    "-1",
    "1",
    "2",
    "3",
    "1024",
    "1025",
    "65536",
    "1048576",
    "1048577",
    "2147483647",
    "2147483648",
    "4294967296",
    "4611686018427387904",
    "9223372036854775807",
    "-9223372036854775808",
    "9223372036854775808",
    "18446744073709551616",
    "1e308",
    "nan",
    "inf",
    "-0",
];

/// Shapes a mutation puts in an `.npy` header.
const SHAPES: [&str; 12] = [
    "()",
    "(1099511627776,)",
    "(68719476736, 16)",
    "(0,)",
    "(0, 16)",
    "(4611686018427387904,)",
    "(2147483648, 2147483648)",
    "(18446744073709551615,)",
    "(18446744073709551615, 18446744073709551615)",
    "(1, 2, 3, 4)",
    "(16, 16)",
    "(-1, 16)",
];

/// Dtypes a mutation puts in an `.npy` header.
const DTYPES: [&str; 14] = [
    "|i1", "<i2", ">i2", "<i4", ">i8", "|u1", "<u2", ">u8", "|b1", "<f4", ">f8", "<c16", "|S3",
    "|O",
];

/// Values of TOML strings swapped by a mutation.
const WORDS: [&str; 17] = [
    "dense",
    "hadamard",
    "conv",
    "maxpool",
    "wrap",
    "saturate",
    "thresholds",
    "none",
    "lut",
    "dsp",
    "rom",
    "hardwired",
    "auto",
    "true",
    "false",
    "/dev/zero",
    "",
];

struct Rng(SplitMix64);

impl Rng {
    fn below(&mut self, n: usize) -> usize {
        self.0.range_inclusive(0, n as i64 - 1) as usize
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

/// The byte ranges of the decimal numbers in `text`.
fn numbers(text: &[u8]) -> Vec<(usize, usize)> {
    let mut spans = Vec::new();
    let mut i = 0;
    while i < text.len() {
        if text[i].is_ascii_digit() {
            let start = i;
            while i < text.len() && text[i].is_ascii_digit() {
                i += 1;
            }
            spans.push((start, i));
        } else {
            i += 1;
        }
    }
    spans
}

fn replace(bytes: &[u8], (start, end): (usize, usize), with: &[u8]) -> Vec<u8> {
    [&bytes[..start], with, &bytes[end..]].concat()
}

/// The generic mutations, for either kind of file; returns its name.
fn mutate_bytes(rng: &mut Rng, bytes: &mut Vec<u8>, donors: &[Vec<u8>]) -> &'static str {
    let len = bytes.len().max(1);
    match rng.below(6) {
        0 => {
            let at = rng.below(len).min(bytes.len().saturating_sub(1));
            if let Some(b) = bytes.get_mut(at) {
                *b ^= 1 << rng.below(8);
            }
            "bit flip"
        }
        1 => {
            for _ in 0..1 + rng.below(8) {
                let at = rng.below(len).min(bytes.len().saturating_sub(1));
                if let Some(b) = bytes.get_mut(at) {
                    *b = rng.below(256) as u8;
                }
            }
            "random bytes"
        }
        2 => {
            bytes.truncate(rng.below(len));
            "truncation"
        }
        3 => {
            let donor = rng.pick(donors);
            let from = rng.below(donor.len().max(1));
            let to = (from + 1 + rng.below(64)).min(donor.len());
            let at = rng.below(len + 1).min(bytes.len());
            let piece = donor.get(from..to).unwrap_or(&[]).to_vec();
            bytes.splice(at..at, piece);
            "splice"
        }
        4 => {
            let from = rng.below(len).min(bytes.len());
            let to = (from + 1 + rng.below(32)).min(bytes.len());
            bytes.drain(from..to);
            "deletion"
        }
        _ => {
            let spans = numbers(bytes);
            if spans.is_empty() {
                return "number (none)";
            }
            let span = *rng.pick(&spans);
            *bytes = replace(bytes, span, rng.pick(&EXTREMES).as_bytes());
            "extreme number"
        }
    }
}

/// A TOML mutant: the generic mutations plus words swapped.
fn mutate_toml(rng: &mut Rng, seed: &[u8], donors: &[Vec<u8>]) -> (Vec<u8>, &'static str) {
    let mut bytes = seed.to_vec();
    let kind = if rng.below(7) == 0 {
        let text = String::from_utf8_lossy(&bytes).into_owned();
        let from = rng.pick(&WORDS[..14]);
        let to = rng.pick(&WORDS);
        bytes = text.replacen(from, to, 1).into_bytes();
        "word swap"
    } else {
        mutate_bytes(rng, &mut bytes, donors)
    };
    // Sometimes a second mutation on top.
    if rng.below(4) == 0 {
        mutate_bytes(rng, &mut bytes, donors);
    }
    (bytes, kind)
}

/// An `.npy` mutant: header-aware mutations or the generic ones.
fn mutate_npy(rng: &mut Rng, seed: &[u8], donors: &[Vec<u8>]) -> (Vec<u8>, &'static str) {
    let mutated = match rng.below(8) {
        0 | 7 => {
            let shape = *rng.pick(&SHAPES);
            with_header(seed, |h| replace_value(h, "'shape': ", ')', shape))
                .map(|b| (b, "huge or odd shape"))
        }
        1 => {
            let dtype = *rng.pick(&DTYPES);
            with_header(seed, |h| {
                replace_value(h, "'descr': '", '\'', &format!("{dtype}'"))
            })
            .map(|b| (b, "dtype swap"))
        }
        2 => with_header(seed, |h| h.replacen("False", "True", 1)).map(|b| (b, "fortran order")),
        3 => {
            let mut bytes = seed.to_vec();
            if bytes.len() > 9 {
                let extreme: [[u8; 2]; 4] = [[0, 0], [0xff, 0xff], [1, 0], [0, 0x80]];
                bytes[8..10].copy_from_slice(&extreme[rng.below(4)]);
            }
            Some((bytes, "header length"))
        }
        4 => {
            let mut bytes = seed.to_vec();
            if bytes.len() > 7 {
                bytes[6] = *rng.pick(&[0u8, 1, 2, 3, 4, 255]);
            }
            Some((bytes, "version"))
        }
        _ => None,
    };
    mutated.unwrap_or_else(|| {
        let mut bytes = seed.to_vec();
        let kind = mutate_bytes(rng, &mut bytes, donors);
        (bytes, kind)
    })
}

/// The `.npy` file (version 1.0) with its header text rewritten by `edit`
/// and padded again as numpy pads it, so that the mutant's header is well
/// formed and only what `edit` changed is hostile.
fn with_header(npy: &[u8], edit: impl Fn(&str) -> String) -> Option<Vec<u8>> {
    let length = u16::from_le_bytes([*npy.get(8)?, *npy.get(9)?]) as usize;
    let text = std::str::from_utf8(npy.get(10..10 + length)?).ok()?;
    let mut header = edit(text.trim_end());
    while !(10 + header.len() + 1).is_multiple_of(64) {
        header.push(' ');
    }
    header.push('\n');
    let mut bytes = npy[..8].to_vec();
    bytes.extend_from_slice(&u16::try_from(header.len()).ok()?.to_le_bytes());
    bytes.extend_from_slice(header.as_bytes());
    bytes.extend_from_slice(&npy[10 + length..]);
    Some(bytes)
}

/// `text` with the value after `key` up to and including `end` replaced.
fn replace_value(text: &str, key: &str, end: char, with: &str) -> String {
    let Some(start) = text.find(key).map(|at| at + key.len()) else {
        return text.to_string();
    };
    let Some(stop) = text[start + 1..].find(end).map(|at| start + 1 + at + 1) else {
        return text.to_string();
    };
    format!("{}{with}{}", &text[..start], &text[stop..])
}

/// How one run ended.
#[derive(Debug, PartialEq, Eq, PartialOrd, Ord, Clone, Copy)]
enum Outcome {
    Exit(i32),
    Panic,
    Signal,
    Timeout,
}

/// Runs the binary with `args`, killing it after [`TIME_LIMIT`].
fn run(args: &[String]) -> (Outcome, Duration) {
    let started = Instant::now();
    let mut child = Command::new(env!("CARGO_BIN_EXE_a2qgen"))
        .args(args)
        .current_dir(root())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // A thread drains stderr so that a verbose run cannot block on a full pipe.
    let mut stderr = child.stderr.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = std::io::Read::read_to_string(&mut stderr, &mut text);
        text
    });
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break Some(status);
        }
        if started.elapsed() > TIME_LIMIT {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(2));
    };
    let elapsed = started.elapsed();
    let text = reader.join().unwrap_or_default();
    let outcome = match status {
        None => Outcome::Timeout,
        Some(_) if text.contains("panicked") => Outcome::Panic,
        Some(status) => match status.code() {
            Some(code) => Outcome::Exit(code),
            None => Outcome::Signal,
        },
    };
    (outcome, elapsed)
}

/// The seeds: models whose arrays are given by absolute path, and arrays.
struct Corpus {
    dir: tempfile::TempDir,
    models: Vec<Vec<u8>>,
    arrays: Vec<Vec<u8>>,
    /// A model whose `fc0` weights are read from `FC0_WEIGHTS_MUTANT`.
    npy_host: String,
}

/// A convolution with stride and padding, a max pool and a dense layer,
/// every array inline: the window fields and shapes to mutate.
const SMALL_CNN: &str = r#"[model]
name = "small_cnn"

[input]
length = 16
bits = 4
signed = false
shape = [4, 4, 1]

[[layers]]
name = "conv0"
kind = "conv"
in_channels = 1
out_channels = 2
kernel = [3, 3]
stride = [2, 1]
padding = [1, 1, 1, 1]
weight_bits = 3
weights = [[[[1], [0], [-1]], [[2], [0], [-2]], [[1], [0], [-1]]], [[[3], [3], [3]], [[0], [0], [0]], [[-4], [-4], [-4]]]]
bias = [1, -1]
accumulator = { bits = 9, tile = { size = 3, inner_bits = 9 } }
activation = { kind = "thresholds", bits = 1, thresholds = [[0], [2]] }
hardware = { pe = 2, simd = 1 }

[[layers]]
name = "pool"
kind = "maxpool"
kernel = [2, 2]
stride = [1, 2]

[[layers]]
name = "fc"
kind = "dense"
in_features = 4
out_features = 2
weight_bits = 4
weights = [[1, -2, 3, -4], [-8, 7, 0, 1]]
accumulator = { bits = 7 }
"#;

const FC0_WEIGHTS_MUTANT: &str = "mutant_weights.npy";
/// Index in `Corpus::arrays` of mlp3's input vectors (0 is its fc0 weights).
const INPUTS_SEED: usize = 4;

impl Corpus {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let absolute = |name: &str| {
            let text =
                std::fs::read_to_string(root().join("examples").join(format!("{name}.toml")))
                    .unwrap();
            text.replace(
                &format!("\"{name}/"),
                &format!("\"{}/", root().join("examples").join(name).display()),
            )
        };
        let mlp3 = absolute("mlp3");
        let fc0 = format!(
            "\"{}/fc0_weights.npy\"",
            root().join("examples/mlp3").display()
        );
        let npy_host = mlp3.replace(
            &fc0,
            &format!("\"{}\"", dir.path().join(FC0_WEIGHTS_MUTANT).display()),
        );
        // mlp3 with its fc1 hardwired unfolded, and folded with `auto`.
        let fc1_hardware = "hardware = { pe = 2, simd = 8 }";
        assert!(mlp3.contains(fc1_hardware));
        let hardwired = mlp3.replacen(fc1_hardware, "hardware = { weights = \"hardwired\" }", 1);
        let auto = mlp3.replacen(
            fc1_hardware,
            "hardware = { pe = 2, simd = 8, weights = \"auto\" }",
            1,
        );
        let models = vec![
            mlp3.into_bytes(),
            hardwired.into_bytes(),
            auto.into_bytes(),
            absolute("hadamard_tiled").into_bytes(),
            std::fs::read(root().join("tests/fixtures/tiny_dense.toml")).unwrap(),
            absolute("digits_cnn_p12").into_bytes(),
            SMALL_CNN.as_bytes().to_vec(),
        ];
        let mut arrays = Vec::new();
        for file in [
            "examples/mlp3/fc0_weights.npy",
            "examples/mlp3/fc0_thresholds.npy",
            "examples/mlp3/fc0_bias.npy",
            "examples/hadamard_tiled/fc0_weights.npy",
        ] {
            arrays.push(std::fs::read(root().join(file)).unwrap());
        }
        let inputs = a2qgen_inputs();
        std::fs::write(dir.path().join("x16.npy"), &inputs).unwrap();
        arrays.push(inputs);
        Corpus {
            dir,
            models,
            arrays,
            npy_host,
        }
    }

    fn path(&self, name: &str) -> String {
        self.dir.path().join(name).display().to_string()
    }
}

/// Four valid input vectors of mlp3 (16 x uint4) as an int8 `.npy`.
fn a2qgen_inputs() -> Vec<u8> {
    let mut header = "{'descr': '|i1', 'fortran_order': False, 'shape': (4, 16), }".to_string();
    while !(10 + header.len() + 1).is_multiple_of(64) {
        header.push(' ');
    }
    header.push('\n');
    let mut bytes = b"\x93NUMPY\x01\x00".to_vec();
    bytes.extend_from_slice(&(header.len() as u16).to_le_bytes());
    bytes.extend_from_slice(header.as_bytes());
    bytes.extend((0..64u32).map(|i| ((i * 7) % 16) as u8));
    bytes
}

/// The command a mutant model is run through, in turn.
fn model_command(index: usize, model: &str, inputs: &str) -> Vec<String> {
    let words: Vec<&str> = match index % 6 {
        0 => vec!["info", model],
        1 => vec!["check", model],
        2 => vec!["estimate", model],
        3 => vec!["infer", model, "--inputs", inputs],
        4 => vec!["sim", model, "--inputs", inputs],
        _ => vec!["gen", model, "--plan"],
    };
    words.into_iter().map(str::to_string).collect()
}

/// What a round of the fuzzer measured.
#[derive(Default)]
struct Figures {
    runs: usize,
    outcomes: BTreeMap<Outcome, usize>,
    kinds: BTreeMap<&'static str, usize>,
    slowest: Duration,
    failures: Vec<String>,
}

impl Figures {
    fn record(
        &mut self,
        index: usize,
        kind: &'static str,
        args: &[String],
        outcome: Outcome,
        took: Duration,
    ) {
        self.runs += 1;
        *self.outcomes.entry(outcome).or_default() += 1;
        *self.kinds.entry(kind).or_default() += 1;
        self.slowest = self.slowest.max(took);
        if !matches!(outcome, Outcome::Exit(0..=2)) && self.failures.len() < 20 {
            self.failures.push(format!(
                "mutant {index} ({kind}): {outcome:?}: a2qgen {}",
                args.join(" ")
            ));
        }
    }

    fn bad(&self) -> usize {
        self.outcomes
            .iter()
            .filter(|(o, _)| !matches!(o, Outcome::Exit(0..=2)))
            .map(|(_, n)| n)
            .sum()
    }

    fn report(&self, what: &str, wall: Duration) -> String {
        let count = |o: Outcome| self.outcomes.get(&o).copied().unwrap_or(0);
        let exits = |c: i32| count(Outcome::Exit(c));
        let other_exits: usize = self
            .outcomes
            .iter()
            .filter(|(o, _)| matches!(o, Outcome::Exit(c) if !(0..=2).contains(c)))
            .map(|(_, n)| n)
            .sum();
        let kinds: Vec<String> = self.kinds.iter().map(|(k, n)| format!("{k} {n}")).collect();
        format!(
            "{what}: {} mutations in {:.1} s (slowest run {:.2} s): exit 0: {}, exit 1: {}, exit 2: {}, \
             other exit codes: {other_exits}, panics: {}, signals: {}, timeouts: {}\n  mutations: {}",
            self.runs,
            wall.as_secs_f64(),
            self.slowest.as_secs_f64(),
            exits(0),
            exits(1),
            exits(2),
            count(Outcome::Panic),
            count(Outcome::Signal),
            count(Outcome::Timeout),
            kinds.join(", ")
        )
    }
}

/// Writes mutant `index` and returns its kind and the arguments to run it.
type Job<'a> = dyn Fn(usize, &mut Rng) -> (&'static str, Vec<String>) + Sync + 'a;

/// Runs `count` mutants on `workers` threads: `job(index, rng)` writes
/// mutant `index` and returns its kind and the arguments to run it with.
fn fuzz(count: usize, seed: u64, workers: usize, job: &Job) -> Figures {
    let figures = Mutex::new(Figures::default());
    let next = std::sync::atomic::AtomicUsize::new(0);
    std::thread::scope(|scope| {
        for _ in 0..workers {
            scope.spawn(|| {
                loop {
                    let index = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    if index >= count {
                        break;
                    }
                    // One generator per mutant: a failure is reproduced from its index.
                    let mut rng = Rng(SplitMix64::new(seed ^ (index as u64).wrapping_mul(0x9E37)));
                    let (kind, args) = job(index, &mut rng);
                    let (outcome, took) = run(&args);
                    figures
                        .lock()
                        .unwrap()
                        .record(index, kind, &args, outcome, took);
                }
            });
        }
    });
    figures.into_inner().unwrap()
}

/// TOML mutants, each in its own file of `corpus.dir`.
fn fuzz_toml(corpus: &Corpus, count: usize, seed: u64, workers: usize) -> Figures {
    let inputs = corpus.path("x16.npy");
    fuzz(count, seed, workers, &|index, rng| {
        let base = rng.pick(&corpus.models).clone();
        let (bytes, kind) = mutate_toml(rng, &base, &corpus.models);
        let path = corpus.path(&format!("m{}.toml", worker_slot()));
        std::fs::write(&path, bytes).unwrap();
        (kind, model_command(index, &path, &inputs))
    })
}

/// `.npy` mutants, read as the weights of mlp3's `fc0` (`info`, `check`)
/// and as the inputs of `infer` and `sim`.
fn fuzz_npy(corpus: &Corpus, count: usize, seed: u64, workers: usize) -> Figures {
    let model = corpus.path("mlp3.toml");
    std::fs::write(&model, corpus.models[0].as_slice()).unwrap();
    fuzz(count, seed, workers, &|index, rng| {
        // Mostly the array the mutant stands in for, so that valid mutants
        // reach past the reader; sometimes any other.
        let own = if index % 2 == 0 { 0 } else { INPUTS_SEED };
        let base = if rng.below(4) == 0 {
            rng.pick(&corpus.arrays).clone()
        } else {
            corpus.arrays[own].clone()
        };
        let (bytes, kind) = mutate_npy(rng, &base, &corpus.arrays);
        let slot = worker_slot();
        let args: Vec<String> = if index % 2 == 0 {
            // The host model reads its fc0 weights from a fixed name, so it
            // has one copy per worker.
            let dir = corpus.dir.path().join(format!("host{slot}"));
            std::fs::create_dir_all(&dir).unwrap();
            std::fs::write(dir.join(FC0_WEIGHTS_MUTANT), &bytes).unwrap();
            let host = dir.join("host.toml");
            let text = corpus.npy_host.replace(
                &corpus.path(FC0_WEIGHTS_MUTANT),
                &dir.join(FC0_WEIGHTS_MUTANT).display().to_string(),
            );
            std::fs::write(&host, text).unwrap();
            let command = if index % 4 == 0 { "info" } else { "check" };
            vec![command.to_string(), host.display().to_string()]
        } else {
            let path = corpus.path(&format!("x{slot}.npy"));
            std::fs::write(&path, &bytes).unwrap();
            let command = if index % 4 == 1 { "infer" } else { "sim" };
            vec![
                command.to_string(),
                model.clone(),
                "--inputs".to_string(),
                path,
            ]
        };
        (kind, args)
    })
}

/// The committed exports `import` mutants start from: `(graph, data file)`.
const ONNX_SEEDS: [(&str, Option<&str>); 5] = [
    ("baseline_ts.onnx", None),
    ("a2q_p14_bias_ts.onnx", None),
    ("baseline_multithreshold.onnx", None),
    ("baseline_dynamo.onnx", Some("baseline_dynamo.onnx.data")),
    (
        "a2q_p14_bias_dynamo.onnx",
        Some("a2q_p14_bias_dynamo.onnx.data"),
    ),
];

/// ONNX mutants: a graph (or, for a dynamo export, sometimes its data
/// file) mutated, in a folder of the worker's own, through `import`.
fn fuzz_onnx(count: usize, seed: u64, workers: usize) -> Figures {
    let dir = tempfile::tempdir().unwrap();
    let read = |name: &str| std::fs::read(root().join("examples/brevitas").join(name)).unwrap();
    let seeds: Vec<(Vec<u8>, Option<Vec<u8>>)> = ONNX_SEEDS
        .iter()
        .map(|(graph, data)| (read(graph), data.map(read)))
        .collect();
    let donors: Vec<Vec<u8>> = seeds.iter().map(|(graph, _)| graph.clone()).collect();
    fuzz(count, seed, workers, &|index, rng| {
        let which = rng.below(seeds.len());
        let (graph, data) = &seeds[which];
        let (graph_name, data_name) = ONNX_SEEDS[which];
        let folder = dir.path().join(format!("w{}", worker_slot()));
        let _ = std::fs::remove_dir_all(&folder);
        std::fs::create_dir_all(&folder).unwrap();
        let mut graph = graph.clone();
        let mut data = data.clone();
        let kind = match data.as_mut() {
            Some(bytes) if rng.below(3) == 0 => mutate_bytes(rng, bytes, &donors),
            _ => mutate_bytes(rng, &mut graph, &donors),
        };
        std::fs::write(folder.join(graph_name), &graph).unwrap();
        if let (Some(name), Some(bytes)) = (data_name, &data) {
            std::fs::write(folder.join(name), bytes).unwrap();
        }
        let model = folder.join(graph_name).display().to_string();
        let out = folder.join(format!("m{index}.toml")).display().to_string();
        (kind, vec!["import".into(), model, "-o".into(), out])
    })
}

fn onnx_round(count: usize) {
    let seed = env_count("FUZZ_SEED", 1) as u64;
    let workers = env_count("FUZZ_WORKERS", 2);
    let started = Instant::now();
    let figures = fuzz_onnx(count, seed, workers);
    println!("{}", figures.report("ONNX", started.elapsed()));
    assert_eq!(
        figures.bad(),
        0,
        "runs that panicked, took a signal, timed out or gave another exit code (seed {seed}):\n{}",
        figures.failures.join("\n")
    );
    // Some mutants still import (a changed name, a changed weight), most are refused.
    assert!(figures.outcomes.contains_key(&Outcome::Exit(2)));
    assert!(figures.outcomes.contains_key(&Outcome::Exit(0)));
}

thread_local! {
    static SLOT: std::cell::Cell<Option<usize>> = const { std::cell::Cell::new(None) };
}
static SLOTS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

/// A number of this thread's own, so that workers write distinct files.
fn worker_slot() -> usize {
    SLOT.with(|slot| {
        *slot.get().get_or_insert_with(|| {
            let n = SLOTS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            slot.set(Some(n));
            n
        })
    })
}

fn env_count(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn round(toml: usize, npy: usize) {
    let seed = env_count("FUZZ_SEED", 1) as u64;
    let workers = env_count("FUZZ_WORKERS", 2);
    let corpus = Corpus::new();
    let started = Instant::now();
    let toml_figures = fuzz_toml(&corpus, toml, seed, workers);
    let toml_wall = started.elapsed();
    let started = Instant::now();
    let npy_figures = fuzz_npy(&corpus, npy, seed, workers);
    let npy_wall = started.elapsed();
    println!("{}", toml_figures.report("TOML", toml_wall));
    println!("{}", npy_figures.report(".npy", npy_wall));
    let failures: Vec<&String> = toml_figures
        .failures
        .iter()
        .chain(&npy_figures.failures)
        .collect();
    assert_eq!(
        toml_figures.bad() + npy_figures.bad(),
        0,
        "runs that panicked, took a signal, timed out or gave another exit code (seed {seed}):\n{}",
        failures
            .iter()
            .map(|s| s.as_str())
            .collect::<Vec<_>>()
            .join("\n")
    );
    // The mutants must reach past the parsers: some run cleanly, some are refused.
    for figures in [&toml_figures, &npy_figures] {
        assert!(figures.outcomes.contains_key(&Outcome::Exit(2)));
    }
    assert!(toml_figures.outcomes.contains_key(&Outcome::Exit(0)));
}

#[test]
fn a_bounded_round_of_mutants_exits_cleanly() {
    round(600, 300);
}

/// `make fuzz-inputs`: the full round.
#[test]
#[ignore = "the full round takes minutes: make fuzz-inputs"]
fn the_full_round_of_mutants_exits_cleanly() {
    round(env_count("FUZZ_TOML", 20_000), env_count("FUZZ_NPY", 5_000));
}

#[test]
fn a_bounded_round_of_onnx_mutants_exits_cleanly() {
    onnx_round(200);
}

/// `make fuzz-inputs`: the full round of ONNX mutants.
#[test]
#[ignore = "the full round takes minutes: make fuzz-inputs"]
fn the_full_round_of_onnx_mutants_exits_cleanly() {
    onnx_round(env_count("FUZZ_ONNX", 5_000));
}

#[test]
fn mutations_change_the_file_and_are_reproducible() {
    let corpus = Corpus::new();
    let make = |seed: u64| {
        let mut rng = Rng(SplitMix64::new(seed));
        (0..50)
            .map(|_| mutate_npy(&mut rng, &corpus.arrays[0], &corpus.arrays).0)
            .collect::<Vec<_>>()
    };
    assert_eq!(make(3), make(3));
    assert!(make(3).iter().filter(|m| **m != corpus.arrays[0]).count() > 40);
}
