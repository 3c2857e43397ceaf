//! Reading and writing integer `.npy` arrays of any integer dtype, and
//! reading float arrays (the float networks quantization starts from).
//!
//! The reader is written here rather than taken from ndarray-npy, which
//! allocates the shape its header declares before reading (a small file
//! declaring a huge shape aborts the process) and would have to be tried
//! dtype by dtype. Here the header is parsed, its shape checked against
//! the file's length with overflow-safe arithmetic, and each dtype read
//! natively in either byte order, C or Fortran order. Writing still goes
//! through ndarray-npy.

use ndarray::ArrayD;
use ndarray_npy::WriteNpyExt;
use std::fmt;
use std::fs::File;
use std::io::{BufWriter, Read};
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

/// Longest header accepted: numpy writes a few hundred bytes at most.
const MAX_HEADER_BYTES: u64 = 1 << 16;

/// The element types an `.npy` file may hold here.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum ElementKind {
    Bool,
    Signed,
    Unsigned,
    Float,
}

/// What an `.npy` header declares.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Header {
    /// The `descr` string as written, for messages.
    descr: String,
    kind: ElementKind,
    /// Bytes per element.
    size: usize,
    big_endian: bool,
    fortran_order: bool,
    shape: Vec<usize>,
}

/// Reads an `.npy` file holding any signed or unsigned integer dtype (or
/// bool) into `i64`. Floats and values beyond `i64` are refused.
pub fn read_int_array(path: &Path) -> Result<ArrayD<i64>, NpyError> {
    let error = |message: String| NpyError {
        path: path.to_path_buf(),
        message,
    };
    let (header, data) = read_npy(path).map_err(error)?;
    let values = match header.kind {
        ElementKind::Bool | ElementKind::Unsigned => {
            let mut values = buffer(data.len() / header.size).map_err(error)?;
            for (index, word) in data.chunks_exact(header.size).enumerate() {
                let value = unsigned_word(word, header.big_endian);
                if header.kind == ElementKind::Bool && value > 1 {
                    return Err(error(format!(
                        "element {index} is {value}, not a bool (0 or 1)"
                    )));
                }
                values.push(i64::try_from(value).map_err(|_| {
                    error(format!("element {index} = {value} does not fit in int64"))
                })?);
            }
            values
        }
        ElementKind::Signed => {
            let mut values = buffer(data.len() / header.size).map_err(error)?;
            values.extend(
                data.chunks_exact(header.size)
                    .map(|word| signed_word(word, header.big_endian)),
            );
            values
        }
        ElementKind::Float => {
            return Err(error(format!(
                "dtype '{}' is not an integer type (expected int8..int64, uint8..uint64 or bool)",
                header.descr
            )));
        }
    };
    shaped(&header, values).map_err(error)
}

/// Reads an `.npy` file holding `float32` or `float64` into `f64`. Integer
/// dtypes are refused: a float network stored as integers is a mistake.
pub fn read_float_array(path: &Path) -> Result<ArrayD<f64>, NpyError> {
    let error = |message: String| NpyError {
        path: path.to_path_buf(),
        message,
    };
    let (header, data) = read_npy(path).map_err(error)?;
    if header.kind != ElementKind::Float {
        return Err(error(format!(
            "dtype '{}' is not a float type (expected float32 or float64)",
            header.descr
        )));
    }
    let mut values = buffer(data.len() / header.size).map_err(error)?;
    values.extend(
        data.chunks_exact(header.size)
            .map(|word| float_word(word, header.big_endian)),
    );
    shaped(&header, values).map_err(error)
}

/// Reads the header and the data bytes of an `.npy` file. The declared
/// shape is checked against the file's length before anything of that size
/// is allocated, so a small file cannot ask for a huge buffer.
fn read_npy(path: &Path) -> Result<(Header, Vec<u8>), String> {
    let (file, length) = crate::input_file::open_regular(path)?;
    let mut reader = std::io::BufReader::new(file);
    let not_npy = |what: &str| format!("not a valid .npy file: {what}");
    let mut preamble = [0u8; 8];
    reader
        .read_exact(&mut preamble)
        .map_err(|_| not_npy("shorter than the 8-byte preamble"))?;
    if &preamble[..6] != b"\x93NUMPY" {
        return Err(not_npy(
            "it does not start with the magic string \\x93NUMPY",
        ));
    }
    let (major, minor) = (preamble[6], preamble[7]);
    let header_length = match major {
        1 => {
            let mut bytes = [0u8; 2];
            reader
                .read_exact(&mut bytes)
                .map_err(|_| not_npy("truncated in the header length"))?;
            u64::from(u16::from_le_bytes(bytes))
        }
        2 | 3 => {
            let mut bytes = [0u8; 4];
            reader
                .read_exact(&mut bytes)
                .map_err(|_| not_npy("truncated in the header length"))?;
            u64::from(u32::from_le_bytes(bytes))
        }
        _ => {
            return Err(not_npy(&format!(
                "format version {major}.{minor} is not 1.x, 2.x or 3.x"
            )));
        }
    };
    let prefix = if major == 1 { 10 } else { 12 };
    if header_length > MAX_HEADER_BYTES || prefix + header_length > length {
        return Err(not_npy(&format!(
            "header length {header_length} exceeds the file ({length} bytes) or {MAX_HEADER_BYTES} bytes"
        )));
    }
    let mut text = vec![0u8; header_length as usize];
    reader
        .read_exact(&mut text)
        .map_err(|_| not_npy("truncated in the header"))?;
    let text = if major == 3 {
        String::from_utf8(text).map_err(|_| not_npy("the header is not UTF-8"))?
    } else {
        if !text.is_ascii() {
            return Err(not_npy("the header is not ASCII"));
        }
        String::from_utf8(text).expect("ASCII")
    };
    let header = parse_header(&text).map_err(|m| not_npy(&m))?;
    let data_length = length - prefix - header_length;
    let expected = header
        .shape
        .iter()
        .try_fold(header.size as u64, |bytes, &n| bytes.checked_mul(n as u64))
        .filter(|&bytes| bytes <= isize::MAX as u64);
    match expected {
        Some(bytes) if bytes == data_length => {}
        Some(bytes) => {
            return Err(format!(
                "the header declares shape {:?} of {} ({bytes} bytes of data) but the file holds {data_length} bytes of data",
                header.shape, header.descr
            ));
        }
        None => {
            return Err(format!(
                "the header declares shape {:?} of {}, more data than any file can hold (the file holds {data_length} bytes of data)",
                header.shape, header.descr
            ));
        }
    }
    let mut data = buffer(data_length as usize)?;
    reader
        .take(data_length)
        .read_to_end(&mut data)
        .map_err(|e| format!("cannot read the data: {e}"))?;
    if data.len() as u64 != data_length {
        return Err(format!(
            "the file shrank to {} bytes of data while it was read",
            data.len()
        ));
    }
    Ok((header, data))
}

/// An empty vector with room for `count` elements, or an error when the
/// memory cannot be had (a large file is refused, not an abort).
fn buffer<T>(count: usize) -> Result<Vec<T>, String> {
    let mut vector = Vec::new();
    vector
        .try_reserve_exact(count)
        .map_err(|e| format!("cannot hold its {count} elements in memory: {e}"))?;
    Ok(vector)
}

/// Parses the header dictionary, e.g.
/// `{'descr': '<i8', 'fortran_order': False, 'shape': (3, 4), }`.
fn parse_header(text: &str) -> Result<Header, String> {
    let mut parser = HeaderParser {
        rest: text.trim_end_matches(['\n', ' ', '\0']),
    };
    let (mut descr, mut fortran_order, mut shape) = (None, None, None);
    parser.expect('{')?;
    loop {
        if parser.eat('}') {
            break;
        }
        let key = parser.string()?;
        parser.expect(':')?;
        match key.as_str() {
            "descr" => descr = Some(parser.string()?),
            "fortran_order" => fortran_order = Some(parser.boolean()?),
            "shape" => shape = Some(parser.tuple()?),
            other => return Err(format!("unknown header key '{other}'")),
        }
        if !parser.eat(',') {
            parser.expect('}')?;
            break;
        }
    }
    if !parser.rest.trim().is_empty() {
        return Err(format!(
            "unexpected text after the header: {:?}",
            parser.rest
        ));
    }
    let descr = descr.ok_or("the header has no 'descr'")?;
    let (kind, size, big_endian) = parse_descr(&descr)?;
    Ok(Header {
        descr,
        kind,
        size,
        big_endian,
        fortran_order: fortran_order.ok_or("the header has no 'fortran_order'")?,
        shape: shape.ok_or("the header has no 'shape'")?,
    })
}

/// Splits a dtype string such as `<i4`, `|u1`, `>f8` or `|b1`.
fn parse_descr(descr: &str) -> Result<(ElementKind, usize, bool), String> {
    let unsupported = || {
        format!(
            "dtype '{descr}' is not supported (expected bool, int8..int64, uint8..uint64, float32 or float64)"
        )
    };
    let mut chars = descr.chars();
    let order = chars.next().ok_or_else(unsupported)?;
    let big_endian = match order {
        '<' | '|' => false,
        '>' => true,
        '=' => cfg!(target_endian = "big"),
        _ => return Err(unsupported()),
    };
    let (kind, size) = match chars.as_str() {
        "b1" | "?" => (ElementKind::Bool, 1),
        "i1" => (ElementKind::Signed, 1),
        "i2" => (ElementKind::Signed, 2),
        "i4" => (ElementKind::Signed, 4),
        "i8" => (ElementKind::Signed, 8),
        "u1" => (ElementKind::Unsigned, 1),
        "u2" => (ElementKind::Unsigned, 2),
        "u4" => (ElementKind::Unsigned, 4),
        "u8" => (ElementKind::Unsigned, 8),
        "f4" => (ElementKind::Float, 4),
        "f8" => (ElementKind::Float, 8),
        _ => return Err(unsupported()),
    };
    Ok((kind, size, big_endian))
}

/// The few Python literals an `.npy` header holds.
struct HeaderParser<'a> {
    rest: &'a str,
}

impl HeaderParser<'_> {
    fn skip_space(&mut self) {
        self.rest = self.rest.trim_start();
    }

    fn eat(&mut self, c: char) -> bool {
        self.skip_space();
        match self.rest.strip_prefix(c) {
            Some(rest) => {
                self.rest = rest;
                true
            }
            None => false,
        }
    }

    fn expect(&mut self, c: char) -> Result<(), String> {
        if self.eat(c) {
            Ok(())
        } else {
            Err(format!(
                "expected '{c}' in the header at {:?}",
                self.excerpt()
            ))
        }
    }

    fn excerpt(&self) -> String {
        self.rest.chars().take(20).collect()
    }

    fn string(&mut self) -> Result<String, String> {
        self.skip_space();
        let quote = match self.rest.chars().next() {
            Some(q @ ('\'' | '"')) => q,
            _ => {
                return Err(format!(
                    "expected a quoted string in the header at {:?}",
                    self.excerpt()
                ));
            }
        };
        let body = &self.rest[1..];
        let end = body
            .find(quote)
            .ok_or("unterminated string in the header")?;
        self.rest = &body[end + 1..];
        Ok(body[..end].to_string())
    }

    fn boolean(&mut self) -> Result<bool, String> {
        self.skip_space();
        for (word, value) in [("True", true), ("False", false)] {
            if let Some(rest) = self.rest.strip_prefix(word) {
                self.rest = rest;
                return Ok(value);
            }
        }
        Err(format!(
            "expected True or False in the header at {:?}",
            self.excerpt()
        ))
    }

    fn tuple(&mut self) -> Result<Vec<usize>, String> {
        self.expect('(')?;
        let mut shape = Vec::new();
        loop {
            if self.eat(')') {
                return Ok(shape);
            }
            self.skip_space();
            let digits = self.rest.len()
                - self
                    .rest
                    .trim_start_matches(|c: char| c.is_ascii_digit())
                    .len();
            if digits == 0 {
                return Err(format!(
                    "expected a dimension in the shape at {:?}",
                    self.excerpt()
                ));
            }
            let dimension = self.rest[..digits]
                .parse::<usize>()
                .map_err(|_| format!("shape dimension {} is too large", &self.rest[..digits]))?;
            self.rest = &self.rest[digits..];
            shape.push(dimension);
            if !self.eat(',') {
                self.expect(')')?;
                return Ok(shape);
            }
        }
    }
}

fn unsigned_word(word: &[u8], big_endian: bool) -> u64 {
    let mut bytes = [0u8; 8];
    if big_endian {
        bytes[8 - word.len()..].copy_from_slice(word);
        u64::from_be_bytes(bytes)
    } else {
        bytes[..word.len()].copy_from_slice(word);
        u64::from_le_bytes(bytes)
    }
}

fn signed_word(word: &[u8], big_endian: bool) -> i64 {
    let unused = 64 - 8 * word.len() as u32;
    // Shift the word to the top and back, extending its sign.
    ((unsigned_word(word, big_endian) << unused) as i64) >> unused
}

fn float_word(word: &[u8], big_endian: bool) -> f64 {
    let bits = unsigned_word(word, big_endian);
    if word.len() == 4 {
        f64::from(f32::from_bits(bits as u32))
    } else {
        f64::from_bits(bits)
    }
}

/// The values in the header's shape and order, as a standard-layout array.
fn shaped<T: Clone>(header: &Header, values: Vec<T>) -> Result<ArrayD<T>, String> {
    let shape = ndarray::IxDyn(&header.shape);
    let array = if header.fortran_order {
        ArrayD::from_shape_vec(ndarray::ShapeBuilder::f(shape), values)
            .map(|a| a.as_standard_layout().into_owned())
    } else {
        ArrayD::from_shape_vec(shape, values)
    };
    array.map_err(|e| format!("shape {:?} cannot be used: {e}", header.shape))
}

/// Writes an `i64` array as `.npy` (dtype `<i8`).
pub fn write_int_array<D: ndarray::Dimension>(
    path: &Path,
    array: &ndarray::Array<i64, D>,
) -> std::io::Result<()> {
    write_npy_file(path, array)
}

/// Writes an `f32` array as `.npy` (dtype `<f4`).
pub fn write_f32_array<D: ndarray::Dimension>(
    path: &Path,
    array: &ndarray::Array<f32, D>,
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
            assert!(String::from_utf8_lossy(&bytes).contains(descr), "{descr}");
            assert_eq!(read_int_array(&path).unwrap(), array.into_dyn());
        }
    }

    /// An `.npy` file with `header` (padded as numpy pads it) and `data`.
    fn npy_bytes(header: &str, data: &[u8]) -> Vec<u8> {
        let mut text = header.to_string();
        while !(10 + text.len() + 1).is_multiple_of(64) {
            text.push(' ');
        }
        text.push('\n');
        let mut bytes = b"\x93NUMPY\x01\x00".to_vec();
        bytes.extend_from_slice(&(text.len() as u16).to_le_bytes());
        bytes.extend_from_slice(text.as_bytes());
        bytes.extend_from_slice(data);
        bytes
    }

    fn read_bytes(bytes: &[u8]) -> Result<ArrayD<i64>, NpyError> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.npy");
        std::fs::write(&path, bytes).unwrap();
        read_int_array(&path)
    }

    #[test]
    fn a_huge_declared_shape_is_refused_before_allocating() {
        for shape in [
            "(4611686018427387904,)",
            "(1099511627776, 1099511627776)",
            "(18446744073709551615, 2)",
        ] {
            let bytes = npy_bytes(
                &format!("{{'descr': '|i1', 'fortran_order': False, 'shape': {shape}, }}"),
                &[0; 64],
            );
            let err = read_bytes(&bytes).unwrap_err();
            assert!(
                err.message.contains("the header declares shape"),
                "{}",
                err.message
            );
        }
        let too_long = npy_bytes(
            "{'descr': '|i1', 'fortran_order': False, 'shape': (99999999999999999999999,), }",
            &[],
        );
        assert!(
            read_bytes(&too_long)
                .unwrap_err()
                .message
                .contains("too large")
        );
    }

    #[test]
    fn int8_data_is_one_byte_per_element() {
        let bytes = npy_bytes(
            "{'descr': '|i1', 'fortran_order': False, 'shape': (3,), }",
            &[0xff, 2, 0x80],
        );
        assert_eq!(
            read_bytes(&bytes).unwrap(),
            array![-1i64, 2, -128].into_dyn()
        );
        let short = npy_bytes(
            "{'descr': '|i1', 'fortran_order': False, 'shape': (4,), }",
            &[1, 2, 3],
        );
        assert!(
            read_bytes(&short)
                .unwrap_err()
                .message
                .contains("holds 3 bytes")
        );
        let long = npy_bytes(
            "{'descr': '|i1', 'fortran_order': False, 'shape': (2,), }",
            &[1, 2, 3],
        );
        assert!(
            read_bytes(&long)
                .unwrap_err()
                .message
                .contains("(2 bytes of data)")
        );
    }

    #[test]
    fn big_endian_fortran_order_and_bool_are_read_natively() {
        let big = npy_bytes(
            "{'descr': '>i2', 'fortran_order': False, 'shape': (2,), }",
            &[0xff, 0xfe, 0x01, 0x00],
        );
        assert_eq!(read_bytes(&big).unwrap(), array![-2i64, 256].into_dyn());
        let fortran = npy_bytes(
            "{'descr': '<u2', 'fortran_order': True, 'shape': (2, 3), }",
            &[1, 0, 4, 0, 2, 0, 5, 0, 3, 0, 6, 0],
        );
        assert_eq!(
            read_bytes(&fortran).unwrap(),
            array![[1i64, 2, 3], [4, 5, 6]].into_dyn()
        );
        let flags = npy_bytes(
            "{'descr': '|b1', 'fortran_order': False, 'shape': (2,), }",
            &[1, 0],
        );
        assert_eq!(read_bytes(&flags).unwrap(), array![1i64, 0].into_dyn());
        let not_bool = npy_bytes(
            "{'descr': '|b1', 'fortran_order': False, 'shape': (1,), }",
            &[7],
        );
        assert!(
            read_bytes(&not_bool)
                .unwrap_err()
                .message
                .contains("not a bool")
        );
        let huge = npy_bytes(
            "{'descr': '<u8', 'fortran_order': False, 'shape': (1,), }",
            &[0xff; 8],
        );
        assert!(
            read_bytes(&huge)
                .unwrap_err()
                .message
                .contains("does not fit in int64")
        );
    }

    #[test]
    fn malformed_headers_are_refused_with_a_reason() {
        let cases = [
            (
                "{'descr': '<c16', 'fortran_order': False, 'shape': (1,), }",
                "not supported",
            ),
            ("{'descr': '<i8', 'shape': (1,), }", "no 'fortran_order'"),
            (
                "{'descr': '<i8', 'fortran_order': Maybe, 'shape': (1,), }",
                "True or False",
            ),
            (
                "{'descr': '<i8', 'fortran_order': False, 'shape': (-1,), }",
                "dimension",
            ),
            (
                "{'descr': '<i8', 'fortran_order': False, 'shape': (1,), 'x': 1}",
                "unknown header key",
            ),
            ("['descr']", "expected '{'"),
        ];
        for (header, want) in cases {
            let err = read_bytes(&npy_bytes(header, &[0; 8])).unwrap_err();
            assert!(err.message.contains(want), "{header}: {}", err.message);
        }
        assert!(
            read_bytes(b"\x93NUM")
                .unwrap_err()
                .message
                .contains("preamble")
        );
        assert!(
            read_bytes(b"PK\x03\x04 zip file")
                .unwrap_err()
                .message
                .contains("magic")
        );
        let mut version = npy_bytes(
            "{'descr': '<i8', 'fortran_order': False, 'shape': (), }",
            &[0; 8],
        );
        version[6] = 9;
        assert!(
            read_bytes(&version)
                .unwrap_err()
                .message
                .contains("version 9")
        );
        let mut length = npy_bytes(
            "{'descr': '<i8', 'fortran_order': False, 'shape': (), }",
            &[0; 8],
        );
        length[8] = 0xff;
        length[9] = 0xff;
        assert!(
            read_bytes(&length)
                .unwrap_err()
                .message
                .contains("header length")
        );
    }
}
