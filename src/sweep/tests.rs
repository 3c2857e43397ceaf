//! The sweep library on the bundled models: narrowing, fixed points
//! against the reference, the CSV and Markdown layouts, the plot.

use super::resources::{Pair, Resources};
use super::*;
use crate::model::{LayerKind, Model, OverflowMode, load_model};
use crate::reference::{AccumulatorMode, Overrides, Reference, predictions};
use ndarray::{Array1, Array2};
use std::path::Path;

fn example(name: &str) -> Model {
    load_model(
        &Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("examples")
            .join(name),
    )
    .unwrap()
}

/// uint4 vectors for mlp3 in a fixed pattern covering 0..=15, labelled
/// with the model's own exact predictions, so the proven widths score 100%.
fn mlp3_test_set(model: &Model) -> (Array2<i64>, Array1<i64>) {
    let inputs = Array2::from_shape_fn((200, 16), |(v, i)| ((v * 7 + i * 3 + v / 16) % 16) as i64);
    let exact = Reference::new(model, &AccumulatorMode::Exact).unwrap();
    let labels = predictions(exact.run(inputs.view()).unwrap().outputs.view());
    (inputs, labels)
}

#[test]
fn narrowing_sets_every_accumulator_and_allows_overflow() {
    let model = example("hadamard_tiled.toml");
    let narrow = narrowed(&model, 9, OverflowMode::Saturate);
    assert_eq!(narrow.name, "hadamard_tiled_p9_saturate");
    for (_, _, dense) in narrow.dense_layers() {
        let acc = dense.accumulator;
        assert_eq!(acc.bits, 9);
        assert_eq!(acc.overflow, OverflowMode::Saturate);
        assert!(acc.allow_overflow);
        // The 10-bit tiles are narrowed with it, never widened.
        assert!(acc.tile.is_none_or(|t| t.inner_bits == 9));
    }
    let wide = narrowed(&model, 16, OverflowMode::Wrap);
    let LayerKind::Dense(fc0) = &wide.layers[1].kind else {
        panic!("layer 1 is dense")
    };
    assert_eq!(fc0.accumulator.tile.unwrap().inner_bits, 10);
}

#[test]
fn a_fixed_point_is_the_reference_run_with_overridden_widths() {
    let model = example("mlp3.toml");
    let (inputs, labels) = mlp3_test_set(&model);
    let test = LabelledSet::new(inputs.view(), labels.view()).unwrap();
    let row = fixed_point(&model, 7, OverflowMode::Wrap, test, &Pricing::Estimate).unwrap();
    let m = row.measurement().unwrap();
    // The same run through the reference's own overrides.
    let overrides = Overrides {
        acc_bits: ["fc0", "fc1", "fc2"].map(|l| (l.to_string(), 7)).into(),
        inner_bits: Default::default(),
        overflow: Some(OverflowMode::Wrap),
    };
    let run = Reference::new(&model, &AccumulatorMode::Declared(overrides))
        .unwrap()
        .run(inputs.view())
        .unwrap();
    let correct = predictions(run.outputs.view())
        .iter()
        .zip(&labels)
        .filter(|(p, l)| p == l)
        .count();
    assert_eq!(m.accuracy.correct, correct);
    let events: Vec<u64> = run.overflow.iter().map(|e| e.total()).collect();
    let swept: Vec<u64> = m.layers.iter().map(|l| l.overflow_events).collect();
    assert_eq!(swept, events);
    assert!(m.overflow_events() > 0 && !m.proven());
    assert_eq!(
        m.layers.iter().map(|l| l.min_bits).collect::<Vec<_>>(),
        [10, 9, 11]
    );
}

#[test]
fn proven_widths_score_the_exact_predictions_without_overflow() {
    let model = example("mlp3.toml");
    let (inputs, labels) = mlp3_test_set(&model);
    let test = LabelledSet::new(inputs.view(), labels.view()).unwrap();
    for mode in [OverflowMode::Wrap, OverflowMode::Saturate] {
        let row = fixed_point(&model, 12, mode, test, &Pricing::Estimate).unwrap();
        let m = row.measurement().unwrap();
        assert!(m.proven());
        assert_eq!(m.overflow_events(), 0);
        assert_eq!(m.accuracy.correct, m.accuracy.total);
    }
}

#[test]
fn a_test_set_must_have_one_label_per_input() {
    let inputs = Array2::<i64>::zeros((3, 16));
    let labels = Array1::<i64>::zeros(2);
    let err = LabelledSet::new(inputs.view(), labels.view()).unwrap_err();
    assert_eq!(err.to_string(), "2 labels for 3 inputs");
}

fn resources(lut: f64) -> Resources {
    Resources {
        lut,
        ff: lut / 2.0,
        carry4: lut / 8.0,
        dsp: 0.0,
        bram18: 0.0,
    }
}

/// A measured row with made-up figures (layout tests only).
fn measured(series: Series, acc_bits: u32, correct: usize, lut: f64) -> SweepRow {
    SweepRow {
        series,
        acc_bits,
        outcome: Outcome::Measured(Box::new(Measurement {
            model: format!("m_p{acc_bits}"),
            accuracy: crate::quantize::Accuracy {
                correct,
                total: 100,
            },
            layers: vec![
                LayerPoint {
                    name: "fc0".into(),
                    declared_bits: acc_bits,
                    min_bits: 11,
                    overflow_events: if acc_bits < 11 { 40 } else { 0 },
                },
                LayerPoint {
                    name: "fc1".into(),
                    declared_bits: acc_bits,
                    min_bits: 9,
                    overflow_events: 0,
                },
            ],
            resources: ResourceComparison {
                estimated: Pair {
                    declared: resources(lut),
                    wide: resources(1000.0),
                },
                synthesized: None,
            },
        })),
    }
}

fn below_usable(acc_bits: u32) -> SweepRow {
    SweepRow {
        series: Series::Quantized,
        acc_bits,
        outcome: Outcome::BelowUsable {
            layer: "fc0".into(),
            least_bits: 7,
        },
    }
}

fn layout_rows() -> Vec<SweepRow> {
    vec![
        measured(Series::Quantized, 16, 99, 900.0),
        measured(Series::Quantized, 12, 97, 850.0),
        below_usable(6),
        measured(Series::Fixed(OverflowMode::Wrap), 10, 50, 800.0),
    ]
}

#[test]
fn the_csv_has_a_header_and_one_line_per_point() {
    let text = csv(&layout_rows());
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 5);
    let header: Vec<&str> = lines[0].split(',').collect();
    assert_eq!(header, csv_columns(&layout_rows()));
    for column in [
        "fc0_min_bits",
        "fc1_overflow_events",
        "lut",
        "lut_32",
        "lut_ratio",
    ] {
        assert!(header.contains(&column), "{column}");
    }
    let cell = |line: &str, column: &str| {
        let i = header.iter().position(|h| *h == column).unwrap();
        line.split(',').nth(i).unwrap().to_string()
    };
    assert!(
        lines
            .iter()
            .skip(1)
            .all(|l| l.split(',').count() == header.len())
    );
    assert_eq!(cell(lines[2], "accuracy_percent"), "97.0000");
    assert_eq!(cell(lines[2], "lut_ratio"), "0.850");
    assert_eq!(cell(lines[3], "status"), "below-usable");
    assert_eq!(cell(lines[3], "least_usable_bits"), "7");
    assert_eq!(cell(lines[3], "accuracy_percent"), "");
    assert_eq!(cell(lines[4], "series"), "fixed-wrap");
    assert_eq!(cell(lines[4], "fc0_overflow_events"), "40");
    assert_eq!(cell(lines[4], "proven"), "false");
}

#[test]
fn the_markdown_table_names_the_unusable_width() {
    let table = markdown(&layout_rows());
    assert!(table.contains("min P (fc0/fc1)"), "{table}");
    assert!(
        table.contains("below the usable minimum: `fc0` needs P >= 7"),
        "{table}"
    );
    assert!(table.contains("| fixed, wrap "), "{table}");
    assert!(table.contains("0.85x"), "{table}");
    assert!(table.contains("40/0"), "{table}");
}

#[test]
fn the_plot_labels_every_measured_point_with_its_width() {
    let svg = svg(&layout_rows(), "m").unwrap();
    assert!(svg.starts_with("<svg"), "{}", &svg[..80]);
    // The SVG backend writes each text on its own line.
    for label in [
        "\n16\n",
        "\n12\n",
        "\n10\n",
        "quantized at each P",
        "narrowed to P, wrap",
    ] {
        assert!(svg.contains(label), "{label}");
    }
    assert!(!svg.contains("\n6\n"));
    assert!(matches!(
        super::svg(&[below_usable(6)], "m"),
        Err(PlotError::NothingToPlot)
    ));
}
