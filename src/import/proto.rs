//! Reading an ONNX file: the protobuf types generated from the ONNX schema
//! (`proto/onnx.proto`, by prost at build time), bounded reads, and tensors
//! stored in an external data file beside the graph (as PyTorch's dynamo
//! exporter writes them), refused when they point outside the model's folder.

use super::ImportError;
use prost::Message;
use std::path::{Component, Path};

#[allow(clippy::all, clippy::pedantic, missing_docs)]
pub mod onnx {
    include!(concat!(env!("OUT_DIR"), "/onnx.rs"));
}

pub use onnx::{ModelProto, NodeProto, TensorProto};

/// Largest ONNX file read (graph and initializers together).
pub const MAX_MODEL_BYTES: u64 = 256 << 20;
/// Largest number of elements of one tensor.
pub const MAX_TENSOR_ELEMENTS: usize = 1 << 24;

/// Reads and decodes the model at `path`.
pub fn read_model(path: &Path) -> Result<ModelProto, ImportError> {
    let bytes = read_bounded(path, MAX_MODEL_BYTES)
        .map_err(|e| ImportError::file(path, format!("cannot read it: {e}")))?;
    ModelProto::decode(bytes.as_slice()).map_err(|e| {
        ImportError::file(
            path,
            format!("is not an ONNX model (protobuf decoding failed: {e})"),
        )
    })
}

fn read_bounded(path: &Path, limit: u64) -> std::io::Result<Vec<u8>> {
    use std::io::Read;
    let file = std::fs::File::open(path)?;
    let mut bytes = Vec::new();
    file.take(limit + 1).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > limit {
        return Err(std::io::Error::other(format!(
            "larger than the limit of {limit} bytes"
        )));
    }
    Ok(bytes)
}

/// The bytes of a tensor stored externally: `location`, `offset` and
/// `length` from its `external_data` entries, relative to the model's folder.
pub fn external_bytes(
    tensor: &TensorProto,
    model_dir: &Path,
    expected_bytes: usize,
) -> Result<Vec<u8>, String> {
    let mut location = None;
    let mut offset = 0u64;
    let mut length = None;
    for entry in &tensor.external_data {
        let value = entry.value();
        match entry.key() {
            "location" => location = Some(value.to_string()),
            "offset" => {
                offset = value
                    .parse()
                    .map_err(|_| format!("external data offset `{value}` is not a number"))?
            }
            "length" => {
                length = Some(
                    value
                        .parse::<u64>()
                        .map_err(|_| format!("external data length `{value}` is not a number"))?,
                )
            }
            _ => {}
        }
    }
    let location = location.ok_or("external data without a `location`")?;
    let relative = Path::new(&location);
    let inside = !location.is_empty()
        && relative
            .components()
            .all(|c| matches!(c, Component::Normal(_) | Component::CurDir));
    if !inside {
        return Err(format!(
            "external data location `{location}` leaves the model's folder (absolute or `..`): refused"
        ));
    }
    let length = length.unwrap_or(expected_bytes as u64);
    if length != expected_bytes as u64 {
        return Err(format!(
            "external data length {length} bytes, but its shape and type need {expected_bytes}"
        ));
    }
    let file = model_dir.join(relative);
    read_range(&file, offset, length)
        .map_err(|e| format!("external data file {}: {e}", file.display()))
}

fn read_range(path: &Path, offset: u64, length: u64) -> std::io::Result<Vec<u8>> {
    use std::io::{Read, Seek, SeekFrom};
    let mut file = std::fs::File::open(path)?;
    let size = file.metadata()?.len();
    if offset.checked_add(length).is_none_or(|end| end > size) {
        return Err(std::io::Error::other(format!(
            "holds {size} bytes, too short for {length} bytes at offset {offset}"
        )));
    }
    file.seek(SeekFrom::Start(offset))?;
    let mut bytes = vec![0u8; length as usize];
    file.read_exact(&mut bytes)?;
    Ok(bytes)
}

/// The attribute `name` of `node`.
pub fn attribute<'a>(node: &'a NodeProto, name: &str) -> Option<&'a onnx::AttributeProto> {
    node.attribute.iter().find(|a| a.name() == name)
}
