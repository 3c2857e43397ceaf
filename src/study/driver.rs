//! The study's run: build, score and estimate every variant of every
//! trained model, take Yosys's counts from the cache (`results.csv`, keyed
//! by the Verilog's hash) or from a finished run in the work folder, or
//! synthesize what is missing (the results rewritten after every run, so
//! an interrupted study resumes), then the kept-hierarchy breakdown, the
//! table and the plot. `examples/study.rs` (`make study`) calls [`run`].

use super::design::{correct_predictions, design_on_disk};
use super::report::{breakdown_designs, markdown};
use super::{
    Accumulators, BuiltVariant, PartRow, Status, StudyError, StudyRow, TrainedModel, Variant,
    VariantBuild, Weights, build_variant, parse_parts, parse_results, parts_csv, plot,
    read_trained_models, results_csv,
};
use crate::arch::Plan;
use crate::estimate::estimate_plan;
use crate::npyio::read_int_array;
use crate::synth::parts::Part;
use crate::synth::{
    CellCounts, Measured, SynthJob, is_layer, parse_modules, parse_stat, run_jobs, unit_module,
    write_design, yosys_version,
};
use ndarray::{Array1, Array2, Ix1, Ix2};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Duration;

/// What to run and where.
#[derive(Clone, Debug)]
pub struct DriverOptions {
    /// Yosys runs in parallel.
    pub jobs: usize,
    /// Seconds after which one Yosys run is stopped.
    pub timeout: u64,
    /// Run Yosys on what the cache lacks; without it those stay pending.
    pub synth: bool,
    /// Synthesize only the designs with these weights (the others are
    /// read from the cache or stay pending): the ROM designs and the
    /// breakdown first, the hardwired ones in a later run.
    pub only: Option<Weights>,
    /// The trained models and their `accuracy.csv`.
    pub models: PathBuf,
    /// The digits data: `test_x.npy`, `test_y.npy`.
    pub data: PathBuf,
    /// Where `results.csv`, `parts.csv`, `table.md` and `study.svg` go
    /// (the cache is read from there).
    pub out: PathBuf,
    /// The designs and Yosys's files, one folder per design.
    pub work: PathBuf,
}

impl Default for DriverOptions {
    fn default() -> Self {
        DriverOptions {
            jobs: 2,
            timeout: 4 * 3600,
            synth: true,
            only: None,
            models: PathBuf::from("examples/study/models"),
            data: PathBuf::from("examples/digits/data"),
            out: PathBuf::from("docs/study"),
            work: PathBuf::from("sim/study"),
        }
    }
}

fn io(path: &Path, e: impl std::fmt::Display) -> StudyError {
    StudyError::Io(format!("{}: {e}", path.display()))
}

struct TestSplit {
    inputs: Array2<i64>,
    labels: Array1<i64>,
}

fn test_split(data: &Path) -> Result<TestSplit, StudyError> {
    let (x, y) = (data.join("test_x.npy"), data.join("test_y.npy"));
    Ok(TestSplit {
        inputs: read_int_array(&x)
            .map_err(|e| io(&x, e))?
            .into_dimensionality::<Ix2>()
            .map_err(|e| io(&x, e))?,
        labels: read_int_array(&y)
            .map_err(|e| io(&y, e))?
            .into_dimensionality::<Ix1>()
            .map_err(|e| io(&y, e))?,
    })
}

/// A design waiting for Yosys.
struct Pending {
    row: usize,
    job: SynthJob,
}

fn read_or_empty(path: &Path) -> Result<String, StudyError> {
    match std::fs::read_to_string(path) {
        Ok(text) => Ok(text),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(String::new()),
        Err(e) => Err(io(path, e)),
    }
}

/// The rows of an existing results file, the cache.
fn cached_rows(path: &Path) -> Result<Vec<StudyRow>, StudyError> {
    let text = read_or_empty(path)?;
    if text.is_empty() {
        return Ok(Vec::new());
    }
    parse_results(&text, &path.display().to_string())
}

fn cached_parts(path: &Path) -> Result<Vec<PartRow>, StudyError> {
    let text = read_or_empty(path)?;
    if text.is_empty() {
        return Ok(Vec::new());
    }
    parse_parts(&text, &path.display().to_string())
}

fn base_row(trained: &TrainedModel, variant: Variant) -> StudyRow {
    StudyRow {
        model: trained.name.clone(),
        method: trained.method.clone(),
        target_bits: trained.target_bits,
        variant,
        acc_bits: String::new(),
        torch_accuracy: trained.torch_accuracy.clone(),
        infer_correct: None,
        test_images: trained.test_images,
        status: Status::Pending,
        hash: String::new(),
        yosys: None,
        yosys_seconds: None,
        estimate: None,
        note: String::new(),
    }
}

/// The job of a design, flattened or with its hierarchy kept.
fn job(built: &BuiltVariant, dir: &Path, label: String, hierarchy: bool) -> SynthJob {
    SynthJob {
        label,
        dir: dir.to_path_buf(),
        files: built
            .design
            .verilog
            .iter()
            .map(|(n, _)| n.clone())
            .collect(),
        top: built.design.top.clone(),
        hierarchy,
    }
}

/// Writes the design into `dir` unless it is already there.
fn place_design(built: &BuiltVariant, dir: &Path) -> Result<(), StudyError> {
    if !design_on_disk(&built.design, dir) {
        // Statistics of another design must not be read back as this one's.
        for stem in ["", ".hier"] {
            let stat = dir.join(format!("{}{stem}.stat", built.design.top));
            match std::fs::remove_file(&stat) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(io(&stat, e)),
                _ => {}
            }
        }
        write_design(&built.design, dir).map_err(|e| io(dir, e))?;
    }
    Ok(())
}

/// The statistics a finished Yosys run left beside this design.
fn finished_stat(built: &BuiltVariant, dir: &Path, hierarchy: bool) -> Option<String> {
    let stem = if hierarchy { ".hier" } else { "" };
    let path = dir.join(format!("{}{stem}.stat", built.design.top));
    let text = std::fs::read_to_string(path).ok()?;
    design_on_disk(&built.design, dir).then_some(text)
}

fn write_results(out: &Path, rows: &[StudyRow]) -> Result<(), StudyError> {
    let path = out.join("results.csv");
    std::fs::write(&path, results_csv(rows)).map_err(|e| io(&path, e))
}

/// Where a module of a hierarchical run belongs: `(layer, part)`, `-` for
/// what is outside every layer.
fn module_part(plan: &Plan, module: &str) -> (String, String) {
    for (index, unit) in plan.units.iter().enumerate() {
        let name = unit_module(plan, index);
        if !is_layer(unit) && (module == name || module.starts_with(&format!("{name}_"))) {
            return ("-".into(), "FIFOs and converters".into());
        }
    }
    for (index, unit) in plan.units.iter().enumerate().filter(|(_, u)| is_layer(u)) {
        let name = unit_module(plan, index);
        if module == format!("{name}_stage") {
            break;
        }
        if let Some(part) = Part::of_module(&name, module) {
            return (unit.name().to_string(), part.name().to_string());
        }
    }
    ("-".into(), "stream stages and top".into())
}

fn part_rows(
    built: &BuiltVariant,
    row: &StudyRow,
    modules: &[(String, CellCounts)],
) -> Vec<PartRow> {
    let mut sums: BTreeMap<(usize, String, String), Measured> = BTreeMap::new();
    let order = |layer: &str| {
        built
            .plan
            .units
            .iter()
            .position(|u| u.name() == layer)
            .unwrap_or(usize::MAX)
    };
    for (module, cells) in modules {
        let (layer, part) = module_part(&built.plan, module);
        let sum = sums.entry((order(&layer), layer, part)).or_default();
        *sum = *sum + Measured::from_cells(cells);
    }
    sums.into_iter()
        .map(|((_, layer, part), measured)| PartRow {
            hash: built.hash.clone(),
            model: row.model.clone(),
            variant: row.variant,
            layer,
            part,
            measured,
        })
        .collect()
}

/// The kept-hierarchy parts of the baseline with 32-bit accumulators and
/// of the headline design: from the cache when their Verilog is unchanged,
/// else from Yosys.
fn breakdown(
    options: &DriverOptions,
    rows: &[StudyRow],
    built: &[Option<BuiltVariant>],
) -> Result<Vec<PartRow>, StudyError> {
    let cache = cached_parts(&options.out.join("parts.csv"))?;
    let mut parts = Vec::new();
    let mut jobs = Vec::new();
    for design in breakdown_designs(rows) {
        let index = rows
            .iter()
            .position(|r| std::ptr::eq(r, design))
            .expect("a row of the study");
        let Some(built) = &built[index] else { continue };
        let cached: Vec<PartRow> = cache
            .iter()
            .filter(|p| p.hash == built.hash && p.model == design.model)
            .cloned()
            .collect();
        if !cached.is_empty() {
            parts.extend(cached);
            continue;
        }
        let dir = options
            .work
            .join(&design.model)
            .join(design.variant.dir_name());
        if let Some(stat) = finished_stat(built, &dir, true) {
            parts.extend(part_rows(built, design, &parse_modules(&stat)));
        } else if options.synth {
            place_design(built, &dir)?;
            let label = format!("{} ({}) parts", design.model, design.variant);
            jobs.push((job(built, &dir, label, true), index));
        }
    }
    let results = run_jobs(
        &jobs.iter().map(|(j, _)| j.clone()).collect::<Vec<_>>(),
        Duration::from_secs(options.timeout),
        options.jobs,
        true,
        |_, _| {},
    );
    for ((_, index), result) in jobs.iter().zip(results) {
        match result {
            Ok(run) => parts.extend(part_rows(
                built[*index].as_ref().expect("built"),
                &rows[*index],
                &run.modules,
            )),
            Err(e) => eprintln!("breakdown: {e}"),
        }
    }
    Ok(parts)
}

/// Runs the study; returns every design's row and the breakdown, written
/// to `options.out`.
pub fn run(options: &DriverOptions) -> Result<(Vec<StudyRow>, Vec<PartRow>), StudyError> {
    if options.synth && yosys_version().is_none() {
        return Err(StudyError::Io(
            "yosys not found: install it (make deps) or run without Yosys".into(),
        ));
    }
    std::fs::create_dir_all(&options.out).map_err(|e| io(&options.out, e))?;
    let trained = read_trained_models(&options.models)?;
    let split = test_split(&options.data)?;
    let cache = cached_rows(&options.out.join("results.csv"))?;
    let mut rows = Vec::new();
    let mut built_designs: Vec<Option<BuiltVariant>> = Vec::new();
    let mut pending = Vec::new();
    for model in &trained {
        for variant in Variant::ALL {
            let mut row = base_row(model, variant);
            let built = match build_variant(&model.path, variant)? {
                VariantBuild::NotBuilt(reason) => {
                    row.status = Status::NotBuilt;
                    row.note = reason;
                    rows.push(row);
                    built_designs.push(None);
                    continue;
                }
                VariantBuild::Built(built) => *built,
            };
            row.acc_bits = built.acc_bits();
            row.hash = built.hash.clone();
            row.infer_correct = Some(correct_predictions(
                &built.model,
                split.inputs.view(),
                split.labels.view(),
            )?);
            row.estimate = Some(estimate_plan(&built.plan).total);
            let dir = options.work.join(&model.name).join(variant.dir_name());
            if let Some(hit) = cache
                .iter()
                .find(|c| c.hash == built.hash && c.status == Status::Measured)
            {
                row.status = Status::Measured;
                row.yosys = hit.yosys;
                row.yosys_seconds = hit.yosys_seconds;
            } else if let Some(stat) = finished_stat(&built, &dir, false) {
                let cells = parse_stat(&stat, &built.design.top).map_err(|e| io(&dir, e))?;
                row.status = Status::Measured;
                row.yosys = Some(Measured::from_cells(&cells));
            } else if options.synth && options.only.is_none_or(|w| w == variant.weights) {
                place_design(&built, &dir)?;
                let label = format!("{} ({variant})", model.name);
                pending.push(Pending {
                    row: rows.len(),
                    job: job(&built, &dir, label, false),
                });
            }
            rows.push(row);
            built_designs.push(Some(built));
        }
    }
    write_results(&options.out, &rows)?;
    // ROMs before hardwired designs, the baseline first, proven before
    // 32-bit accumulators, then the smaller estimate first: an interrupted
    // study has measured what its headline needs.
    pending.sort_by_key(|p| {
        let r = &rows[p.row];
        let lut = r.estimate.map_or(0, |e| e.lut.round() as i64);
        (
            r.variant.weights != Weights::Rom,
            r.method != "baseline",
            r.variant.accumulators != Accumulators::Proven,
            lut,
            p.row,
        )
    });
    eprintln!(
        "{} designs, {} to synthesize with {} job(s)",
        rows.len(),
        pending.len(),
        options.jobs
    );
    let shared = Mutex::new(rows);
    let jobs: Vec<SynthJob> = pending.iter().map(|p| p.job.clone()).collect();
    run_jobs(
        &jobs,
        Duration::from_secs(options.timeout),
        options.jobs,
        true,
        |index, result| {
            let mut rows = shared.lock().expect("rows");
            let row = &mut rows[pending[index].row];
            match result {
                Ok(run) => {
                    row.status = Status::Measured;
                    row.yosys = Some(run.measured);
                    row.yosys_seconds = Some(run.seconds);
                }
                Err(e) => {
                    row.status = Status::Failed;
                    row.note = e.to_string().lines().next().unwrap_or_default().to_string();
                }
            }
            if let Err(e) = write_results(&options.out, &rows) {
                eprintln!("error: writing the results: {e}");
            }
        },
    );
    // What is reported is what the CSV holds (estimates to one decimal),
    // so the committed table can be checked against the committed CSV.
    let written = results_csv(&shared.into_inner().expect("rows"));
    let rows = parse_results(&written, "results.csv")?;
    let parts = breakdown(options, &rows, &built_designs)?;
    let write = |name: &str, text: String| {
        let path = options.out.join(name);
        std::fs::write(&path, text).map_err(|e| io(&path, e))
    };
    write("parts.csv", parts_csv(&parts))?;
    write("table.md", markdown(&rows, &parts))?;
    match plot::svg(&rows) {
        Ok(svg) => write("study.svg", svg)?,
        Err(e) => eprintln!("no plot: {e}"),
    }
    Ok((rows, parts))
}
