//! Hostile inputs across every subcommand that reads models and arrays:
//! malformed and oversized `.npy` files, paths that are not regular files,
//! Hadamard sizes and vector lengths beyond the documented bounds, counts
//! and probabilities beyond theirs, and the exit-code contract (0 success,
//! 1 a failed verdict, 2 bad input). Every case asserts the exit code, the
//! file, layer and field named in the message, no panic, no signal, and no
//! output left behind. The files are made here, in a temporary folder.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// An `.npy` file's bytes: version 1.0 header padded as numpy pads it.
fn npy(header: &str, data: &[u8]) -> Vec<u8> {
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

fn header(descr: &str, shape: &str) -> String {
    format!("{{'descr': '{descr}', 'fortran_order': False, 'shape': {shape}, }}")
}

/// `rows` x `cols` int8 values from `value(row, col)`.
fn int8_matrix(rows: usize, cols: usize, value: impl Fn(usize, usize) -> i8) -> Vec<u8> {
    let data: Vec<u8> = (0..rows)
        .flat_map(|r| (0..cols).map(move |c| (r, c)))
        .map(|(r, c)| value(r, c) as u8)
        .collect();
    npy(&header("|i1", &format!("({rows}, {cols})")), &data)
}

fn mlp3_text() -> String {
    std::fs::read_to_string(root().join("examples/mlp3.toml"))
        .unwrap()
        .replace(
            "\"mlp3/",
            &format!("\"{}/", root().join("examples/mlp3").display()),
        )
}

/// A one-layer Hadamard model.
fn hadamard_model(length: u64, block: u64) -> String {
    format!(
        "[model]\nname = \"rot\"\n[input]\nlength = {length}\nbits = 4\nsigned = true\n\
         [[layers]]\nname = \"h\"\nkind = \"hadamard\"\nblock = {block}\nshift = 1\nout_bits = 6\n"
    )
}

/// A convolution over an input map `shape` (length its product, or
/// `length`), 2 output channels of int3 weights `[2, kh, kw, C]` given
/// inline when small, and `tail` appended (more layers).
struct ConvModel<'a> {
    length: &'a str,
    shape: &'a str,
    layer: &'a str,
    tail: &'a str,
}

impl ConvModel<'_> {
    fn text(&self) -> String {
        format!(
            "[model]\nname = \"cnn\"\n[input]\nlength = {}\nbits = 4\nsigned = false\nshape = {}\n\
             [[layers]]\nname = \"conv0\"\nkind = \"conv\"\n{}\nweight_bits = 3\n\
             accumulator = {{ bits = 12 }}\n{}",
            self.length, self.shape, self.layer, self.tail
        )
    }
}

/// A valid 2x2 window of 2 channels, as the layer lines of [`ConvModel`].
const CONV_2X2: &str = "in_channels = 2\nout_channels = 2\nkernel = [2, 2]\nstride = [1, 1]\n\
     padding = [1, 1, 0, 0]\nweights = [[[[1, 0], [0, 1]], [[2, 0], [0, 3]]], \
     [[[-1, 0], [0, -1]], [[-2, 0], [0, -3]]]]";

/// The conv and maxpool fixtures: every shape rule broken once, with
/// dimensions that overflow or exhaust memory if multiplied unchecked.
fn make_conv_fixtures(dir: &Path) {
    let write = |name: &str, model: ConvModel| {
        std::fs::write(dir.join(format!("{name}.toml")), model.text()).unwrap()
    };
    let layer = |from: &str, to: &str| {
        let edited = CONV_2X2.replacen(from, to, 1);
        assert_ne!(edited, CONV_2X2, "{from}");
        edited
    };
    let ok = ConvModel {
        length: "18",
        shape: "[3, 3, 2]",
        layer: CONV_2X2,
        tail: "",
    };
    write("conv_ok", ConvModel { ..ok });
    write(
        "conv_shape_overflow",
        ConvModel {
            shape: "[4294967296, 4294967296, 2]",
            ..ok
        },
    );
    write("conv_shape_product", ConvModel { length: "17", ..ok });
    write(
        "conv_shape_zero",
        ConvModel {
            shape: "[3, 0, 2]",
            ..ok
        },
    );
    let huge_kernel = layer("kernel = [2, 2]", "kernel = [4611686018427387904, 2]");
    write(
        "conv_kernel_huge",
        ConvModel {
            layer: &huge_kernel,
            ..ok
        },
    );
    let huge_padding = layer(
        "kernel = [2, 2]\nstride = [1, 1]\npadding = [1, 1, 0, 0]",
        "kernel = [9223372036854775807, 2]\nstride = [1, 1]\n\
         padding = [9223372036854775806, 0, 9223372036854775806, 0]",
    );
    // 4 rows and both pads overflow 64 bits; 3 rows fill them exactly, and
    // the window then overflows instead.
    let tall = ConvModel {
        length: "24",
        shape: "[4, 3, 2]",
        layer: &huge_padding,
        tail: "",
    };
    write("conv_padding_overflow", tall);
    write(
        "conv_padding_window",
        ConvModel {
            layer: &huge_padding,
            ..ok
        },
    );
    let wide_window = "in_channels = 1024\nout_channels = 2\nkernel = [2, 1024]\n\
                       padding = [1, 0, 0, 0]\nweights = \"none.npy\"";
    write(
        "conv_window_huge",
        ConvModel {
            length: "1048576",
            shape: "[1, 1024, 1024]",
            layer: wide_window,
            tail: "",
        },
    );
    let wide_output = "in_channels = 1\nout_channels = 2\nkernel = [1, 1]\nweights = \"none.npy\"";
    write(
        "conv_output_huge",
        ConvModel {
            length: "1048576",
            shape: "[1024, 1024, 1]",
            layer: wide_output,
            tail: "",
        },
    );
    let stride_zero = layer("stride = [1, 1]", "stride = [0, 1]");
    write(
        "conv_stride_zero",
        ConvModel {
            layer: &stride_zero,
            ..ok
        },
    );
    let padding_kernel = layer("padding = [1, 1, 0, 0]", "padding = [0, 2, 0, 0]");
    write(
        "conv_padding_kernel",
        ConvModel {
            layer: &padding_kernel,
            ..ok
        },
    );
    let channels = layer("in_channels = 2", "in_channels = 3");
    write(
        "conv_in_channels",
        ConvModel {
            layer: &channels,
            ..ok
        },
    );
    let weights = layer(", [[[-1, 0], [0, -1]], [[-2, 0], [0, -3]]]", "");
    write(
        "conv_weights_shape",
        ConvModel {
            layer: &weights,
            ..ok
        },
    );
    let out_huge = layer("out_channels = 2", "out_channels = 1099511627776");
    write(
        "conv_out_channels_huge",
        ConvModel {
            layer: &out_huge,
            ..ok
        },
    );
    let simd = format!("{CONV_2X2}\nhardware = {{ simd = 3 }}");
    write("conv_simd", ConvModel { layer: &simd, ..ok });
    let kernel_negative = layer("kernel = [2, 2]", "kernel = [-2, 2]");
    write(
        "conv_kernel_negative",
        ConvModel {
            layer: &kernel_negative,
            ..ok
        },
    );
    let no_shape = ok.text().replacen("shape = [3, 3, 2]\n", "", 1);
    std::fs::write(dir.join("conv_no_shape.toml"), no_shape).unwrap();
    let inputs: Vec<u8> = (0..36).map(|i| (i % 16) as u8).collect();
    std::fs::write(dir.join("x18.npy"), npy(&header("|u1", "(2, 18)"), &inputs)).unwrap();
    write(
        "pool_huge_kernel",
        ConvModel {
            tail: "[[layers]]\nname = \"pool\"\nkind = \"maxpool\"\nkernel = [3, 1099511627776]\n",
            ..ok
        },
    );
    write(
        "pool_after_dense",
        ConvModel {
            tail: "[[layers]]\nname = \"fc\"\nkind = \"dense\"\nin_features = 18\nout_features = 1\n\
                   weight_bits = 2\nweights = [[1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1]]\n\
                   accumulator = { bits = 10 }\n\
                   [[layers]]\nname = \"pool\"\nkind = \"maxpool\"\nkernel = [1, 1]\n",
            ..ok
        },
    );
    write(
        "pool_padding",
        ConvModel {
            tail: "[[layers]]\nname = \"pool\"\nkind = \"maxpool\"\nkernel = [2, 2]\npadding = [1, 1, 1, 1]\n",
            ..ok
        },
    );
}

/// `values` as a little-endian float32 `.npy` of `shape`.
fn float32_npy(shape: &str, values: &[f32]) -> Vec<u8> {
    let data: Vec<u8> = values.iter().flat_map(|v| v.to_le_bytes()).collect();
    npy(&header("<f4", shape), &data)
}

/// Float CNNs for `quantize --float`: conv0 (3x3, 1 -> 2, padding 1) over
/// an 8x8x1 map and fc0 (128 -> 3), with `architecture.toml` edited.
fn make_float_cnn_fixtures(dir: &Path) {
    const ARCHITECTURE: &str = "input_shape = [8, 8, 1]\n\
        [[layers]]\nname = \"conv0\"\nkind = \"conv\"\nkernel = [3, 3]\npadding = [1, 1, 1, 1]\n\
        [[layers]]\nname = \"fc0\"\nkind = \"dense\"\n";
    let conv: Vec<f32> = (0..18).map(|i| (i as f32 - 9.0) / 10.0).collect();
    let dense: Vec<f32> = (0..384).map(|i| ((i % 7) as f32 - 3.0) / 20.0).collect();
    for (name, from, to) in [
        ("arch_ok", "", ""),
        (
            "arch_shape_overflow",
            "[8, 8, 1]",
            "[4294967296, 4294967296, 2]",
        ),
        ("arch_shape_zero", "[8, 8, 1]", "[8, 0, 1]"),
        ("arch_kind", "kind = \"conv\"", "kind = \"pool\""),
        (
            "arch_padding",
            "padding = [1, 1, 1, 1]",
            "padding = [3, 1, 1, 1]",
        ),
        ("arch_kernel", "kernel = [3, 3]", "kernel = [5, 5]"),
        (
            "arch_unknown_field",
            "padding = [1, 1, 1, 1]",
            "dilation = [2, 2]",
        ),
        (
            "arch_pool_huge",
            "[[layers]]\nname = \"fc0\"",
            "[[layers]]\nname = \"pool\"\nkind = \"maxpool\"\nkernel = [2, 9223372036854775807]\n\
             [[layers]]\nname = \"fc0\"",
        ),
    ] {
        let folder = dir.join(name);
        std::fs::create_dir(&folder).unwrap();
        let text = ARCHITECTURE.replacen(from, to, 1);
        assert!(from.is_empty() || text != ARCHITECTURE, "{name}");
        std::fs::write(folder.join("architecture.toml"), text).unwrap();
        std::fs::write(
            folder.join("conv0_weight.npy"),
            float32_npy("(2, 3, 3, 1)", &conv),
        )
        .unwrap();
        std::fs::write(
            folder.join("fc0_weight.npy"),
            float32_npy("(3, 128)", &dense),
        )
        .unwrap();
    }
    // A dense layer that does not take the map's 128 elements.
    let folder = dir.join("arch_dense_chain");
    std::fs::create_dir(&folder).unwrap();
    std::fs::write(folder.join("architecture.toml"), ARCHITECTURE).unwrap();
    std::fs::write(
        folder.join("conv0_weight.npy"),
        float32_npy("(2, 3, 3, 1)", &conv),
    )
    .unwrap();
    std::fs::write(
        folder.join("fc0_weight.npy"),
        float32_npy("(3, 64)", &dense[..192]),
    )
    .unwrap();
}

/// Calibration runs files whose style columns name no known storage or
/// comparator style: the committed runs file's first row, its last two
/// fields replaced.
fn make_calibration_fixtures(dir: &Path) {
    let runs = std::fs::read_to_string(root().join("calibration/yosys_runs.csv")).unwrap();
    let mut lines = runs.lines();
    let (header, row) = (lines.next().unwrap(), lines.next().unwrap());
    let fields: Vec<&str> = row.split(',').collect();
    let config = fields[..fields.len() - 2].join(",");
    for (name, styles) in [
        ("runs_bad_storage", "flash,search"),
        ("runs_bad_thresholds", "rom,binary"),
    ] {
        std::fs::write(
            dir.join(format!("{name}.csv")),
            format!("{header}\n{config},{styles}\n"),
        )
        .unwrap();
    }
}

/// Every file the cases read, made in `dir`.
fn make_fixtures(dir: &Path) {
    make_calibration_fixtures(dir);
    make_conv_fixtures(dir);
    make_float_cnn_fixtures(dir);
    let write = |name: &str, bytes: &[u8]| std::fs::write(dir.join(name), bytes).unwrap();
    // Valid inputs of mlp3 (16 x uint4) and of tiny_dense (8 x uint4).
    write(
        "x16.npy",
        &int8_matrix(4, 16, |r, c| ((r * 7 + c) % 16) as i8),
    );
    write(
        "x16_out_of_range.npy",
        &int8_matrix(2, 16, |r, c| if (r, c) == (1, 3) { 99 } else { 1 }),
    );
    write("x16_wrong_length.npy", &int8_matrix(2, 15, |_, _| 1));
    write("x8.npy", &int8_matrix(6, 8, |r, c| ((r + c) % 16) as i8));
    write(
        "x8_out_of_range.npy",
        &int8_matrix(6, 8, |r, _| if r == 2 { -5 } else { 3 }),
    );
    write("y6.npy", &npy(&header("|i1", "(6,)"), &[0, 1, 2, 3, 0, 1]));
    write("y5.npy", &npy(&header("|i1", "(5,)"), &[0, 1, 2, 3, 0]));
    write("y4.npy", &npy(&header("|i1", "(4,)"), &[0, 1, 2, 3]));
    write(
        "x16_many.npy",
        &int8_matrix(4000, 16, |r, c| ((r + c) % 16) as i8),
    );
    // Headers that lie about the size of the data.
    // Read as int64 first, this one asked for an 8 TB buffer and aborted.
    let huge = npy(&header("|i1", "(1099511627776,)"), &[0; 64]);
    assert_eq!(huge.len(), 192, "the 192-byte file of the report");
    write("huge_i1.npy", &huge);
    write(
        "huge_i1_2_62.npy",
        &npy(&header("|i1", "(4611686018427387904,)"), &[0; 64]),
    );
    write(
        "huge_2d.npy",
        &npy(&header("<i8", "(4294967296, 4294967296)"), &[0; 64]),
    );
    write(
        "overflowing_shape.npy",
        &npy(
            &header("<i8", "(18446744073709551615, 18446744073709551615)"),
            &[],
        ),
    );
    write(
        "huge_weights.npy",
        &npy(&header("|i1", "(16, 1152921504606846976)"), &[0; 256]),
    );
    write("truncated.npy", &npy(&header("|i1", "(4, 16)"), &[1; 10]));
    // A sparse file as long as its header says: 8 TB that take no room.
    let sparse = npy(&header("|i1", "(8796093022208,)"), &[]);
    write("sparse.npy", &sparse);
    std::fs::OpenOptions::new()
        .write(true)
        .open(dir.join("sparse.npy"))
        .unwrap()
        .set_len(sparse.len() as u64 + (1 << 43))
        .unwrap();
    write("trailing.npy", &npy(&header("|i1", "(1, 16)"), &[1; 20]));
    let mut bad_magic = npy(&header("|i1", "(1, 16)"), &[1; 16]);
    bad_magic[1] = b'X';
    write("bad_magic.npy", &bad_magic);
    let mut bad_version = npy(&header("|i1", "(1, 16)"), &[1; 16]);
    bad_version[6] = 7;
    write("bad_version.npy", &bad_version);
    let mut long_header = npy(&header("|i1", "(1, 16)"), &[1; 16]);
    long_header[8] = 0xff;
    long_header[9] = 0xff;
    write("long_header.npy", &long_header);
    write(
        "garbage_header.npy",
        &npy("{'descr': '|i1', 'shape': [1, 16] ", &[1; 16]),
    );
    write("float.npy", &npy(&header("<f8", "(1, 16)"), &[0; 128]));
    write("complex.npy", &npy(&header("<c16", "(1, 16)"), &[0; 256]));
    write(
        "uint64_big.npy",
        &npy(&header("<u8", "(1, 16)"), &[0xff; 128]),
    );
    write("bool_bad.npy", &npy(&header("|b1", "(1, 16)"), &[7; 16]));
    write("empty.npy", b"");
    // Layouts that are valid and must be read as numpy writes them.
    let fortran: Vec<u8> = (0..16u16)
        .flat_map(|c| (0..2u16).map(move |r| (r + c) % 16))
        .flat_map(|v| v.to_le_bytes())
        .collect();
    write(
        "fortran.npy",
        &npy(
            "{'descr': '<u2', 'fortran_order': True, 'shape': (2, 16), }",
            &fortran,
        ),
    );
    let big_endian: Vec<u8> = (0..16i32).flat_map(|v| (v % 16).to_be_bytes()).collect();
    write(
        "big_endian.npy",
        &npy(&header(">i4", "(1, 16)"), &big_endian),
    );
    // Paths that are not regular files.
    std::fs::create_dir(dir.join("dir.npy")).unwrap();
    let fifo = Command::new("mkfifo")
        .arg(dir.join("fifo.npy"))
        .status()
        .unwrap();
    assert!(fifo.success());
    std::os::unix::fs::symlink(dir.join("loop_b.npy"), dir.join("loop_a.npy")).unwrap();
    std::os::unix::fs::symlink(dir.join("loop_a.npy"), dir.join("loop_b.npy")).unwrap();
    std::os::unix::fs::symlink(dir.join("nowhere.npy"), dir.join("dangling.npy")).unwrap();
    write("a_file", b"not a folder");
    // Models.
    let mlp3 = mlp3_text();
    write("mlp3.toml", mlp3.as_bytes());
    // Weight storage: unknown styles, a value of the wrong type, DSP
    // hardwired and auto layers (refused), and valid folded, unfolded and
    // auto layers.
    let fc0_hardware = "hardware = { pe = 4, simd = 4, multiplier = \"lut\" }";
    assert!(mlp3.contains(fc0_hardware));
    for (name, hardware) in [
        (
            "weights_unknown",
            "hardware = { pe = 4, simd = 4, weights = \"flash\" }",
        ),
        (
            "weights_upper_case",
            "hardware = { pe = 4, simd = 4, weights = \"AUTO\" }",
        ),
        (
            "weights_number",
            "hardware = { pe = 4, simd = 4, weights = 1 }",
        ),
        (
            "hardwired_folded",
            "hardware = { pe = 4, simd = 4, weights = \"hardwired\" }",
        ),
        (
            "auto_folded",
            "hardware = { pe = 4, simd = 4, weights = \"auto\" }",
        ),
        (
            "auto_dsp",
            "hardware = { pe = 4, simd = 4, multiplier = \"dsp\", weights = \"auto\" }",
        ),
        (
            "hardwired_dsp",
            "hardware = { pe = 16, simd = 16, multiplier = \"dsp\", weights = \"hardwired\" }",
        ),
        ("hardwired_ok", "hardware = { weights = \"hardwired\" }"),
    ] {
        write(
            &format!("{name}.toml"),
            mlp3.replacen(fc0_hardware, hardware, 1).as_bytes(),
        );
    }
    write(
        "narrow.toml",
        mlp3.replacen("bits = 10 }", "bits = 9 }", 1).as_bytes(),
    );
    // Float scales: the input's and the output's, each must be finite and
    // above zero, one per output element.
    let with_scales = |input: &str, output: &str| {
        format!(
            "{}\n[output]\nscale = {output}\n",
            mlp3.replacen(
                "signed = false",
                &format!("signed = false\nscale = {input}"),
                1
            )
        )
    };
    for (name, input, output) in [
        ("scales_ok", "0.0625", "[0.5, 0.25, 1e-3, 3.0]"),
        ("scale_input_zero", "0.0", "[0.5, 0.25, 1e-3, 3.0]"),
        ("scale_input_negative", "-0.0625", "[0.5, 0.25, 1e-3, 3.0]"),
        ("scale_input_nan", "nan", "[0.5, 0.25, 1e-3, 3.0]"),
        ("scale_output_inf", "0.0625", "[0.5, inf, 1e-3, 3.0]"),
        ("scale_output_zero", "0.0625", "[0.5, 0.25, 0.0, 3.0]"),
        ("scale_output_negative", "0.0625", "[0.5, 0.25, 1e-3, -3.0]"),
        ("scale_output_short", "0.0625", "[0.5, 0.25, 1e-3]"),
        ("scale_output_text", "0.0625", "\"wide\""),
    ] {
        write(
            &format!("{name}.toml"),
            with_scales(input, output).as_bytes(),
        );
    }
    let fc0_weights = format!(
        "\"{}/fc0_weights.npy\"",
        root().join("examples/mlp3").display()
    );
    for (name, target) in [
        ("weights_huge", dir.join("huge_weights.npy")),
        ("weights_dir", dir.join("dir.npy")),
        ("weights_fifo", dir.join("fifo.npy")),
        ("weights_zero", PathBuf::from("/dev/zero")),
        ("weights_loop", dir.join("loop_a.npy")),
        ("weights_truncated", dir.join("truncated.npy")),
    ] {
        let text = mlp3.replace(&fc0_weights, &format!("\"{}\"", target.display()));
        write(&format!("{name}.toml"), text.as_bytes());
    }
    write("block_2_62.toml", hadamard_model(1024, 1 << 62).as_bytes());
    write(
        "block_2_30.toml",
        hadamard_model(1 << 20, 1 << 30).as_bytes(),
    );
    write(
        "block_2_20.toml",
        hadamard_model(1 << 20, 1 << 20).as_bytes(),
    );
    write("block_2048.toml", hadamard_model(2048, 2048).as_bytes());
    write("length_2_62.toml", hadamard_model(1 << 62, 2).as_bytes());
    write("length_2_21.toml", hadamard_model(1 << 21, 2).as_bytes());
    write(
        "at_the_bounds.toml",
        hadamard_model(1 << 20, 1024).as_bytes(),
    );
    write(
        "x_bounds.npy",
        &npy(&header("|i1", "(1, 1048576)"), &vec![3; 1 << 20]),
    );
    let tiny = std::fs::read_to_string(root().join("tests/fixtures/tiny_dense.toml")).unwrap();
    write(
        "out_features_huge.toml",
        tiny.replace("out_features = 4", "out_features = 1099511627776")
            .as_bytes(),
    );
    // Constant calibration vectors for the digits model: a singular
    // input Hessian that AXE-OPTQ must damp.
    write("x64_constant.npy", &int8_matrix(16, 64, |_, _| 3));

    // QONNX graphs: garbage, truncated, and a dynamo export whose external
    // data file is missing, short, or named outside the model's folder.
    let brevitas = root().join("examples/brevitas");
    let graph = std::fs::read(brevitas.join("baseline_ts.onnx")).unwrap();
    write("truncated.onnx", &graph[..graph.len() / 3]);
    write("garbage.onnx", &[0xff; 64]);
    write("empty.onnx", b"");
    let dynamo = std::fs::read(brevitas.join("baseline_dynamo.onnx")).unwrap();
    let data = std::fs::read(brevitas.join("baseline_dynamo.onnx.data")).unwrap();
    for (folder, data) in [
        ("data_missing", None),
        ("data_short", Some(&data[..data.len() - 100])),
        ("data_ok", Some(&data[..])),
    ] {
        std::fs::create_dir(dir.join(folder)).unwrap();
        write(&format!("{folder}/baseline_dynamo.onnx"), &dynamo);
        if let Some(bytes) = data {
            write(&format!("{folder}/baseline_dynamo.onnx.data"), bytes);
        }
    }
    // The same length as the name, so that the protobuf stays well formed.
    let location = b"baseline_dynamo.onnx.data";
    for (name, outside) in [
        ("data_parent", b"../baseline_dynamo.onnx.d"),
        ("data_absolute", b"/etc/baseline_dynamo.onnx"),
    ] {
        std::fs::create_dir(dir.join(name)).unwrap();
        let mut bytes = dynamo.clone();
        let mut replaced = 0;
        let mut at = 0;
        while let Some(found) = bytes[at..]
            .windows(location.len())
            .position(|w| w == location)
        {
            let start = at + found;
            bytes[start..start + location.len()].copy_from_slice(outside);
            at = start + location.len();
            replaced += 1;
        }
        assert!(replaced > 0, "the dynamo export names its data file");
        write(&format!("{name}/baseline_dynamo.onnx"), &bytes);
        write(&format!("{name}/baseline_dynamo.onnx.data"), &data);
    }
    // Float models for quantize.
    for (name, weights) in [
        ("float_nan", {
            let mut values = vec![0.5f64; 32];
            values[5] = f64::NAN;
            npy(
                &header("<f8", "(2, 16)"),
                &values
                    .iter()
                    .flat_map(|v| v.to_le_bytes())
                    .collect::<Vec<_>>(),
            )
        }),
        (
            "float_huge",
            npy(&header("<f4", "(1152921504606846976, 16)"), &[0; 64]),
        ),
    ] {
        std::fs::create_dir(dir.join(name)).unwrap();
        write(&format!("{name}/fc0_weight.npy"), &weights);
    }
}

/// One hostile invocation and what it must give.
struct Case {
    name: String,
    args: Vec<String>,
    code: i32,
    expect: Vec<String>,
}

/// `args` split at spaces, with `{fx}` the fixture folder, `{out}` the
/// case's output folder (which must not exist afterwards) and `{root}` the
/// repository.
fn case(name: &str, code: i32, args: &str, expect: &[&str]) -> Case {
    Case {
        name: name.to_string(),
        args: args.split_whitespace().map(str::to_string).collect(),
        code,
        expect: expect.iter().map(|s| s.to_string()).collect(),
    }
}

impl Case {
    fn expect_success(mut self) -> Self {
        self.code = 0;
        self.expect.clear();
        self
    }
}

/// Runs every case; returns the failures, one line each.
fn run_cases(cases: &[Case]) -> Vec<String> {
    let fixtures = tempfile::tempdir().unwrap();
    make_fixtures(fixtures.path());
    let listing = |dir: &Path| {
        let mut names: Vec<_> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        names.sort();
        names
    };
    let before = listing(fixtures.path());
    let outputs = tempfile::tempdir().unwrap();
    let mut failures = Vec::new();
    for case in cases {
        let out = outputs.path().join(&case.name);
        let fill = |s: &str| {
            s.replace("{fx}", &fixtures.path().display().to_string())
                .replace("{out}", &out.display().to_string())
                .replace("{root}", &root().display().to_string())
        };
        let args: Vec<String> = case.args.iter().map(|a| fill(a)).collect();
        let started = Instant::now();
        let output = assert_cmd::Command::cargo_bin("a2qgen")
            .unwrap()
            .current_dir(root())
            .args(&args)
            .timeout(Duration::from_secs(60))
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        let name = &case.name;
        match output.status.code() {
            None => failures.push(format!(
                "{name}: killed by a signal or the time limit after {:.1}s: {stderr}",
                started.elapsed().as_secs_f64()
            )),
            Some(code) if code != case.code => failures.push(format!(
                "{name}: exit {code}, expected {}: {stderr}",
                case.code
            )),
            Some(_) => {}
        }
        if stderr.contains("panicked") {
            failures.push(format!("{name}: panicked: {stderr}"));
        }
        for want in &case.expect {
            let want = fill(want);
            if !stderr.contains(&want) {
                failures.push(format!("{name}: message lacks `{want}`: {stderr}"));
            }
        }
        if case.code != 0 && out.exists() {
            failures.push(format!("{name}: left {} behind", out.display()));
        }
    }
    if listing(fixtures.path()) != before {
        failures.push("the fixture folder changed".to_string());
    }
    failures
}

fn assert_cases(cases: &[Case]) {
    let failures = run_cases(cases);
    assert!(
        failures.is_empty(),
        "{} of {} cases failed:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}

const MLP3: &str = "{fx}/mlp3.toml";

#[test]
fn npy_files_that_lie_about_their_size_are_refused_without_allocating() {
    let mut cases = Vec::new();
    for (command, extra) in [("infer", ""), ("sim", ""), ("cosim", " --build-dir {out}")] {
        for (file, want) in [
            (
                "huge_i1",
                "the header declares shape [1099511627776] of |i1 (1099511627776 bytes of data) but the file holds 64 bytes",
            ),
            (
                "huge_i1_2_62",
                "the header declares shape [4611686018427387904] of |i1",
            ),
            ("huge_2d", "more data than any file can hold"),
            ("overflowing_shape", "more data than any file can hold"),
            ("truncated", "the file holds 10 bytes of data"),
            ("sparse", "cannot hold its 8796093022208 elements in memory"),
        ] {
            cases.push(case(
                &format!("{command}_{file}"),
                2,
                &format!("{command} {MLP3} --inputs {{fx}}/{file}.npy{extra}"),
                &[&format!("{{fx}}/{file}.npy: "), want],
            ));
        }
    }
    cases.push(case(
        "info_weights_huge",
        2,
        "info {fx}/weights_huge.toml",
        &["{fx}/weights_huge.toml: layer 0 (`fc0`): field `weights`: {fx}/huge_weights.npy: the header declares shape [16, 1152921504606846976]"],
    ));
    for command in ["check", "estimate", "gen -o {out} --constraints {out}"] {
        cases.push(case(
            &format!("{}_weights_truncated", command.split(' ').next().unwrap()),
            2,
            &format!("{command} {{fx}}/weights_truncated.toml"),
            &["layer 0 (`fc0`): field `weights`: {fx}/truncated.npy: the header declares shape [4, 16]"],
        ));
    }
    cases.push(case(
        "quantize_float_huge",
        2,
        "quantize --float {fx}/float_huge --calibration {fx}/x16.npy --input-scale 1 --acc-bits 12 -o {out}/q.toml",
        &["{fx}/float_huge/fc0_weight.npy: the header declares shape [1152921504606846976, 16] of <f4"],
    ));
    cases.push(case(
        "sweep_labels_huge",
        2,
        "sweep --fixed-model {root}/tests/fixtures/tiny_dense.toml --acc-bits 10 --test-inputs {fx}/x8.npy --test-labels {fx}/huge_i1.npy -o {out}",
        &["{fx}/huge_i1.npy: the header declares shape"],
    ));
    assert_cases(&cases);
}

#[test]
fn malformed_npy_headers_and_dtypes_are_named() {
    let infer = |file: &str, want: &str| {
        case(
            &format!("infer_{file}"),
            2,
            &format!("infer {MLP3} --inputs {{fx}}/{file}.npy"),
            &[&format!("{{fx}}/{file}.npy: "), want],
        )
    };
    let mut cases = vec![
        infer("trailing", "(16 bytes of data) but the file holds 20 bytes"),
        infer("bad_magic", "magic string"),
        infer("bad_version", "format version 7.0"),
        infer("long_header", "header length 65535"),
        infer("garbage_header", "not a valid .npy file"),
        infer("float", "dtype '<f8' is not an integer type"),
        infer("complex", "dtype '<c16' is not supported"),
        infer("uint64_big", "does not fit in int64"),
        infer("bool_bad", "not a bool"),
        infer("empty", "shorter than the 8-byte preamble"),
    ];
    // Fortran order and big-endian data are read as numpy wrote them.
    cases.push(case(
        "infer_fortran",
        0,
        &format!("infer {MLP3} --inputs {{fx}}/fortran.npy"),
        &[],
    ));
    cases.push(case(
        "sim_big_endian",
        0,
        &format!("sim {MLP3} --inputs {{fx}}/big_endian.npy"),
        &[],
    ));
    assert_cases(&cases);
}

#[test]
fn paths_that_are_not_regular_files_are_named_for_what_they_are() {
    let mut cases = Vec::new();
    for (file, what) in [
        ("{fx}/dir.npy", "is a directory, not a regular file"),
        (
            "{fx}/fifo.npy",
            "is a FIFO (named pipe), not a regular file",
        ),
        ("/dev/zero", "is a character device, not a regular file"),
        (
            "{fx}/loop_a.npy",
            "is a symbolic link that cannot be followed",
        ),
        (
            "{fx}/dangling.npy",
            "is a symbolic link to a file that does not exist",
        ),
    ] {
        let short = file.rsplit('/').next().unwrap().replace(".npy", "");
        cases.push(case(
            &format!("infer_{short}"),
            2,
            &format!("infer {MLP3} --inputs {file}"),
            &[&format!("{file}: {what}")],
        ));
        cases.push(case(
            &format!("quantize_calibration_{short}"),
            2,
            &format!("quantize --float {{root}}/examples/digits/float --calibration {file} --input-scale 1/16 --acc-bits 12 -o {{out}}/q.toml"),
            &[&format!("{file}: {what}")],
        ));
    }
    for (model, file, what) in [
        ("weights_dir", "{fx}/dir.npy", "is a directory"),
        ("weights_fifo", "{fx}/fifo.npy", "is a FIFO"),
        ("weights_zero", "/dev/zero", "is a character device"),
        (
            "weights_loop",
            "{fx}/loop_a.npy",
            "is a symbolic link that cannot be followed",
        ),
    ] {
        cases.push(case(
            &format!("check_{model}"),
            2,
            &format!("check {{fx}}/{model}.toml"),
            &[&format!(
                "{{fx}}/{model}.toml: layer 0 (`fc0`): field `weights`: file `{file}` {what}"
            )],
        ));
    }
    for (model, what) in [
        ("{fx}/dir.npy", "model file is a directory"),
        ("{fx}/fifo.npy", "model file is a FIFO"),
        ("/dev/zero", "model file is a character device"),
    ] {
        let short = model.rsplit('/').next().unwrap().replace(".npy", "");
        cases.push(case(
            &format!("info_model_{short}"),
            2,
            &format!("info {model}"),
            &[&format!("{model}: {what}")],
        ));
    }
    assert_cases(&cases);
}

#[test]
fn hadamard_sizes_and_vector_lengths_beyond_the_bounds_are_refused() {
    let mut cases = Vec::new();
    for (model, field, want) in [
        (
            "block_2_62",
            "block",
            "4611686018427387904 exceeds the largest block, 1024",
        ),
        (
            "block_2_30",
            "block",
            "1073741824 exceeds the largest block, 1024",
        ),
        (
            "block_2_20",
            "block",
            "1048576 exceeds the largest block, 1024",
        ),
        (
            "block_2048",
            "block",
            "2048 exceeds the largest block, 1024",
        ),
        (
            "length_2_62",
            "input.length",
            "4611686018427387904 exceeds the longest vector, 1048576 elements",
        ),
        (
            "length_2_21",
            "input.length",
            "2097152 exceeds the longest vector",
        ),
    ] {
        for command in ["info", "check", "estimate"] {
            cases.push(case(
                &format!("{command}_{model}"),
                2,
                &format!("{command} {{fx}}/{model}.toml"),
                &[
                    &format!("{{fx}}/{model}.toml: "),
                    &format!("field `{field}`: {want}"),
                ],
            ));
        }
    }
    cases.push(case(
        "info_out_features_huge",
        2,
        "info {fx}/out_features_huge.toml",
        &["layer 0 (`fc`): field `out_features`: 1099511627776 exceeds the longest vector"],
    ));
    // At the bounds every command finishes (the time limit is the test's).
    for command in [
        "info",
        "check",
        "estimate",
        "gen -o {out} --constraints {out}/c --plan",
    ] {
        cases.push(case(
            &format!("{}_at_the_bounds", command.split(' ').next().unwrap()),
            0,
            &format!("{command} {{fx}}/at_the_bounds.toml"),
            &[],
        ));
    }
    cases.push(case(
        "infer_at_the_bounds",
        0,
        "infer {fx}/at_the_bounds.toml --inputs {fx}/x_bounds.npy",
        &[],
    ));
    cases.push(case(
        "sim_at_the_bounds",
        0,
        "sim {fx}/at_the_bounds.toml --inputs {fx}/x_bounds.npy",
        &[],
    ));
    let started = Instant::now();
    assert_cases(&cases);
    assert!(
        started.elapsed() < Duration::from_secs(120),
        "{:?}",
        started.elapsed()
    );
}

#[test]
fn counts_and_probabilities_are_bounded_before_allocating() {
    let sim = |name: &str, flags: &str, want: &str| {
        case(
            name,
            2,
            &format!("sim {MLP3} --inputs {{fx}}/x16.npy {flags}"),
            &[want],
        )
    };
    let cosim = |name: &str, flags: &str, want: &str| {
        case(
            name,
            2,
            &format!("cosim {MLP3} --build-dir {{out}} {flags}"),
            &[want],
        )
    };
    let cases = vec![
        sim(
            "sim_gaps_petabyte",
            "--gaps 0.9999999 --backpressure 0.9999999",
            "--gaps 0.9999999: expected a probability in [0, 0.99]",
        ),
        sim(
            "sim_backpressure_wraps",
            "--backpressure 0.9999999999999999",
            "--backpressure 0.9999999999999999: expected a probability in [0, 0.99]",
        ),
        sim(
            "sim_gaps_negative",
            "--gaps=-0.5",
            "--gaps -0.5: expected a probability",
        ),
        sim(
            "sim_gaps_nan",
            "--gaps NaN",
            "--gaps NaN: expected a probability",
        ),
        sim(
            "sim_gaps_infinite",
            "--backpressure inf",
            "--backpressure inf: expected a probability",
        ),
        cosim(
            "cosim_random_2_62",
            "--random 4611686018427387904",
            "--random 4611686018427387904: expected 1 to 100000 vectors",
        ),
        cosim(
            "cosim_random_10_12",
            "--random 1000000000000",
            "--random 1000000000000: expected 1 to 100000 vectors",
        ),
        cosim(
            "cosim_random_zero",
            "--random 0",
            "--random 0: expected 1 to 100000 vectors",
        ),
        cosim(
            "cosim_gaps",
            "--random 4 --gaps 0.9999999",
            "--gaps 0.9999999: expected a probability in [0, 0.99]",
        ),
        cosim(
            "cosim_long_schedule",
            "--random 100000",
            "needs a schedule of",
        ),
        case(
            "synth_timeout_overflows_a_deadline",
            2,
            &format!("synth {MLP3} --out {{out}} --timeout 18446744073709551615"),
            &["--timeout 18446744073709551615: expected 1 to 604800 seconds"],
        ),
        case(
            "synth_a_billion_jobs",
            2,
            &format!("synth {MLP3} --out {{out}} --jobs 1000000000"),
            &["--jobs 1000000000: expected 1 to 256"],
        ),
        case(
            "calibrate_no_jobs",
            2,
            "calibrate --work {out} --jobs 0",
            &["--jobs 0: expected 1 to 256"],
        ),
        case(
            "calibrate_runs_bad_storage",
            2,
            "calibrate --fit-only --runs {fx}/runs_bad_storage.csv --constants {out}/constants.toml",
            &["{fx}/runs_bad_storage.csv: line 2: column `storage`: `flash`"],
        ),
        case(
            "calibrate_runs_bad_thresholds",
            2,
            "calibrate --fit-only --runs {fx}/runs_bad_thresholds.csv --constants {out}/constants.toml",
            &["{fx}/runs_bad_thresholds.csv: line 2: column `thresholds`: `binary`"],
        ),
        case(
            "sweep_synth_timeout",
            2,
            "sweep --fixed-model {root}/tests/fixtures/tiny_dense.toml --acc-bits 10 --test-inputs {fx}/x8.npy --test-labels {fx}/y6.npy --synth --synth-timeout 18446744073709551615 -o {out}",
            &["--synth-timeout 18446744073709551615: expected 1 to 604800 seconds"],
        ),
        sim("sim_short_schedule", "--gaps 0.99 --backpressure 0.99", "").expect_success(),
        case(
            "sim_long_schedule",
            2,
            &format!("sim {MLP3} --inputs {{fx}}/x16_many.npy --gaps 0.99 --backpressure 0.99"),
            &[
                "a run of 4000 vectors needs a schedule of",
                "more than the 67108864 allowed",
            ],
        ),
    ];
    assert_cases(&cases);
}

#[test]
fn exit_codes_follow_the_contract_in_every_subcommand() {
    let narrow = "{fx}/narrow.toml";
    let unproven = "layer 0 (`fc0`)";
    let cases = vec![
        case(
            "check_unproven",
            1,
            &format!("check {narrow}"),
            &["layer 0 (`fc0`): channel 2: accumulator range [-376, 89] needs 10 bits, declared 9"],
        ),
        case(
            "estimate_unproven",
            1,
            &format!("estimate {narrow}"),
            &[unproven],
        ),
        case(
            "gen_unproven",
            1,
            &format!("gen {narrow} -o {{out}} --constraints {{out}}/c"),
            &[unproven],
        ),
        case(
            "sim_unproven",
            1,
            &format!("sim {narrow} --inputs {{fx}}/x16.npy"),
            &[unproven],
        ),
        case(
            "cosim_unproven",
            1,
            &format!("cosim {narrow} --random 2 --build-dir {{out}}"),
            &[unproven],
        ),
        case(
            "cosim_inputs_out_of_range",
            2,
            &format!("cosim {MLP3} --inputs {{fx}}/x16_out_of_range.npy --build-dir {{out}}"),
            &[
                "{fx}/x16_out_of_range.npy: input [1][3] = 99 is outside the model's input type uint4 (0..=15)",
            ],
        ),
        case(
            "cosim_inputs_wrong_length",
            2,
            &format!("cosim {MLP3} --inputs {{fx}}/x16_wrong_length.npy --build-dir {{out}}"),
            &["{fx}/x16_wrong_length.npy: inputs have shape [2, 15], expected [batch, 16]"],
        ),
        case(
            "cosim_build_dir_is_a_file",
            2,
            &format!("cosim {MLP3} --random 2 --build-dir {{fx}}/a_file"),
            &["--build-dir {fx}/a_file: is not a directory"],
        ),
        case(
            "cosim_build_dir_name_too_long",
            2,
            &format!(
                "cosim {MLP3} --random 2 --build-dir {{fx}}/{}",
                "n".repeat(300)
            ),
            &["--build-dir", "longer than 255"],
        ),
        case(
            "sim_inputs_out_of_range",
            2,
            &format!("sim {MLP3} --inputs {{fx}}/x16_out_of_range.npy"),
            &["{fx}/x16_out_of_range.npy: "],
        ),
        case(
            "infer_inputs_out_of_range",
            2,
            &format!("infer {MLP3} --inputs {{fx}}/x16_out_of_range.npy"),
            &["{fx}/x16_out_of_range.npy: "],
        ),
        case(
            "gen_clock_nan",
            2,
            &format!("gen {MLP3} -o {{out}} --clock-ns NaN"),
            &["--clock-ns NaN"],
        ),
        case("check_usage", 2, "check", &["MODEL"]),
    ];
    assert_cases(&cases);
}

#[test]
fn weight_storage_is_checked_naming_the_layer_and_field() {
    let field = "layer 0 (`fc0`): field `hardware.weights`";
    let cases = vec![
        case(
            "weights_unknown",
            2,
            "gen {fx}/weights_unknown.toml -o {out} --constraints {out}/c",
            &[
                field,
                "unknown variant `flash`, expected one of `rom`, `hardwired`, `auto`",
            ],
        ),
        case(
            "weights_upper_case",
            2,
            "check {fx}/weights_upper_case.toml",
            &[field, "unknown variant `AUTO`"],
        ),
        case(
            "weights_number",
            2,
            "info {fx}/weights_number.toml",
            &[field, "invalid type"],
        ),
        case(
            "auto_dsp",
            2,
            "cosim {fx}/auto_dsp.toml --random 2 --build-dir {out}",
            &[field, "\"auto\" takes no multiplier = \"dsp\""],
        ),
        case(
            "hardwired_folded",
            0,
            "gen {fx}/hardwired_folded.toml -o {out} --constraints {out}/c --plan",
            &[],
        )
        .expect_success(),
        case(
            "auto_folded",
            0,
            "gen {fx}/auto_folded.toml -o {out} --constraints {out}/c --plan",
            &[],
        )
        .expect_success(),
        case(
            "hardwired_dsp",
            2,
            "estimate {fx}/hardwired_dsp.toml",
            &[field, "multiplier = \"dsp\""],
        ),
        case(
            "hardwired_ok",
            0,
            "gen {fx}/hardwired_ok.toml -o {out} --constraints {out}/c --plan",
            &[],
        )
        .expect_success(),
    ];
    assert_cases(&cases);
}

#[test]
fn window_layers_with_hostile_shapes_are_refused_naming_the_field() {
    let at = |file: &str, layer: &str, field: &str| {
        format!("{{fx}}/{file}.toml: {layer}field `{field}`")
    };
    let conv = "layer 0 (`conv0`): ";
    let mut cases = Vec::new();
    for (file, layer, field, says) in [
        ("conv_shape_overflow", "", "input.shape", "overflows"),
        (
            "conv_shape_product",
            "",
            "input.shape",
            "18 elements, but input.length is 17",
        ),
        ("conv_shape_zero", "", "input.shape", "dimension 1 is 0"),
        (
            "conv_kernel_huge",
            conv,
            "kernel",
            "larger than the padded 3x3x2 input map",
        ),
        (
            "conv_padding_overflow",
            conv,
            "kernel",
            "overflowing rows with padding",
        ),
        (
            "conv_window_huge",
            conv,
            "kernel",
            "exceeds the longest window",
        ),
        (
            "conv_output_huge",
            conv,
            "kernel",
            "exceeds the longest vector",
        ),
        ("conv_stride_zero", conv, "stride", "at least 1"),
        (
            "conv_padding_kernel",
            conv,
            "padding",
            "left padding 2 is not smaller",
        ),
        (
            "conv_in_channels",
            conv,
            "in_channels",
            "the incoming 3x3x2 map has 2 channels",
        ),
        (
            "conv_weights_shape",
            conv,
            "weights",
            "expected [2, 2, 2, 2]",
        ),
        (
            "conv_out_channels_huge",
            conv,
            "out_channels",
            "exceeds the longest vector",
        ),
        (
            "conv_simd",
            conv,
            "hardware.simd",
            "neither divides in_channels = 2",
        ),
        ("conv_kernel_negative", conv, "kernel", "invalid value"),
        ("conv_no_shape", conv, "kind", "the input has no `shape"),
        (
            "pool_huge_kernel",
            "layer 1 (`pool`): ",
            "kernel",
            "larger than the padded",
        ),
        (
            "pool_after_dense",
            "layer 2 (`pool`): ",
            "kind",
            "layer 1 produces a vector",
        ),
        (
            "pool_padding",
            "layer 1 (`pool`): ",
            "padding",
            "unknown field",
        ),
    ] {
        for command in ["info", "check", "gen -o {out} --constraints {out}/c"] {
            let verb = command.split(' ').next().unwrap();
            cases.push(case(
                &format!("{verb}_{file}"),
                2,
                &format!("{command} {{fx}}/{file}.toml"),
                &[&at(file, layer, field), says],
            ));
        }
    }
    // The valid model: info, check and the hardware commands without
    // external tools take it (cosim and synth run in tests/conv.rs).
    cases.push(case("info_conv_ok", 0, "info {fx}/conv_ok.toml", &[]).expect_success());
    cases.push(case("check_conv_ok", 0, "check {fx}/conv_ok.toml", &[]).expect_success());
    for command in [
        "gen {fx}/conv_ok.toml -o {out} --constraints {out}/c",
        "sim {fx}/conv_ok.toml --inputs {fx}/x18.npy",
        "estimate {fx}/conv_ok.toml",
    ] {
        let verb = command.split(' ').next().unwrap();
        cases.push(case(&format!("{verb}_conv_ok"), 0, command, &[]).expect_success());
    }
    assert_cases(&cases);
}

#[test]
fn float_scales_that_are_not_finite_and_positive_are_refused() {
    let cases = vec![
        case("scales_ok", 0, "info {fx}/scales_ok.toml", &[]).expect_success(),
        case(
            "input_zero",
            2,
            "info {fx}/scale_input_zero.toml",
            &["{fx}/scale_input_zero.toml: field `input.scale`: 0 is not a finite number above 0"],
        ),
        case(
            "input_negative",
            2,
            "info {fx}/scale_input_negative.toml",
            &["field `input.scale`: -0.0625 is not a finite number above 0"],
        ),
        case(
            "input_nan",
            2,
            "check {fx}/scale_input_nan.toml",
            &["field `input.scale`: NaN is not a finite number above 0"],
        ),
        case(
            "output_inf",
            2,
            "info {fx}/scale_output_inf.toml",
            &["field `output.scale`: [1]: inf is not a finite number above 0"],
        ),
        case(
            "output_zero",
            2,
            "infer {fx}/scale_output_zero.toml --inputs {fx}/x16.npy",
            &["field `output.scale`: [2]: 0 is not a finite number above 0"],
        ),
        case(
            "output_negative",
            2,
            "info {fx}/scale_output_negative.toml",
            &["field `output.scale`: [3]: -3 is not a finite number above 0"],
        ),
        case(
            "output_short",
            2,
            "info {fx}/scale_output_short.toml",
            &["field `output.scale`: has 3 entries but the model's output has 4 elements"],
        ),
        case(
            "output_text",
            2,
            "info {fx}/scale_output_text.toml",
            &["{fx}/scale_output_text.toml", "output.scale"],
        ),
        case(
            "dequantize_without_scales",
            2,
            "infer {fx}/mlp3.toml --inputs {fx}/x16.npy --out {out}/y.npy --dequantize",
            &["{fx}/mlp3.toml: field `output.scale`: missing; --dequantize needs"],
        ),
        case(
            "dequantize_with_predictions",
            2,
            "infer {fx}/scales_ok.toml --inputs {fx}/x16.npy --out {out}/y.npy --dequantize --predictions",
            &["--dequantize"],
        ),
        case(
            "dequantize_with_scales",
            0,
            "infer {fx}/scales_ok.toml --inputs {fx}/x16.npy --out {out}/y.npy --dequantize",
            &[],
        ),
    ];
    assert_cases(&cases);
}

#[test]
fn qonnx_graphs_that_are_broken_or_reach_outside_are_refused() {
    let import = |model: &str| format!("import {model} -o {{out}}/m.toml");
    let cases = vec![
        case("ok", 0, &import("{fx}/data_ok/baseline_dynamo.onnx"), &[]).expect_success(),
        case(
            "truncated",
            2,
            &import("{fx}/truncated.onnx"),
            &["{fx}/truncated.onnx: is not an ONNX model (protobuf decoding failed"],
        ),
        case(
            "garbage",
            2,
            &import("{fx}/garbage.onnx"),
            &["{fx}/garbage.onnx: is not an ONNX model"],
        ),
        case(
            "empty",
            2,
            &import("{fx}/empty.onnx"),
            &["{fx}/empty.onnx: holds no graph"],
        ),
        case(
            "missing",
            2,
            &import("{fx}/nowhere.onnx"),
            &["{fx}/nowhere.onnx: cannot read it"],
        ),
        case(
            "a_folder",
            2,
            &import("{fx}/dir.npy"),
            &["{fx}/dir.npy: cannot read it"],
        ),
        case(
            "data_missing",
            2,
            &import("{fx}/data_missing/baseline_dynamo.onnx"),
            &[
                "initializer `",
                "external data file {fx}/data_missing/baseline_dynamo.onnx.data",
            ],
        ),
        case(
            "data_short",
            2,
            &import("{fx}/data_short/baseline_dynamo.onnx"),
            &["too short for"],
        ),
        case(
            "data_parent",
            2,
            &import("{fx}/data_parent/baseline_dynamo.onnx"),
            &["external data location `../baseline_dynamo.onnx.d` leaves the model's folder"],
        ),
        case(
            "data_absolute",
            2,
            &import("{fx}/data_absolute/baseline_dynamo.onnx"),
            &["external data location `/etc/baseline_dynamo.onnx` leaves the model's folder"],
        ),
        case(
            "cycle",
            2,
            &import("{root}/tests/fixtures/onnx/cycle.onnx"),
            &["is part of a cycle in the graph"],
        ),
        case(
            "huge_dims",
            2,
            &import("{root}/tests/fixtures/onnx/huge_dims.onnx"),
            &[
                "initializer `huge`: shape [1099511627776, 1099511627776] has more than 16777216 elements",
            ],
        ),
        case(
            "unknown_op",
            2,
            &import("{root}/tests/fixtures/onnx/unsupported_op.onnx"),
            &["node `/softmax/Softmax` (op `Softmax`)"],
        ),
        case(
            "acc_bits_out_of_range",
            2,
            "import {fx}/data_ok/baseline_dynamo.onnx -o {out}/m.toml --acc-bits 65",
            &["--acc-bits: 65 is outside 2..=64"],
        ),
        case(
            "unknown_layer",
            2,
            "import {fx}/data_ok/baseline_dynamo.onnx -o {out}/m.toml --acc-bits-per-layer fc9=12",
            &["--acc-bits-per-layer: no layer `fc9` (the imported layers are fc0, fc1, fc2)"],
        ),
    ];
    assert_cases(&cases);
}

#[test]
fn messages_name_the_file_at_fault() {
    let tiny = "{root}/tests/fixtures/tiny_dense.toml";
    let cases = vec![
        case(
            "gen_unwritable",
            2,
            &format!("gen {MLP3} -o {{fx}}/a_file/hdl --constraints {{out}}/c"),
            &["-o {fx}/a_file/hdl/mlp3", "Not a directory"],
        ),
        case(
            "sweep_label_count",
            2,
            &format!(
                "sweep --fixed-model {tiny} --acc-bits 10 --test-inputs {{fx}}/x8.npy --test-labels {{fx}}/y5.npy -o {{out}}"
            ),
            &["{fx}/y5.npy: 5 labels for the 6 input vectors of {fx}/x8.npy"],
        ),
        case(
            "sweep_inputs_out_of_range",
            2,
            &format!(
                "sweep --fixed-model {tiny} --acc-bits 10 --test-inputs {{fx}}/x8_out_of_range.npy --test-labels {{fx}}/y6.npy -o {{out}}"
            ),
            &[
                "{fx}/x8_out_of_range.npy: input [2][0] = -5 is outside the model's input type uint4",
            ],
        ),
        case(
            "sweep_inputs_wrong_length",
            2,
            &format!(
                "sweep --fixed-model {tiny} --acc-bits 10 --test-inputs {{fx}}/x16.npy --test-labels {{fx}}/y4.npy -o {{out}}"
            ),
            &["{fx}/x16.npy: inputs have shape [4, 16], expected [batch, 8]"],
        ),
        case(
            "quantize_label_count",
            2,
            "quantize --float {root}/examples/digits/float --calibration {root}/examples/digits/data/train_x.npy --input-scale 1/16 --acc-bits 12 --test-inputs {fx}/x8.npy --test-labels {fx}/y5.npy -o {out}/q.toml",
            &["{fx}/y5.npy: 5 labels for the 6 input vectors of {fx}/x8.npy"],
        ),
        case(
            "quantize_float_is_a_file",
            2,
            "quantize --float {fx}/x16.npy --calibration {fx}/x16.npy --input-scale 1 --acc-bits 12 -o {out}/q.toml",
            &["{fx}/x16.npy: is a file; expected the folder of a float model"],
        ),
        case(
            "quantize_float_missing",
            2,
            "quantize --float {fx}/nowhere --calibration {fx}/x16.npy --input-scale 1 --acc-bits 12 -o {out}/q.toml",
            &["{fx}/nowhere: does not exist; expected the folder of a float model"],
        ),
        case(
            "quantize_nan",
            2,
            "quantize --float {fx}/float_nan --calibration {fx}/x16.npy --input-scale 1 --acc-bits 12 -o {out}/q.toml",
            &["{fx}/float_nan/fc0_weight.npy: element [0, 5] is NaN: every value must be finite"],
        ),
    ];
    assert_cases(&cases);
}

#[test]
fn float_cnn_architectures_are_checked_naming_the_layer() {
    let quantize = |name: &str| {
        format!(
            "quantize --float {{fx}}/{name} --calibration {{fx}}/x64_constant.npy --input-scale 0.0625 --acc-bits 16 -o {{out}}/q.toml"
        )
    };
    let mut cases = vec![case("arch_ok", 0, &quantize("arch_ok"), &[]).expect_success()];
    for (name, says) in [
        (
            "arch_shape_overflow",
            "is not a map of 1 to 1048576 elements",
        ),
        ("arch_shape_zero", "is not a map of 1 to 1048576 elements"),
        (
            "arch_kind",
            "float layer `conv0` {fx}/arch_kind/architecture.toml: unknown kind \"pool\"",
        ),
        ("arch_padding", "float layer `conv0`"),
        ("arch_kernel", "do not match kernel Some([5, 5])"),
        ("arch_unknown_field", "unknown field `dilation`"),
        ("arch_pool_huge", "float layer `pool`"),
        (
            "arch_dense_chain",
            "float layer `fc0` {fx}/arch_dense_chain/architecture.toml: takes 64 inputs but receives 128",
        ),
    ] {
        cases.push(case(name, 2, &quantize(name), &[says]));
    }
    assert_cases(&cases);
}

#[test]
fn post_training_quantization_flags_are_checked() {
    let quantize = "quantize --float {root}/examples/digits/float --calibration {root}/examples/digits/data/train_x.npy --input-scale 1/16 --input-type uint5 -o {out}/q.toml";
    let cases = vec![
        case(
            "quantize_method_unknown",
            2,
            &format!("{quantize} --acc-bits 12 --method nope"),
            &[
                "--method",
                "`nope` is not a method (a2q, axe-optq, axe-gpfq)",
            ],
        ),
        case(
            "quantize_tile_zero",
            2,
            &format!("{quantize} --acc-bits 12 --method axe-optq --tile 0 --inner-bits 10"),
            &["--tile", "`0` is not a tile size of at least 1 input"],
        ),
        case(
            "quantize_tile_not_dividing",
            2,
            &format!("{quantize} --acc-bits 12 --method axe-optq --tile 7 --inner-bits 10"),
            &["--tile 7: does not divide the 64 inputs of layer 0 (`fc0`)"],
        ),
        case(
            "quantize_tile_longer_than_the_inputs",
            2,
            &format!("{quantize} --acc-bits 12 --method axe-gpfq --tile 128 --inner-bits 10"),
            &["--tile 128: does not divide the 64 inputs of layer 0 (`fc0`)"],
        ),
        case(
            "quantize_tile_not_dividing_a_later_layer",
            2,
            &format!("{quantize} --acc-bits 12 --tile 64 --inner-bits 10"),
            &["--tile 64: does not divide the 32 inputs of layer 2 (`fc2`)"],
        ),
        case(
            "quantize_inner_wider_than_outer",
            2,
            &format!("{quantize} --acc-bits 12 --method axe-optq --tile 8 --inner-bits 14"),
            &["--inner-bits 14: wider than the 12-bit accumulator (--acc-bits) of layer 0 (`fc0`)"],
        ),
        case(
            "quantize_inner_bits_without_tile",
            2,
            &format!("{quantize} --acc-bits 12 --inner-bits 10"),
            &["--tile <T>"],
        ),
        case(
            "quantize_tile_without_inner_bits",
            2,
            &format!("{quantize} --acc-bits 12 --tile 8"),
            &["--inner-bits <P_I>"],
        ),
        case(
            "quantize_inner_bits_out_of_range",
            2,
            &format!("{quantize} --acc-bits 12 --method axe-optq --tile 8 --inner-bits 1"),
            &["--inner-bits 1: not in 2..="],
        ),
    ];
    let mut cases = cases;
    cases.push(case(
        "sweep_method_unknown",
        2,
        "sweep --float {root}/examples/digits/float --calibration {root}/examples/digits/data/train_x.npy --input-scale 1/16 --test-inputs {root}/examples/digits/data/test_x.npy --test-labels {root}/examples/digits/data/test_y.npy --acc-bits 12 --method axe -o {out}",
        &["--method", "`axe` is not a method (a2q, axe-optq, axe-gpfq)"],
    ));
    for method in ["axe-optq", "axe-gpfq"] {
        cases.push(
            case(
                &format!("quantize_{method}_constant_calibration"),
                0,
                &format!(
                    "quantize --float {{root}}/examples/digits/float --calibration {{fx}}/x64_constant.npy --input-scale 1/16 --input-type uint5 --acc-bits 10 --method {method} --tile 16 --inner-bits 9 -o {{out}}/q.toml"
                ),
                &[],
            )
            .expect_success(),
        );
    }
    assert_cases(&cases);
}

/// `a2qgen search` on the digits float model with `flags` in place of
/// the defaults they name (a default is dropped when its flag is given).
fn search_case(name: &str, code: i32, flags: &str, expect: &[&str]) -> Case {
    let defaults = [
        ("--float", "{root}/examples/digits/float"),
        ("--calibration", "{root}/examples/digits/data/train_x.npy"),
        ("--input-scale", "1/16"),
        ("--test-inputs", "{root}/examples/digits/data/test_x.npy"),
        ("--test-labels", "{root}/examples/digits/data/test_y.npy"),
        ("--budget", "1"),
        ("-o", "{out}/w.toml"),
    ];
    let given = |flag: &str| {
        flags
            .split_whitespace()
            .any(|word| word == flag || word.starts_with(&format!("{flag}=")))
    };
    let mut args = vec!["search".to_string()];
    for (flag, value) in defaults.iter().filter(|(flag, _)| !given(flag)) {
        args.push(format!("{flag} {value}"));
    }
    args.push(flags.to_string());
    case(name, code, &args.join(" "), expect)
}

#[test]
fn search_budgets_widths_and_files_are_refused_naming_them() {
    let cases = vec![
        search_case(
            "search_budget_negative",
            2,
            "--budget=-1",
            &["--budget", "-1"],
        ),
        search_case("search_budget_nan", 2, "--budget NaN", &["--budget", "NaN"]),
        search_case(
            "search_budget_over_100",
            2,
            "--budget 101",
            &["--budget", "`101` is not a number of points in 0..=100"],
        ),
        search_case(
            "search_min_above_max",
            2,
            "--min-bits 14 --max-bits 12",
            &["--min-bits 14 is above --max-bits 12"],
        ),
        search_case(
            "search_max_bits_out_of_range",
            2,
            "--max-bits 70",
            &["--max-bits 70: not in 2..=64"],
        ),
        search_case(
            "search_width_out_of_range",
            2,
            "--widths 12,1",
            &["--widths 1: not in 2..=64"],
        ),
        search_case(
            "search_width_twice",
            2,
            "--widths 12,11,12",
            &["--widths 12: given twice"],
        ),
        search_case(
            "search_widths_and_range",
            2,
            "--widths 12,11 --min-bits 10",
            &["--widths", "--min-bits"],
        ),
        search_case(
            "search_holdout_one",
            2,
            "--holdout 1 --calibration-labels {root}/examples/digits/data/train_y.npy",
            &["--holdout", "strictly between 0 and 1"],
        ),
        search_case(
            "search_holdout_without_labels",
            2,
            "--holdout 0.3",
            &["--calibration-labels"],
        ),
        search_case(
            "search_float_missing",
            2,
            "--float {fx}/nowhere",
            &["{fx}/nowhere: does not exist; expected the folder of a float model"],
        ),
        search_case(
            "search_test_labels_missing",
            2,
            "--test-labels {fx}/none.npy",
            &["{fx}/none.npy"],
        ),
        search_case(
            "search_test_inputs_wrong_length",
            2,
            "--test-inputs {fx}/x16.npy --test-labels {fx}/y4.npy",
            &["{fx}/x16.npy: 16 values per sample, the float model takes 64"],
        ),
        search_case(
            "search_calibration_label_count",
            2,
            "--calibration-labels {fx}/y5.npy",
            &[
                "{fx}/y5.npy: 5 labels for the 1257 input vectors of {root}/examples/digits/data/train_x.npy",
            ],
        ),
        search_case(
            "search_output_not_toml",
            2,
            "-o {out}/w.txt",
            &["-o {out}/w.txt: expected a .toml file name"],
        ),
        search_case(
            "search_report_is_a_file",
            2,
            "--report {fx}/a_file",
            &["--report {fx}/a_file"],
        ),
        search_case(
            "search_report_is_the_float_model",
            2,
            "--report {root}/examples/digits/float",
            &["--report {root}/examples/digits/float: is an input of this command"],
        ),
        search_case(
            "search_model_arrays_are_the_float_model",
            2,
            "-o {root}/examples/digits/float.toml",
            &["-o {root}/examples/digits/float: is an input of this command"],
        ),
        search_case(
            "search_report_holds_the_test_labels",
            2,
            "--report {root}/examples/digits/data",
            &[
                "--report {root}/examples/digits/data: holds",
                "an input of this command",
            ],
        ),
        search_case(
            "search_budget_unmet",
            1,
            "--budget 0 --widths 10",
            &["no configuration is within the budget", "10/10/10"],
        ),
    ];
    assert_cases(&cases);
}
