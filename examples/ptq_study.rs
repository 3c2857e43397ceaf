//! The post-training quantization study of `docs/ptq.md` on the digits
//! MLP: test accuracy at P = 8..16 for A2Q, AXE-OPTQ and AXE-GPFQ with and
//! without zero-centring, beside Brevitas's AXE (the accuracies
//! `examples/digits/axe/axe_brevitas.py` committed) and beside our AXE at
//! Brevitas's scale; and multi-stage accumulation, (T, P_I, P_O) against
//! accuracy and estimated resources. Every model is proven by the
//! quantizer before it is scored by the bit-exact reference.
//!
//! `cargo run --release --example ptq_study [OUT_DIR]` (`make ptq-study`)
//! writes `accuracy.csv`, `accuracy.md`, `accuracy.svg`, `tiles.csv` and
//! `tiles.md` to OUT_DIR (default `docs/ptq`).

use a2qgen::model::{IntType, Tile};
use a2qgen::npyio::read_int_array;
use a2qgen::quantize::{
    FloatModel, NormConstraint, QuantizeMethod, QuantizeSettings, ScaleSearch, quantize,
};
use a2qgen::sweep::{LabelledSet, Measurement, Pricing, measure};
use ndarray::{Array1, Array2, Ix1, Ix2};
use plotters::prelude::*;
use std::error::Error;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

const WIDTHS: [u32; 7] = [8, 9, 10, 11, 12, 14, 16];

/// One configuration of the quantizer.
#[derive(Clone, Copy, Debug)]
struct Config {
    method: QuantizeMethod,
    zero_center: bool,
    search: ScaleSearch,
}

impl Config {
    fn name(&self) -> String {
        let mut name = self.method.to_string();
        if self.zero_center {
            name.push_str(" +zc");
        }
        if self.search == ScaleSearch::Projected && self.method != QuantizeMethod::A2q {
            name.push_str(" (max scale)");
        }
        name
    }
}

struct Data {
    float: FloatModel,
    calibration: Array2<i64>,
    test_inputs: Array2<i64>,
    test_labels: Array1<i64>,
}

fn matrix(path: &Path) -> Result<Array2<i64>, Box<dyn Error>> {
    Ok(read_int_array(path)?.into_dimensionality::<Ix2>()?)
}

fn load(root: &Path) -> Result<Data, Box<dyn Error>> {
    let digits = root.join("examples/digits");
    Ok(Data {
        float: FloatModel::load(&digits.join("float"))?,
        calibration: matrix(&digits.join("data/train_x.npy"))?,
        test_inputs: matrix(&digits.join("data/test_x.npy"))?,
        test_labels: read_int_array(&digits.join("data/test_y.npy"))?
            .into_dimensionality::<Ix1>()?,
    })
}

/// Quantizes, proves (the quantizer refuses an unproven width) and scores
/// one point; `None` when the width is below the usable minimum.
fn point(
    data: &Data,
    config: Config,
    bits: u32,
    tile: Option<Tile>,
) -> Result<Option<Measurement>, Box<dyn Error>> {
    let mut settings = QuantizeSettings::new("digits", IntType::unsigned(5), 1.0 / 16.0, bits);
    settings.method = config.method;
    settings.scale_search = config.search;
    settings.tile = tile;
    if config.zero_center {
        settings.constraint = NormConstraint::A2qPlus;
    }
    let quantized = match quantize(&data.float, data.calibration.view(), &settings) {
        Ok(quantized) => quantized,
        Err(a2qgen::quantize::QuantizeError::BelowUsableWidth { .. }) => return Ok(None),
        Err(e) => return Err(e.into()),
    };
    let test = LabelledSet::new(data.test_inputs.view(), data.test_labels.view())?;
    Ok(Some(measure(&quantized.model, test, &Pricing::Estimate)?))
}

/// `(method, P, accuracy %)` rows.
type Accuracies = Vec<(String, u32, f64)>;

/// `(method, P) -> accuracy` from Brevitas's committed run.
fn brevitas(root: &Path) -> Result<Accuracies, Box<dyn Error>> {
    let text = std::fs::read_to_string(root.join("examples/digits/axe/brevitas_axe.csv"))?;
    text.lines()
        .skip(1)
        .map(|line| {
            let fields: Vec<&str> = line.split(',').collect();
            Ok((
                fields[0].to_string(),
                fields[1].parse()?,
                fields[2].parse()?,
            ))
        })
        .collect()
}

/// One accuracy series: its name and `(P, accuracy %)` points.
type Series = (String, Vec<(u32, Option<f64>)>);

fn accuracy_study(data: &Data, root: &Path) -> Result<(Vec<Series>, String), Box<dyn Error>> {
    let mut configs = Vec::new();
    for method in QuantizeMethod::ALL {
        for zero_center in [false, true] {
            configs.push(Config {
                method,
                zero_center,
                search: ScaleSearch::Calibrated,
            });
        }
    }
    for method in [QuantizeMethod::AxeOptq, QuantizeMethod::AxeGpfq] {
        configs.push(Config {
            method,
            zero_center: false,
            search: ScaleSearch::Projected,
        });
    }
    let mut series: Vec<Series> = Vec::new();
    let mut csv = String::from("series,acc_bits,accuracy_percent,correct,total,lut,ff\n");
    for config in configs {
        let mut points = Vec::new();
        for bits in WIDTHS {
            let measured = point(data, config, bits, None)?;
            if let Some(m) = &measured {
                let r = &m.resources.estimated.declared;
                writeln!(
                    csv,
                    "{},{bits},{:.2},{},{},{:.0},{:.0}",
                    config.name(),
                    m.accuracy.percent(),
                    m.accuracy.correct,
                    m.accuracy.total,
                    r.lut,
                    r.ff
                )?;
            }
            eprintln!(
                "{} P={bits}: {:?}",
                config.name(),
                measured.as_ref().map(|m| m.accuracy.percent())
            );
            points.push((bits, measured.map(|m| m.accuracy.percent())));
        }
        series.push((config.name(), points));
    }
    let reference = brevitas(root)?;
    for method in ["axe-optq", "axe-gpfq"] {
        let points: Vec<(u32, Option<f64>)> = WIDTHS
            .iter()
            .map(|&bits| {
                let found = reference
                    .iter()
                    .find(|(m, b, _)| m == method && *b == bits)
                    .map(|(_, _, a)| *a);
                (bits, found)
            })
            .collect();
        for (bits, accuracy) in &points {
            if let Some(accuracy) = accuracy {
                writeln!(csv, "Brevitas {method},{bits},{accuracy:.2},,,,")?;
            }
        }
        series.push((format!("Brevitas {method}"), points));
    }
    Ok((series, csv))
}

fn accuracy_markdown(series: &[Series]) -> String {
    let mut text = String::from("| method |");
    for bits in WIDTHS {
        write!(text, " P = {bits} |").unwrap();
    }
    text.push_str("\n|---|");
    for _ in WIDTHS {
        text.push_str("---:|");
    }
    text.push('\n');
    for (name, points) in series {
        write!(text, "| {name} |").unwrap();
        for (_, accuracy) in points {
            match accuracy {
                Some(a) => write!(text, " {a:.2}% |").unwrap(),
                None => text.push_str(" below usable |"),
            }
        }
        text.push('\n');
    }
    text
}

const COLORS: [RGBColor; 10] = [
    RGBColor(31, 119, 180),
    RGBColor(174, 199, 232),
    RGBColor(214, 39, 40),
    RGBColor(255, 152, 150),
    RGBColor(44, 160, 44),
    RGBColor(152, 223, 138),
    RGBColor(148, 103, 189),
    RGBColor(197, 176, 213),
    RGBColor(0, 0, 0),
    RGBColor(127, 127, 127),
];

fn accuracy_svg(series: &[Series]) -> Result<String, Box<dyn Error>> {
    let mut out = String::new();
    {
        let root = SVGBackend::with_string(&mut out, (900, 600)).into_drawing_area();
        root.fill(&WHITE)?;
        let mut chart = ChartBuilder::on(&root)
            .caption(
                "digits MLP (W4 A4): post-training quantization at accumulator width P",
                ("sans-serif", 18),
            )
            .margin(20)
            .x_label_area_size(45)
            .y_label_area_size(55)
            .build_cartesian_2d(7.5f64..16.5f64, 0f64..102f64)?;
        chart
            .configure_mesh()
            .x_desc("accumulator width P (bits)")
            .y_desc("test accuracy (%)")
            .x_label_formatter(&|v| format!("{v:.0}"))
            .y_label_formatter(&|v| format!("{v:.0}"))
            .draw()?;
        for (index, (name, points)) in series.iter().enumerate() {
            let color = COLORS[index % COLORS.len()];
            let measured: Vec<(f64, f64)> = points
                .iter()
                .filter_map(|(b, a)| a.map(|a| (f64::from(*b), a)))
                .collect();
            chart
                .draw_series(LineSeries::new(measured.clone(), color.stroke_width(2)))?
                .label(name.clone())
                .legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(2))
                });
            chart.draw_series(measured.iter().map(|&p| Circle::new(p, 3, color.filled())))?;
        }
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::LowerRight)
            .background_style(WHITE.mix(0.9))
            .border_style(BLACK)
            .draw()?;
        root.present()?;
    }
    Ok(out)
}

/// Multi-stage configurations `(T, P_I, P_O)`, untiled ones as `T = 0`.
const TILES: [(usize, u32, u32); 12] = [
    (0, 0, 10),
    (0, 0, 12),
    (32, 10, 12),
    (32, 9, 12),
    (32, 9, 10),
    (16, 9, 12),
    (16, 8, 12),
    (16, 8, 10),
    (8, 8, 12),
    (8, 7, 12),
    (8, 7, 10),
    (8, 6, 10),
];

fn tile_study(data: &Data) -> Result<(String, String), Box<dyn Error>> {
    let mut csv = String::from("tile,inner_bits,acc_bits,method,accuracy_percent,lut,ff\n");
    let mut md = String::from(
        "| T | P_I | P_O | AXE-OPTQ | AXE-GPFQ | LUT (OPTQ) | FF (OPTQ) |\n|--:|--:|--:|--:|--:|--:|--:|\n",
    );
    for (size, inner_bits, bits) in TILES {
        let tile = (size > 0).then_some(Tile { size, inner_bits });
        let mut cells = Vec::new();
        let mut optq_resources = None;
        for method in [QuantizeMethod::AxeOptq, QuantizeMethod::AxeGpfq] {
            let config = Config {
                method,
                zero_center: false,
                search: ScaleSearch::Calibrated,
            };
            let measured = point(data, config, bits, tile)?;
            let text = match &measured {
                Some(m) => {
                    let r = &m.resources.estimated.declared;
                    writeln!(
                        csv,
                        "{size},{inner_bits},{bits},{method},{:.2},{:.0},{:.0}",
                        m.accuracy.percent(),
                        r.lut,
                        r.ff
                    )?;
                    if method == QuantizeMethod::AxeOptq {
                        optq_resources = Some((r.lut, r.ff));
                    }
                    format!("{:.2}%", m.accuracy.percent())
                }
                None => "below usable".into(),
            };
            eprintln!("tile {size} P_I={inner_bits} P_O={bits} {method}: {text}");
            cells.push(text);
        }
        let (t, pi) = match tile {
            Some(_) => (size.to_string(), inner_bits.to_string()),
            None => ("-".into(), "-".into()),
        };
        let (lut, ff) = optq_resources.map_or(("".into(), "".into()), |(l, f)| {
            (format!("{l:.0}"), format!("{f:.0}"))
        });
        writeln!(
            md,
            "| {t} | {pi} | {bits} | {} | {} | {lut} | {ff} |",
            cells[0], cells[1]
        )?;
    }
    Ok((csv, md))
}

fn main() -> Result<(), Box<dyn Error>> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let out = std::env::args()
        .nth(1)
        .map_or_else(|| root.join("docs/ptq"), PathBuf::from);
    std::fs::create_dir_all(&out)?;
    let data = load(&root)?;
    let (series, csv) = accuracy_study(&data, &root)?;
    std::fs::write(out.join("accuracy.csv"), csv)?;
    std::fs::write(out.join("accuracy.md"), accuracy_markdown(&series))?;
    std::fs::write(out.join("accuracy.svg"), accuracy_svg(&series)?)?;
    let (csv, md) = tile_study(&data)?;
    std::fs::write(out.join("tiles.csv"), csv)?;
    std::fs::write(out.join("tiles.md"), md)?;
    println!("wrote {}", out.display());
    Ok(())
}
