//! Reading and writing integer `.npy` arrays of any integer dtype, and
//! reading float arrays (the float networks quantization starts from).

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

/// Reads an `.npy` file holding `float32` or `float64` into `f64`. Integer
/// dtypes are refused: a float network stored as integers is a mistake.
pub fn read_float_array(path: &Path) -> Result<ArrayD<f64>, NpyError> {
    let error = |message: String| NpyError {
        path: path.to_path_buf(),
        message,
    };
    let bytes = std::fs::read(path).map_err(|e| error(format!("cannot read file: {e}")))?;
    match ArrayD::<f64>::read_npy(&bytes[..]) {
        Ok(a) => return Ok(a),
        Err(ReadNpyError::WrongDescriptor(_)) => {}
        Err(e) => return Err(error(format!("not a valid .npy file: {e}"))),
    }
    match ArrayD::<f32>::read_npy(&bytes[..]) {
        Ok(a) => return Ok(a.mapv(f64::from)),
        Err(ReadNpyError::WrongDescriptor(_)) => {}
        Err(e) => return Err(error(format!("not a valid .npy file: {e}"))),
    }
    Err(error(format!(
        "dtype {} is not a float type (expected float32 or float64)",
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
    write_npy_file(path, array)
}

/// The signed integer dtypes an array is written as.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IntDtype {
    Int8,
    Int16,
    Int32,
    Int64,
}

impl IntDtype {
    /// The narrowest dtype that holds every value; `Int8` for no values.
    pub fn narrowest_for(values: impl IntoIterator<Item = i64>) -> Self {
        let (lo, hi) = values
            .into_iter()
            .fold((0i64, 0i64), |(lo, hi), v| (lo.min(v), hi.max(v)));
        let fits = |min: i64, max: i64| min <= lo && hi <= max;
        if fits(i8::MIN.into(), i8::MAX.into()) {
            IntDtype::Int8
        } else if fits(i16::MIN.into(), i16::MAX.into()) {
            IntDtype::Int16
        } else if fits(i32::MIN.into(), i32::MAX.into()) {
            IntDtype::Int32
        } else {
            IntDtype::Int64
        }
    }
}

/// Writes an `i64` array as `.npy` in the narrowest signed dtype holding its
/// values (small files, and numpy users see the integer width at a glance).
/// Returns the dtype chosen; the file is synced to disk before returning.
pub fn write_narrowest_int_array<D: ndarray::Dimension>(
    path: &Path,
    array: &ndarray::Array<i64, D>,
) -> std::io::Result<IntDtype> {
    let dtype = IntDtype::narrowest_for(array.iter().copied());
    // The casts cannot truncate: `dtype` holds every value.
    match dtype {
        IntDtype::Int8 => write_npy_file(path, &array.mapv(|v| v as i8)),
        IntDtype::Int16 => write_npy_file(path, &array.mapv(|v| v as i16)),
        IntDtype::Int32 => write_npy_file(path, &array.mapv(|v| v as i32)),
        IntDtype::Int64 => write_npy_file(path, array),
    }?;
    Ok(dtype)
}

/// Creates `path` and writes `array` to it, reporting errors that a dropped
/// `BufWriter` would swallow, and syncs it so a later rename publishes
/// complete contents.
fn write_npy_file<A, D>(path: &Path, array: &ndarray::Array<A, D>) -> std::io::Result<()>
where
    A: ndarray_npy::WritableElement,
    D: ndarray::Dimension,
{
    let mut writer = BufWriter::new(File::create(path)?);
    array
        .write_npy(&mut writer)
        .map_err(|e| std::io::Error::other(format!("{}: {e}", path.display())))?;
    writer.into_inner().map_err(|e| e.into_error())?.sync_all()
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

    #[test]
    fn reads_float32_and_float64_and_refuses_integers() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f.npy");
        array![[0.5f32, -1.25]]
            .write_npy(File::create(&path).unwrap())
            .unwrap();
        assert_eq!(
            read_float_array(&path).unwrap(),
            array![[0.5f64, -1.25]].into_dyn()
        );
        array![0.1f64]
            .write_npy(File::create(&path).unwrap())
            .unwrap();
        assert_eq!(read_float_array(&path).unwrap(), array![0.1f64].into_dyn());
        array![3i32]
            .write_npy(File::create(&path).unwrap())
            .unwrap();
        let err = read_float_array(&path).unwrap_err();
        assert!(err.message.contains("<i4"), "{}", err.message);
    }

    #[test]
    fn narrowest_dtype_is_chosen_at_each_boundary() {
        use IntDtype::*;
        let cases: [(&[i64], IntDtype); 11] = [
            (&[], Int8),
            (&[0], Int8),
            (&[-128, 127], Int8),
            (&[128], Int16),
            (&[-129], Int16),
            (&[-32768, 32767], Int16),
            (&[32768], Int32),
            (&[-32769, 5], Int32),
            (&[i32::MIN as i64, i32::MAX as i64], Int32),
            (&[i32::MAX as i64 + 1], Int64),
            (&[i64::MIN, i64::MAX], Int64),
        ];
        for (values, dtype) in cases {
            assert_eq!(
                IntDtype::narrowest_for(values.iter().copied()),
                dtype,
                "{values:?}"
            );
        }
    }

    #[test]
    fn narrowest_write_stores_that_dtype_and_reads_back() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.npy");
        for (array, dtype, descr) in [
            (array![[1i64, -128], [127, 0]], IntDtype::Int8, "'|i1'"),
            (array![[300i64, -2], [0, 0]], IntDtype::Int16, "'<i2'"),
            (array![[1i64 << 20, 0], [0, 0]], IntDtype::Int32, "'<i4'"),
            (array![[1i64 << 40, 0], [0, 0]], IntDtype::Int64, "'<i8'"),
        ] {
            assert_eq!(write_narrowest_int_array(&path, &array).unwrap(), dtype);
            let bytes = std::fs::read(&path).unwrap();
            assert_eq!(describe_dtype(&bytes), descr);
            assert_eq!(read_int_array(&path).unwrap(), array.into_dyn());
        }
    }
}
