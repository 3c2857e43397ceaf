//! Generates the ONNX protobuf types (`onnx.proto`, the schema as the onnx
//! package ships it) with prost; protox compiles the schema in Rust, so the
//! build needs no `protoc`.

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let schema = "proto/onnx.proto";
    println!("cargo:rerun-if-changed={schema}");
    let descriptors = protox::compile([schema], ["proto"])?;
    prost_build::Config::new().compile_fds(descriptors)?;
    Ok(())
}
