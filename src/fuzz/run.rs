//! A fuzzing run: which models (drawn from a run seed, one drawn from its
//! own seed, or one read from a file), the chain of each in parallel, the
//! coverage of what they exercised, and the shrinking of failures into
//! reproducers.

use super::chain::{ChainOptions, Failure, Passed, Stage, run_chain};
use super::coverage::{Coverage, Feature, features};
use super::draw::model_seed;
use super::model_gen::{GenConfig, draw_model};
use super::shrink::{Shrunk, shrink, size};
use crate::arch::{PlanOptions, build_plan};
use crate::bounds::analyze;
use crate::model::{Model, write_model};
use rayon::prelude::*;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::time::Instant;

/// Which models a run takes.
#[derive(Clone, Debug)]
pub enum Source {
    /// Models `0..count` of run seed `seed`.
    Run { seed: u64, count: usize },
    /// Model `index` of run seed `seed` alone.
    Only { seed: u64, index: usize },
    /// The model drawn from its own seed.
    ModelSeed(u64),
    /// A model file, with stimulus seed `seed`.
    File { model: Box<Model>, seed: u64 },
}

/// One model to run: where it came from and the seed of its stimulus.
#[derive(Clone, Debug)]
pub struct Case {
    /// Index in the run (0 for a single model).
    pub index: usize,
    /// The model's own seed (the stimulus seed for a file).
    pub seed: u64,
    /// True when the model was drawn from `seed` (not read from a file).
    pub drawn: bool,
    pub model: Model,
}

impl Source {
    pub fn cases(&self, config: &GenConfig) -> Vec<Case> {
        let drawn = |index: usize, seed: u64| Case {
            index,
            seed,
            drawn: true,
            model: draw_model(config, seed),
        };
        match self {
            Source::Run { seed, count } => (0..*count)
                .into_par_iter()
                .map(|i| drawn(i, model_seed(*seed, i)))
                .collect(),
            Source::Only { seed, index } => vec![drawn(*index, model_seed(*seed, *index))],
            Source::ModelSeed(seed) => vec![drawn(0, *seed)],
            Source::File { model, seed } => vec![Case {
                index: 0,
                seed: *seed,
                drawn: false,
                model: model.as_ref().clone(),
            }],
        }
    }
}

/// How to run.
#[derive(Clone, Debug)]
pub struct FuzzOptions {
    pub config: GenConfig,
    /// Folder of the work files and the reproducers.
    pub out: PathBuf,
    pub jobs: usize,
    /// Keep every model's work folder (else only failing ones are kept
    /// until their reproducer is written).
    pub keep: bool,
    /// Chain runs the shrinker may spend on each failing stage (0: none).
    pub shrink_budget: usize,
}

/// The outcome of one model.
#[derive(Clone, Debug)]
pub struct ModelRun {
    pub case: Case,
    pub features: BTreeSet<Feature>,
    pub result: Result<Passed, Failure>,
    pub seconds: f64,
}

/// The reproducer of one failing stage.
#[derive(Clone, Debug)]
pub struct Reproducer {
    pub stage: Stage,
    /// The failing model it was shrunk from.
    pub original: usize,
    pub shrunk: Shrunk,
    pub dir: PathBuf,
    pub model_file: PathBuf,
    pub command: String,
}

/// Everything a run found.
#[derive(Clone, Debug)]
pub struct FuzzReport {
    pub runs: Vec<ModelRun>,
    pub coverage: Coverage,
    pub reproducers: Vec<Reproducer>,
    pub seconds: f64,
}

impl FuzzReport {
    pub fn failures(&self) -> impl Iterator<Item = (&ModelRun, &Failure)> {
        self.runs
            .iter()
            .filter_map(|r| r.result.as_ref().err().map(|f| (r, f)))
    }
}

/// The command that reruns one case.
pub fn reproduce_command(case: &Case, source: &Source) -> String {
    match source {
        Source::Run { seed, .. } | Source::Only { seed, .. } if case.drawn => format!(
            "a2qgen fuzz --seed {seed} --only {} (or --model-seed {:#x})",
            case.index, case.seed
        ),
        _ if case.drawn => format!("a2qgen fuzz --model-seed {:#x}", case.seed),
        _ => format!(
            "a2qgen fuzz --model {} --seed {}",
            case.model.source.display(),
            case.seed
        ),
    }
}

fn work_dir(out: &Path, case: &Case) -> PathBuf {
    out.join("work")
        .join(format!("{:04}_{}", case.index, case.model.name))
}

/// Runs every case on `options.jobs` threads; `progress` hears of each
/// finished model.
pub fn fuzz(
    cases: Vec<Case>,
    options: &FuzzOptions,
    progress: &(dyn Fn(&ModelRun) + Sync),
) -> Result<FuzzReport, std::io::Error> {
    let start = Instant::now();
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(options.jobs.max(1))
        .build()
        .map_err(std::io::Error::other)?;
    std::fs::create_dir_all(&options.out)?;
    let runtime_cache = Some(options.out.join("verilator_runtime"));
    let runs: Vec<ModelRun> = pool.install(|| {
        cases
            .into_par_iter()
            .map(|case| {
                let started = Instant::now();
                let dir = work_dir(&options.out, &case);
                let chain = ChainOptions {
                    dir: dir.clone(),
                    runtime_cache: runtime_cache.clone(),
                    last: Stage::Icarus,
                };
                let result = run_chain(&case.model, case.seed, &chain);
                if !options.keep {
                    let _ = std::fs::remove_dir_all(&dir);
                }
                let plan = build_plan(&case.model, &analyze(&case.model), PlanOptions::default());
                let run = ModelRun {
                    features: features(&case.model, plan.as_ref().ok()),
                    case,
                    result,
                    seconds: started.elapsed().as_secs_f64(),
                };
                progress(&run);
                run
            })
            .collect()
    });
    let mut coverage = Coverage::default();
    for run in &runs {
        coverage.add(&run.features);
    }
    let reproducers = if options.shrink_budget > 0 {
        pool.install(|| shrink_failures(&runs, options, runtime_cache.as_deref()))?
    } else {
        Vec::new()
    };
    if !options.keep {
        let _ = std::fs::remove_dir(options.out.join("work"));
    }
    Ok(FuzzReport {
        runs,
        coverage,
        reproducers,
        seconds: start.elapsed().as_secs_f64(),
    })
}

/// For every failing stage, its smallest failing model shrunk, written as
/// a reproducer under `<out>/<stage>_<model>/`.
fn shrink_failures(
    runs: &[ModelRun],
    options: &FuzzOptions,
    runtime_cache: Option<&Path>,
) -> Result<Vec<Reproducer>, std::io::Error> {
    let mut smallest: BTreeMap<Stage, (&ModelRun, &Failure)> = BTreeMap::new();
    for run in runs {
        if let Err(f) = &run.result {
            let entry = smallest.entry(f.stage).or_insert((run, f));
            if size(&run.case.model) < size(&entry.0.case.model) {
                *entry = (run, f);
            }
        }
    }
    smallest
        .into_par_iter()
        .map(|(stage, (run, failure))| {
            let dir = options
                .out
                .join(format!("{stage}_{}", run.case.model.name));
            let chain = ChainOptions {
                dir: dir.join("shrinking"),
                runtime_cache: runtime_cache.map(Path::to_path_buf),
                last: stage,
            };
            let shrunk = shrink(
                &run.case.model,
                run.case.seed,
                failure,
                &chain,
                options.shrink_budget,
            );
            let _ = std::fs::remove_dir_all(dir.join("shrinking"));
            write_model(&run.case.model, &dir, "original").map_err(std::io::Error::other)?;
            let model_file =
                write_model(&shrunk.model, &dir, "minimal").map_err(std::io::Error::other)?;
            let command = format!(
                "a2qgen fuzz --model {} --seed {}",
                model_file.display(),
                run.case.seed
            );
            let text = format!(
                "Stage `{stage}` fails for model {} (index {}, seed {:#x}):\n  {}\n\n\
                 Shrunk in {} steps ({} variants tried) to minimal.toml, which fails with:\n  {}\n\n\
                 Reproduce the shrunk model:\n  {command}\n\
                 Reproduce the original:\n  a2qgen fuzz --model-seed {:#x}\n",
                run.case.model.name,
                run.case.index,
                run.case.seed,
                failure.message,
                shrunk.steps,
                shrunk.attempts,
                shrunk.failure.message,
                run.case.seed,
            );
            std::fs::write(dir.join("README.txt"), text)?;
            Ok(Reproducer {
                stage,
                original: run.case.index,
                shrunk,
                dir,
                model_file,
                command,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_model_of_a_run_is_drawn_alone_by_index_or_by_seed() {
        let config = GenConfig::default();
        let run = Source::Run { seed: 9, count: 6 }.cases(&config);
        let only = Source::Only { seed: 9, index: 4 }.cases(&config);
        let by_seed = Source::ModelSeed(run[4].seed).cases(&config);
        assert_eq!(only[0].model, run[4].model);
        assert_eq!(by_seed[0].model, run[4].model);
        assert_eq!((only[0].index, only[0].seed), (4, run[4].seed));
        let command = reproduce_command(&only[0], &Source::Only { seed: 9, index: 4 });
        assert!(
            command.starts_with("a2qgen fuzz --seed 9 --only 4"),
            "{command}"
        );
    }
}
