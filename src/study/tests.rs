use super::report::{headline, markdown};
use super::*;
use crate::estimate::Resources;
use crate::synth::Measured;

fn row(model: &str, method: &str, variant: Variant, correct: usize, lut: Option<u64>) -> StudyRow {
    StudyRow {
        model: model.into(),
        method: method.into(),
        target_bits: (method != "baseline").then_some(10),
        variant,
        acc_bits: "10/10/10".into(),
        torch_accuracy: "0.975926".into(),
        infer_correct: Some(correct),
        test_images: 540,
        status: if lut.is_some() {
            Status::Measured
        } else {
            Status::Pending
        },
        hash: format!("{model}{}", variant.dir_name()),
        yosys: lut.map(|lut| Measured {
            lut,
            lutram: 3,
            ff: lut / 3,
            carry4: 7,
            dsp: 0,
            bram18: 0,
            ..Measured::default()
        }),
        yosys_seconds: lut.map(|_| 12.5),
        estimate: Some(Resources {
            lut: 100.25,
            ff: 40.0,
            carry4: 8.0,
            dsp: 0.0,
            bram18: 0.0,
        }),
        note: String::new(),
    }
}

const ROM: Variant = Variant::new(Weights::Rom, Accumulators::Proven);
const ROM32: Variant = Variant::new(Weights::Rom, Accumulators::Wide32);
const WIRED: Variant = Variant::new(Weights::Hardwired, Accumulators::Proven);

fn study() -> Vec<StudyRow> {
    let mut not_built = row("a2q_p10", "a2q", WIRED, 0, None);
    not_built.status = Status::NotBuilt;
    not_built.infer_correct = None;
    not_built.estimate = None;
    not_built.hash.clear();
    not_built.note = "layer 0 (`fc0`): \"hardwired\" refused, with a comma".into();
    vec![
        row("baseline", "baseline", ROM32, 527, Some(6000)),
        row("baseline", "baseline", ROM, 527, Some(5000)),
        // Within one point (521.6 of 540 needed), the fewest LUTs wins.
        row("a2q_p10", "a2q", ROM, 522, Some(2100)),
        row("a2q_p11", "a2q", ROM, 530, Some(2500)),
        // More than a point lost: not a candidate however small.
        row("a2q_p8", "a2q", ROM, 521, Some(900)),
        // 32-bit accumulators are not candidates either.
        row("a2q_p12", "a2q", ROM32, 530, Some(1000)),
        not_built,
    ]
}

#[test]
fn the_results_csv_reads_back_what_it_wrote() {
    let rows = study();
    let text = results_csv(&rows);
    let back = parse_results(&text, "results.csv").unwrap();
    assert_eq!(back.len(), rows.len());
    for (a, b) in rows.iter().zip(&back) {
        assert_eq!(a.model, b.model);
        assert_eq!(a.variant, b.variant);
        assert_eq!(a.status, b.status);
        assert_eq!(a.note, b.note);
        assert_eq!(
            a.yosys.map(|m| (m.lut, m.ff)),
            b.yosys.map(|m| (m.lut, m.ff))
        );
        assert_eq!(a.infer_correct, b.infer_correct);
    }
    assert_eq!(results_csv(&back), text);
}

#[test]
fn a_measured_row_without_counts_is_refused() {
    let text = results_csv(&study()).replacen(",not built,", ",measured,", 1);
    let e = parse_results(&text, "r.csv").unwrap_err().to_string();
    assert!(e.contains("r.csv: line"), "{e}");
}

#[test]
fn the_headline_is_the_smallest_proven_design_within_one_point() {
    let rows = study();
    let h = headline(&rows).unwrap();
    assert_eq!(h.reference.model, "baseline");
    assert_eq!(h.reference.variant, ROM32);
    assert_eq!(h.best.unwrap().model, "a2q_p10");
    assert!((h.lut_ratio().unwrap() - 6000.0 / 2100.0).abs() < 1e-9);
    let text = markdown(&rows, &[]);
    assert!(text.contains("2.86x fewer LUTs"), "{text}");
    assert!(text.contains("not reached"), "{text}");
    assert!(text.contains("not built (1 designs"), "{text}");
}

#[test]
fn no_headline_before_the_baseline_is_measured() {
    let rows: Vec<StudyRow> = study().into_iter().skip(1).collect();
    assert!(headline(&rows).is_none());
    assert!(markdown(&rows, &[]).contains("not measured yet"));
}

#[test]
fn the_breakdown_sums_parts_per_design() {
    let rows = study();
    let part = |hash: &str, model: &str, variant, layer: &str, part: &str, lut| PartRow {
        hash: hash.into(),
        model: model.into(),
        variant,
        layer: layer.into(),
        part: part.into(),
        measured: Measured {
            lut,
            ff: 1,
            ..Measured::default()
        },
    };
    let parts = vec![
        part(
            "baselinerom_acc32",
            "baseline",
            ROM32,
            "fc0",
            "weight ROM",
            10,
        ),
        part(
            "baselinerom_acc32",
            "baseline",
            ROM32,
            "fc1",
            "weight ROM",
            5,
        ),
        part("a2q_p10rom_proven", "a2q_p10", ROM, "fc0", "weight ROM", 4),
        // A stale hash is not this design's.
        part("old", "a2q_p10", ROM, "fc0", "weight ROM", 400),
    ];
    let text = parts_csv(&parts);
    assert_eq!(parse_parts(&text, "parts.csv").unwrap(), parts);
    let md = markdown(&rows, &parts);
    assert!(md.contains("| all   | weight ROM |"), "{md}");
    let total = md.lines().find(|l| l.starts_with("| total")).unwrap();
    let cells: Vec<&str> = total.split('|').map(str::trim).collect();
    assert_eq!(&cells[3..7], ["15", "2", "4", "1"]);
}
