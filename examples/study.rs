//! The accumulator-width study of `docs/study.md`: every trained model of
//! `examples/study/models` (written by `examples/study/train.py`) built as
//! {ROM, hardwired} x {proven, 32-bit accumulators}, scored on the digits
//! test split by the bit-exact reference, estimated, and synthesized by
//! Yosys; then the baseline with 32-bit accumulators and the headline
//! design synthesized again with the hierarchy kept, for the breakdown per
//! part.
//!
//! `cargo run --release --example study -- [--jobs N] [--timeout S] [--no-synth] [--only rom|hardwired]`
//! (`make study`) writes `docs/study/results.csv`, `parts.csv`, `table.md`
//! and `study.svg`. `results.csv` is also the cache: a design whose
//! Verilog hashes as a measured row does is not synthesized again, the file
//! is rewritten after every Yosys run, and a Yosys run whose statistics are
//! already in the work folder (`sim/study/<model>/<variant>/`) beside the
//! same Verilog is read back, so an interrupted study resumes. A variant the
//! tool refuses (none, today) is recorded as not built with the reason,
//! and is built by the next run once it is accepted. `--no-synth` runs no
//! Yosys: designs not in the cache stay pending. `--only rom` synthesizes
//! the ROM designs (and the breakdown) only, the hardwired ones staying
//! pending for another run (`--only hardwired` the other way round).

use a2qgen::study::Weights;
use a2qgen::study::driver::{DriverOptions, run};
use a2qgen::study::report::markdown;
use std::error::Error;

fn options() -> Result<DriverOptions, Box<dyn Error>> {
    let mut options = DriverOptions::default();
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = |name: &str| args.next().ok_or(format!("{name} needs a value"));
        match arg.as_str() {
            "--jobs" => options.jobs = value("--jobs")?.parse()?,
            "--timeout" => options.timeout = value("--timeout")?.parse()?,
            "--no-synth" => options.synth = false,
            "--only" => {
                let key = value("--only")?;
                let weights = Weights::from_key(&key)
                    .ok_or(format!("--only: `rom` or `hardwired`, not `{key}`"))?;
                options.only = Some(weights);
            }
            "--models" => options.models = value("--models")?.into(),
            "--out" => options.out = value("--out")?.into(),
            "--work" => options.work = value("--work")?.into(),
            other => return Err(format!("unknown argument `{other}`").into()),
        }
    }
    if !(1..=2).contains(&options.jobs) {
        return Err("--jobs: 1 or 2 (the machine is shared)".into());
    }
    Ok(options)
}

fn main() -> Result<(), Box<dyn Error>> {
    let (rows, parts) = run(&options()?)?;
    print!("{}", markdown(&rows, &parts));
    Ok(())
}
