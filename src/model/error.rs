//! Errors raised while reading a model: each names the file, and where it
//! applies the layer and the field.

use std::fmt;
use std::path::PathBuf;

/// Which layer an error is about.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LayerRef {
    pub index: usize,
    pub name: Option<String>,
}

impl fmt::Display for LayerRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.name {
            Some(name) => write!(f, "layer {} (`{name}`)", self.index),
            None => write!(f, "layer {}", self.index),
        }
    }
}

/// A model file that cannot be used. Boxed so that `Result`s stay small.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ModelError(pub(super) Box<ModelErrorInfo>);

/// What a [`ModelError`] says.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ModelErrorInfo {
    /// The TOML file, or the `.npy` file the problem is in.
    pub file: PathBuf,
    /// `line:column` for syntax errors.
    pub position: Option<(usize, usize)>,
    pub layer: Option<LayerRef>,
    /// Dotted path of the offending field, e.g. `accumulator.tile.size`.
    pub field: Option<String>,
    pub message: String,
}

impl ModelError {
    pub fn new(file: impl Into<PathBuf>, message: impl Into<String>) -> Self {
        ModelError(Box::new(ModelErrorInfo {
            file: file.into(),
            position: None,
            layer: None,
            field: None,
            message: message.into(),
        }))
    }

    pub fn field(mut self, field: impl Into<String>) -> Self {
        self.0.field = Some(field.into());
        self
    }

    pub fn layer(mut self, layer: LayerRef) -> Self {
        self.0.layer = Some(layer);
        self
    }
}

impl std::ops::Deref for ModelError {
    type Target = ModelErrorInfo;

    fn deref(&self) -> &ModelErrorInfo {
        &self.0
    }
}

impl fmt::Display for ModelError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file.display())?;
        if let Some((line, column)) = self.position {
            write!(f, ":{line}:{column}")?;
        }
        if let Some(layer) = &self.layer {
            write!(f, ": {layer}")?;
        }
        if let Some(field) = &self.field {
            write!(f, ": field `{field}`")?;
        }
        write!(f, ": {}", self.message)
    }
}

impl std::error::Error for ModelError {}
