//! Input-gap and output back-pressure schedules, their seeded generator and
//! their file format (shared with the Verilator harness).

use std::fmt;
use std::io;
use std::path::Path;

/// SplitMix64 (Steele, Lea, Flood 2014): a tiny, well-mixed generator that
/// is easy to reproduce in any language.
#[derive(Clone, Debug)]
pub struct SplitMix64 {
    state: u64,
}

impl SplitMix64 {
    pub fn new(seed: u64) -> Self {
        SplitMix64 { state: seed }
    }

    pub fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A uniform double in `[0, 1)` from the top 53 bits.
    pub fn next_f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    /// A uniform integer in `[lo, hi]` (`lo <= hi`), by rejection so that
    /// no value is favoured.
    pub fn range_inclusive(&mut self, lo: i64, hi: i64) -> i64 {
        let span = hi.wrapping_sub(lo) as u64;
        if span == u64::MAX {
            return self.next_u64() as i64;
        }
        let count = span + 1;
        let zone = u64::MAX - (u64::MAX % count) - 1;
        loop {
            let draw = self.next_u64();
            if draw <= zone {
                return lo.wrapping_add((draw % count) as i64);
            }
        }
    }
}

/// Per cycle: may the driver present a new input beat, and is the output
/// ready. Cycles beyond either vector are open / ready.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Schedule {
    pub input_gate: Vec<bool>,
    pub output_ready: Vec<bool>,
}

/// A schedule file that is not one line of `0`/`1`.
#[derive(Debug, thiserror::Error)]
pub enum ScheduleError {
    #[error("{path}: {source}")]
    Io { path: String, source: io::Error },
    #[error("{path}: character {index} is {found:?}; expected one line of '0' and '1'")]
    Format {
        path: String,
        index: usize,
        found: char,
    },
}

pub const INPUT_GATE_FILE: &str = "input_gate.txt";
pub const OUTPUT_READY_FILE: &str = "output_ready.txt";

impl Schedule {
    /// No gaps and no back-pressure.
    pub fn open() -> Self {
        Schedule::default()
    }

    /// `cycles` cycles where the gate is closed with probability `gap` and
    /// the output not ready with probability `backpressure`, independently
    /// per cycle: one [`SplitMix64`] from `seed`, two draws per cycle (gate
    /// first), `closed = u < p`.
    pub fn random(gap: f64, backpressure: f64, seed: u64, cycles: usize) -> Self {
        let mut rng = SplitMix64::new(seed);
        let mut schedule = Schedule {
            input_gate: Vec::with_capacity(cycles),
            output_ready: Vec::with_capacity(cycles),
        };
        for _ in 0..cycles {
            schedule.input_gate.push(rng.next_f64() >= gap);
            schedule.output_ready.push(rng.next_f64() >= backpressure);
        }
        schedule
    }

    pub fn gate(&self, cycle: u64) -> bool {
        lookup(&self.input_gate, cycle)
    }

    pub fn ready(&self, cycle: u64) -> bool {
        lookup(&self.output_ready, cycle)
    }

    /// Cycles with the gate closed plus cycles with the output not ready.
    pub fn blocked_cycles(&self) -> u64 {
        let lows = |v: &[bool]| v.iter().filter(|&&b| !b).count() as u64;
        lows(&self.input_gate) + lows(&self.output_ready)
    }

    /// Writes `input_gate.txt` and `output_ready.txt` into `dir` (created if
    /// missing): one line each of `0`/`1`, cycle 0 first.
    pub fn write_files(&self, dir: &Path) -> io::Result<()> {
        std::fs::create_dir_all(dir)?;
        for (name, bits) in [
            (INPUT_GATE_FILE, &self.input_gate),
            (OUTPUT_READY_FILE, &self.output_ready),
        ] {
            std::fs::write(dir.join(name), line_of_bits(bits))?;
        }
        Ok(())
    }

    /// Reads the two files [`Schedule::write_files`] writes.
    pub fn read_files(dir: &Path) -> Result<Self, ScheduleError> {
        Ok(Schedule {
            input_gate: read_bits(&dir.join(INPUT_GATE_FILE))?,
            output_ready: read_bits(&dir.join(OUTPUT_READY_FILE))?,
        })
    }
}

impl fmt::Display for Schedule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let closed = |v: &[bool]| v.iter().filter(|&&b| !b).count();
        write!(
            f,
            "{} of {} cycles gated at the input, {} of {} not ready at the output",
            closed(&self.input_gate),
            self.input_gate.len(),
            closed(&self.output_ready),
            self.output_ready.len()
        )
    }
}

fn lookup(bits: &[bool], cycle: u64) -> bool {
    usize::try_from(cycle)
        .ok()
        .and_then(|c| bits.get(c).copied())
        .unwrap_or(true)
}

fn line_of_bits(bits: &[bool]) -> String {
    let mut line: String = bits.iter().map(|&b| if b { '1' } else { '0' }).collect();
    line.push('\n');
    line
}

fn read_bits(path: &Path) -> Result<Vec<bool>, ScheduleError> {
    let name = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|source| ScheduleError::Io {
        path: name.clone(),
        source,
    })?;
    let line = text.strip_suffix('\n').unwrap_or(&text);
    line.chars()
        .enumerate()
        .map(|(index, c)| match c {
            '0' => Ok(false),
            '1' => Ok(true),
            found => Err(ScheduleError::Format {
                path: name.clone(),
                index,
                found,
            }),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splitmix64_matches_the_published_sequence() {
        // The reference implementation from seed 1234567.
        let mut rng = SplitMix64::new(1234567);
        let expected = [
            6457827717110365317u64,
            3203168211198807973,
            9817491932198370423,
            4593380528125082431,
            16408922859458223821,
        ];
        for e in expected {
            assert_eq!(rng.next_u64(), e);
        }
    }

    #[test]
    fn random_schedules_are_reproducible_and_about_right() {
        let a = Schedule::random(0.3, 0.1, 42, 100_000);
        assert_eq!(a, Schedule::random(0.3, 0.1, 42, 100_000));
        assert_ne!(a, Schedule::random(0.3, 0.1, 43, 100_000));
        let closed = a.input_gate.iter().filter(|&&g| !g).count() as f64 / 1e5;
        let stalled = a.output_ready.iter().filter(|&&r| !r).count() as f64 / 1e5;
        assert!((closed - 0.3).abs() < 0.01, "{closed}");
        assert!((stalled - 0.1).abs() < 0.01, "{stalled}");
        assert_eq!(Schedule::random(0.0, 0.0, 7, 50).blocked_cycles(), 0);
    }

    #[test]
    fn beyond_the_end_the_gate_is_open_and_ready_high() {
        let s = Schedule {
            input_gate: vec![false],
            output_ready: vec![false, false],
        };
        assert!(!s.gate(0) && s.gate(1) && s.gate(u64::MAX));
        assert!(!s.ready(1) && s.ready(2));
    }

    #[test]
    fn files_round_trip_in_the_documented_format() {
        let dir = tempfile::tempdir().unwrap();
        let s = Schedule {
            input_gate: vec![true, false, true],
            output_ready: vec![false, true],
        };
        s.write_files(dir.path()).unwrap();
        let text = std::fs::read_to_string(dir.path().join("input_gate.txt")).unwrap();
        assert_eq!(text, "101\n");
        let text = std::fs::read_to_string(dir.path().join("output_ready.txt")).unwrap();
        assert_eq!(text, "01\n");
        assert_eq!(Schedule::read_files(dir.path()).unwrap(), s);
        std::fs::write(dir.path().join("input_gate.txt"), "1x0\n").unwrap();
        let err = Schedule::read_files(dir.path()).unwrap_err().to_string();
        assert!(err.contains("character 1 is 'x'"), "{err}");
    }

    #[test]
    fn uniform_integers_stay_in_range_and_cover_it() {
        let mut rng = SplitMix64::new(9);
        let mut seen = [false; 16];
        for _ in 0..1000 {
            let v = rng.range_inclusive(-8, 7);
            assert!((-8..=7).contains(&v));
            seen[(v + 8) as usize] = true;
        }
        assert!(seen.iter().all(|&s| s));
        assert!((0..10).all(|_| rng.range_inclusive(3, 3) == 3));
    }
}
