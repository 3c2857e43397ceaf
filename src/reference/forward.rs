//! The forward pass of one vector through reusable scratch buffers, and the
//! parallel driver that runs a batch in tasks of consecutive vectors.

use super::error::{Overwide, ReferenceError, narrow};
use super::{LayerTrace, OverflowEvents, Reference, RunResult, Stage};
use ndarray::{Array2, ArrayView1, ArrayView2, s};
use rayon::prelude::*;

/// Vectors per parallel task: enough to amortise a task's scratch buffers and
/// event counters, few enough to balance small batches over the threads.
const VECTORS_PER_TASK: usize = 64;

/// Per-task buffers, reused for every vector so the hot loop never allocates.
struct Scratch {
    current: Vec<i64>,
    next: Vec<i64>,
    /// Dense accumulators, or the Hadamard butterflies.
    wide: Vec<i128>,
    /// One convolution window.
    window: Vec<i64>,
}

impl Scratch {
    fn new(reference: &Reference) -> Self {
        let model = reference.model;
        let longest = (0..model.layers.len())
            .map(|layer| model.output_length(layer))
            .chain([model.input_length])
            .max()
            .unwrap_or(0);
        let widest_window = reference
            .stages
            .iter()
            .map(|stage| match stage {
                Stage::Conv(conv) => conv.taps(),
                _ => 0,
            })
            .max()
            .unwrap_or(0);
        Scratch {
            current: vec![0; longest],
            next: vec![0; longest],
            wide: vec![0; longest],
            window: vec![0; widest_window],
        }
    }
}

/// What a forward pass reports about each layer besides the final outputs.
pub(super) trait Observer {
    fn accumulators(&mut self, layer: usize, acc: &[i128]) -> Result<(), Overwide>;
    fn outputs(&mut self, layer: usize, out: &[i64]);
}

/// Keeps nothing: a plain run.
pub(super) struct Discard;

impl Observer for Discard {
    #[inline]
    fn accumulators(&mut self, _: usize, _: &[i128]) -> Result<(), Overwide> {
        Ok(())
    }

    #[inline]
    fn outputs(&mut self, _: usize, _: &[i64]) {}
}

/// Keeps every layer's values for the vectors of one task, row after row.
pub(super) struct Recorder {
    accumulators: Vec<Vec<i64>>,
    outputs: Vec<Vec<i64>>,
}

impl Recorder {
    pub fn new(reference: &Reference, vectors: usize) -> Self {
        let model = reference.model;
        let layers = 0..model.layers.len();
        let capacity = |layer: usize| vectors * model.output_length(layer);
        Recorder {
            accumulators: layers
                .clone()
                .map(|layer| match reference.stages[layer].accumulates() {
                    true => Vec::with_capacity(capacity(layer)),
                    false => Vec::new(),
                })
                .collect(),
            outputs: layers
                .map(|layer| Vec::with_capacity(capacity(layer)))
                .collect(),
        }
    }

    /// Joins the tasks' recordings (in vector order) into per-layer arrays.
    pub fn merge(reference: &Reference, batch: usize, tasks: Vec<Recorder>) -> Vec<LayerTrace> {
        let model = reference.model;
        let mut layers: Vec<(Vec<i64>, Vec<i64>)> = vec![Default::default(); model.layers.len()];
        for task in tasks {
            let recorded = task.accumulators.into_iter().zip(task.outputs);
            for ((acc, out), (task_acc, task_out)) in layers.iter_mut().zip(recorded) {
                acc.extend(task_acc);
                out.extend(task_out);
            }
        }
        let shaped = |values: Vec<i64>, length: usize| {
            Array2::from_shape_vec((batch, length), values).expect("one row per vector")
        };
        layers
            .into_iter()
            .enumerate()
            .map(|(index, (acc, out))| {
                let length = model.output_length(index);
                LayerTrace {
                    name: model.layers[index].name.clone(),
                    accumulators: reference.stages[index]
                        .accumulates()
                        .then(|| shaped(acc, length)),
                    outputs: shaped(out, length),
                }
            })
            .collect()
    }
}

impl Observer for Recorder {
    fn accumulators(&mut self, layer: usize, acc: &[i128]) -> Result<(), Overwide> {
        let kept = &mut self.accumulators[layer];
        for (element, &value) in acc.iter().enumerate() {
            kept.push(narrow(element, value)?);
        }
        Ok(())
    }

    fn outputs(&mut self, layer: usize, out: &[i64]) {
        self.outputs[layer].extend_from_slice(out);
    }
}

/// What one task hands back: its event counts and its observer.
type TaskResult<O> = Result<(Vec<OverflowEvents>, O), ReferenceError>;

impl Reference<'_> {
    /// Runs the batch in parallel tasks, each with its own scratch and an
    /// observer made by `new_observer(vectors in the task)`; returns the
    /// observers in vector order. Of several failing vectors, the error of the
    /// first is reported, so errors do not depend on scheduling.
    pub(super) fn run_observed<O, F>(
        &self,
        inputs: ArrayView2<i64>,
        new_observer: F,
    ) -> Result<(RunResult, Vec<O>), ReferenceError>
    where
        O: Observer + Send,
        F: Fn(usize) -> O + Sync,
    {
        self.check_shape(inputs)?;
        let width = self.output_length();
        let mut outputs = Array2::zeros((inputs.nrows(), width));
        let flat = outputs.as_slice_mut().expect("a new array is contiguous");
        let tasks: Vec<TaskResult<O>> = flat
            .par_chunks_mut(VECTORS_PER_TASK * width)
            .enumerate()
            .map_init(
                || Scratch::new(self),
                |scratch, (task, out)| {
                    let first = task * VECTORS_PER_TASK;
                    let rows = inputs.slice(s![first..first + out.len() / width, ..]);
                    let observer = new_observer(rows.nrows());
                    self.run_task(rows, first, out, scratch, observer)
                },
            )
            .collect();
        let mut overflow = vec![OverflowEvents::default(); self.stages.len()];
        let mut observers = Vec::with_capacity(tasks.len());
        for task in tasks {
            let (events, observer) = task?;
            for (total, events) in overflow.iter_mut().zip(events) {
                *total += events;
            }
            observers.push(observer);
        }
        Ok((RunResult { outputs, overflow }, observers))
    }

    fn check_shape(&self, inputs: ArrayView2<i64>) -> Result<(), ReferenceError> {
        if inputs.ncols() == self.model.input_length {
            Ok(())
        } else {
            Err(ReferenceError::InputShape {
                expected: self.model.input_length,
                found: inputs.shape().to_vec(),
            })
        }
    }

    /// Consecutive vectors, the first being vector number `first` of the batch.
    fn run_task<O: Observer>(
        &self,
        rows: ArrayView2<i64>,
        first: usize,
        out: &mut [i64],
        scratch: &mut Scratch,
        mut observer: O,
    ) -> TaskResult<O> {
        let mut events = vec![OverflowEvents::default(); self.stages.len()];
        let out_rows = out.chunks_exact_mut(self.output_length());
        for ((offset, row), out) in rows.outer_iter().enumerate().zip(out_rows) {
            let vector = first + offset;
            self.load_input(row, vector, &mut scratch.current)?;
            self.forward(vector, scratch, &mut events, &mut observer)?;
            out.copy_from_slice(&scratch.current[..out.len()]);
        }
        Ok((events, observer))
    }

    /// Copies one input vector into `into`, checking it against the input type.
    fn load_input(
        &self,
        row: ArrayView1<i64>,
        vector: usize,
        into: &mut [i64],
    ) -> Result<(), ReferenceError> {
        let input = self.model.input;
        for (element, (into, &value)) in into.iter_mut().zip(row).enumerate() {
            if !input.contains(value.into()) {
                return Err(ReferenceError::InputValue {
                    vector,
                    element,
                    value,
                    input,
                });
            }
            *into = value;
        }
        Ok(())
    }

    /// Runs the vector in `scratch.current` through every layer; the last
    /// layer's outputs end in `scratch.current`.
    fn forward<O: Observer>(
        &self,
        vector: usize,
        scratch: &mut Scratch,
        events: &mut [OverflowEvents],
        observer: &mut O,
    ) -> Result<(), ReferenceError> {
        let Scratch {
            current,
            next,
            wide,
            window,
        } = scratch;
        let mut length = self.model.input_length;
        for (index, stage) in self.stages.iter().enumerate() {
            let x = &current[..length];
            let out_length = match stage {
                Stage::Dense(dense) => dense.out_features(),
                Stage::Hadamard(_) => length,
                Stage::Conv(conv) => conv.out_length(),
                Stage::MaxPool(pool) => pool.out_length(),
            };
            let (y, wide) = (&mut next[..out_length], &mut wide[..out_length]);
            let step = match stage {
                Stage::Dense(dense) => {
                    dense.accumulate(x, wide, &mut events[index]);
                    observer
                        .accumulators(index, wide)
                        .and_then(|()| dense.activate(wide, y))
                }
                Stage::Hadamard(hadamard) => hadamard.apply(x, wide, y),
                Stage::Conv(conv) => {
                    conv.accumulate(x, window, wide, &mut events[index]);
                    observer
                        .accumulators(index, wide)
                        .and_then(|()| conv.activate(wide, y))
                }
                Stage::MaxPool(pool) => {
                    pool.apply(x, y);
                    Ok(())
                }
            };
            step.map_err(|e| e.at(vector, &self.model.layers[index].name))?;
            observer.outputs(index, y);
            std::mem::swap(current, next);
            length = out_length;
        }
        Ok(())
    }
}
