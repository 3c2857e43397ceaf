//! Reading and writing integer `.npy` arrays of any integer dtype.

use ndarray::ArrayD;
use ndarray_npy::{ReadNpyError, ReadNpyExt, WriteNpyExt};
use std::fmt;
use std::fs::File;
use std::io::BufWriter;
use std::path::{Path, PathBuf};

/// Why an `.npy` file could not be read as integers.
#[derive(Debug)]
pub struct NpyError {
    pub path: PathBuf,
    pub message: String,
}

impl fmt::Display for NpyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.path.display(), self.message)
    }
}

impl std::error::Error for NpyError {}

/// Reads an `.npy` file holding any signed or unsigned integer dtype (or
/// bool) into `i64`. Floats and values beyond `i64` are refused.
pub fn read_int_array(path: &Path) -> Result<ArrayD<i64>, NpyError> {
    let error = |message: String| NpyError {
        path: path.to_path_buf(),
        message,
    };
    let bytes = std::fs::read(path).map_err(|e| error(format!("cannot read file: {e}")))?;
    macro_rules! attempt {
        ($t:ty) => {
            match ArrayD::<$t>::read_npy(&bytes[..]) {
                Ok(a) => return Ok(a.mapv(|v| v as i64)),
                Err(ReadNpyError::WrongDescriptor(_)) => {}
                Err(e) => return Err(error(format!("not a valid .npy file: {e}"))),
            }
        };
    }
    attempt!(i64);
    attempt!(i32);
    attempt!(i16);
    attempt!(i8);
    attempt!(u32);
    attempt!(u16);
    attempt!(u8);
    match ArrayD::<u64>::read_npy(&bytes[..]) {
        Ok(a) => {
            return a
                .iter()
                .map(|&v| i64::try_from(v))
                .collect::<Result<Vec<_>, _>>()
                .map(|v| ArrayD::from_shape_vec(a.raw_dim(), v).expect("same shape"))
                .map_err(|_| error("uint64 value does not fit in int64".into()));
        }
        Err(ReadNpyError::WrongDescriptor(_)) => {}
        Err(e) => return Err(error(format!("not a valid .npy file: {e}"))),
    }
    if let Ok(a) = ArrayD::<bool>::read_npy(&bytes[..]) {
        return Ok(a.mapv(i64::from));
    }
    Err(error(format!(
        "dtype {} is not an integer type (expected int8..int64 or uint8..uint64)",
        describe_dtype(&bytes)
    )))
}

/// The `descr` entry of an `.npy` header, for error messages.
fn describe_dtype(bytes: &[u8]) -> String {
    let header = String::from_utf8_lossy(&bytes[..bytes.len().min(256)]);
    header
        .split("'descr':")
        .nth(1)
        .and_then(|rest| rest.split(',').next())
        .map(|d| d.trim().to_string())
        .unwrap_or_else(|| "unknown".to_string())
}

/// Writes an `i64` array as `.npy` (dtype `<i8`).
pub fn write_int_array<D: ndarray::Dimension>(
    path: &Path,
    array: &ndarray::Array<i64, D>,
) -> std::io::Result<()> {
    let file = BufWriter::new(File::create(path)?);
    array
        .write_npy(file)
        .map_err(|e| std::io::Error::other(format!("{}: {e}", path.display())))
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    #[test]
    fn reads_back_what_it_writes() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.npy");
        let a = array![[1i64, -2], [3, 4]];
        write_int_array(&path, &a).unwrap();
        let b = read_int_array(&path).unwrap();
        assert_eq!(b, a.into_dyn());
    }

    #[test]
    fn reads_narrow_dtypes() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.npy");
        array![-3i8, 4]
            .write_npy(File::create(&path).unwrap())
            .unwrap();
        assert_eq!(read_int_array(&path).unwrap(), array![-3i64, 4].into_dyn());
        array![200u8, 4]
            .write_npy(File::create(&path).unwrap())
            .unwrap();
        assert_eq!(read_int_array(&path).unwrap(), array![200i64, 4].into_dyn());
    }

    #[test]
    fn refuses_floats_naming_the_dtype() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f.npy");
        array![1.5f64]
            .write_npy(File::create(&path).unwrap())
            .unwrap();
        let err = read_int_array(&path).unwrap_err();
        assert!(err.message.contains("<f8"), "{}", err.message);
    }
}
