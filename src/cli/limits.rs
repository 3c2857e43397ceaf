//! Bounds on the counts, sizes and probabilities given on the command line,
//! checked before anything of that size is allocated.

use super::CliError;

/// Largest per-cycle probability of an input gap or of back-pressure: at
/// 0.99 each a run already takes about 10^4 times its free-running length.
pub const MAX_PROBABILITY: f64 = 0.99;
/// Most random vectors `cosim --random` draws.
pub const MAX_RANDOM_VECTORS: usize = 100_000;
/// Most input values `cosim --random` draws (vectors times input length).
pub const MAX_RANDOM_VALUES: usize = 1 << 24;
/// Longest gap and back-pressure schedule, in cycles (one flag of each per
/// cycle in memory, and one character each in the files Verilator reads).
pub const MAX_SCHEDULE_CYCLES: u64 = 1 << 26;

/// Longest time limit of one Yosys run, in seconds (a week).
pub const MAX_TIMEOUT_SECONDS: u64 = 7 * 24 * 3600;
/// Most Yosys runs in parallel.
pub const MAX_JOBS: usize = 256;

/// A time limit in seconds, from 1 to [`MAX_TIMEOUT_SECONDS`].
pub fn check_timeout(flag: &str, seconds: u64) -> Result<(), CliError> {
    if (1..=MAX_TIMEOUT_SECONDS).contains(&seconds) {
        Ok(())
    } else {
        Err(CliError::input(format!(
            "{flag} {seconds}: expected 1 to {MAX_TIMEOUT_SECONDS} seconds"
        )))
    }
}

/// A number of parallel runs, from 1 to [`MAX_JOBS`], when given.
pub fn check_jobs(jobs: Option<usize>) -> Result<(), CliError> {
    match jobs {
        Some(n) if !(1..=MAX_JOBS).contains(&n) => Err(CliError::input(format!(
            "--jobs {n}: expected 1 to {MAX_JOBS}"
        ))),
        _ => Ok(()),
    }
}

/// A probability in `[0, MAX_PROBABILITY]`.
pub fn check_probability(flag: &str, p: f64) -> Result<(), CliError> {
    if (0.0..=MAX_PROBABILITY).contains(&p) {
        Ok(())
    } else {
        Err(CliError::input(format!(
            "{flag} {p}: expected a probability in [0, {MAX_PROBABILITY}]"
        )))
    }
}

/// A count of random vectors of `length` elements each.
pub fn check_random_vectors(count: usize, length: usize) -> Result<(), CliError> {
    if count == 0 || count > MAX_RANDOM_VECTORS {
        return Err(CliError::input(format!(
            "--random {count}: expected 1 to {MAX_RANDOM_VECTORS} vectors"
        )));
    }
    if count.saturating_mul(length) > MAX_RANDOM_VALUES {
        return Err(CliError::input(format!(
            "--random {count}: {count} vectors of {length} elements exceed {MAX_RANDOM_VALUES} input values"
        )));
    }
    Ok(())
}

/// A schedule of `cycles` cycles for `vectors` vectors.
pub fn check_schedule_cycles(cycles: u64, vectors: usize) -> Result<(), CliError> {
    if cycles > MAX_SCHEDULE_CYCLES {
        return Err(CliError::input(format!(
            "a run of {vectors} vectors needs a schedule of {cycles} cycles, more than the \
             {MAX_SCHEDULE_CYCLES} allowed: give fewer vectors, or lower --gaps and --backpressure"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn probabilities_outside_the_bound_are_refused() {
        for p in [0.0, 0.5, MAX_PROBABILITY] {
            assert!(check_probability("--gaps", p).is_ok(), "{p}");
        }
        for p in [
            -0.0001,
            0.995,
            0.9999999999999999,
            1.0,
            f64::NAN,
            f64::INFINITY,
        ] {
            let e = check_probability("--gaps", p).unwrap_err();
            assert_eq!(e.code, 2);
            assert!(e.message.contains("--gaps"), "{}", e.message);
        }
    }

    #[test]
    fn counts_and_schedules_are_bounded() {
        assert!(check_random_vectors(1, 16).is_ok());
        assert!(check_random_vectors(0, 16).is_err());
        assert!(check_random_vectors(MAX_RANDOM_VECTORS + 1, 1).is_err());
        assert!(check_random_vectors(1 << 62, 16).is_err());
        assert!(check_random_vectors(100, 1 << 20).is_err());
        assert!(check_schedule_cycles(MAX_SCHEDULE_CYCLES, 1).is_ok());
        assert!(check_schedule_cycles(MAX_SCHEDULE_CYCLES + 1, 1).is_err());
        assert!(check_timeout("--timeout", 1).is_ok());
        assert!(check_timeout("--timeout", 0).is_err());
        assert!(check_timeout("--timeout", u64::MAX).is_err());
        assert!(check_jobs(None).is_ok());
        assert!(check_jobs(Some(MAX_JOBS)).is_ok());
        assert!(check_jobs(Some(0)).is_err());
        assert!(check_jobs(Some(1 << 40)).is_err());
    }
}
