//! ONNX models run by tract (pure Rust), through the same [`Predictor`] interface as burn
//! networks, so the sliding-window inferer and the model card apply unchanged.
//!
//! A model is typed and optimized once per input shape (the sliding window uses one shape,
//! so in practice once) and cached. Operators tract does not know are named in the error
//! before anything runs.

use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use tract_onnx::pb::tensor_shape_proto::dimension;
use tract_onnx::pb::type_proto;
use tract_onnx::prelude::*;

use crate::infer::Predictor;
use crate::NnError;

type Plan = Arc<TypedRunnableModel>;

/// An ONNX model file, loaded and checked.
pub struct OnnxModel {
    path: PathBuf,
    model: InferenceModel,
    /// Input channel count when the graph declares it.
    pub in_channels: Option<usize>,
    /// Input rank (4 for 2-D `[b, c, y, x]`, 5 for 3-D).
    pub input_rank: Option<usize>,
    plans: Mutex<HashMap<Vec<usize>, Plan>>,
}

impl std::fmt::Debug for OnnxModel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OnnxModel").field("path", &self.path).field("in_channels", &self.in_channels).finish()
    }
}

/// Uses `threads` threads for tract's matrix products (tract runs single-threaded
/// otherwise); process-wide.
pub fn set_threads(threads: usize) {
    use tract_onnx::tract_core::tract_linalg::multithread::{set_default_executor, Executor};
    if threads > 1 {
        set_default_executor(Executor::multithread(threads));
    } else {
        set_default_executor(Executor::SingleThread);
    }
}

fn onnx_err(operation: &'static str) -> impl Fn(anyhow_like::Error) -> NnError {
    move |e| NnError::Onnx { operation, reason: format!("{e:#}").replace('\n', " ") }
}

/// tract's error type, named for the closure above.
mod anyhow_like {
    pub use tract_onnx::prelude::TractError as Error;
}

impl OnnxModel {
    /// Loads `path`, naming every operator tract has no implementation for.
    pub fn load(path: &Path) -> Result<Self, NnError> {
        let proto = tract_onnx::onnx().proto_model_for_path(path).map_err(onnx_err("load"))?;
        Self::from_proto(proto, path)
    }

    /// A model from a protobuf already in memory (e.g. [`crate::export::to_onnx`]); `path`
    /// only names it in messages.
    pub fn from_proto(proto: tract_onnx::pb::ModelProto, path: &Path) -> Result<Self, NnError> {
        let framework = tract_onnx::onnx();
        let graph = proto
            .graph
            .as_ref()
            .ok_or_else(|| NnError::Onnx { operation: "load", reason: "the file has no graph".into() })?;
        let unknown: BTreeSet<String> = graph
            .node
            .iter()
            .filter(|n| !framework.op_register.0.contains_key(&n.op_type))
            .map(|n| n.op_type.clone())
            .collect();
        if !unknown.is_empty() {
            return Err(NnError::OnnxUnsupported {
                ops: unknown.into_iter().collect::<Vec<_>>().join(", "),
                path: path.display().to_string(),
            });
        }
        // The declared input shape tells rank and, when fixed, channels.
        let (mut in_channels, mut input_rank) = (None, None);
        if let Some(type_proto::Value::TensorType(t)) =
            graph.input.first().and_then(|i| i.r#type.as_ref()).and_then(|t| t.value.as_ref())
        {
            if let Some(shape) = &t.shape {
                input_rank = Some(shape.dim.len());
                if let Some(Some(dimension::Value::DimValue(c))) = shape.dim.get(1).map(|d| d.value.as_ref())
                {
                    in_channels = usize::try_from(*c).ok().filter(|&c| c > 0);
                }
            }
        }
        let model = framework.model_for_proto_model(&proto).map_err(onnx_err("load"))?;
        Ok(OnnxModel {
            path: path.to_path_buf(),
            model,
            in_channels,
            input_rank,
            plans: Mutex::new(HashMap::new()),
        })
    }

    /// Declares what an exported graph (no shapes in it) takes.
    pub fn with_input(mut self, channels: usize, rank: usize) -> Self {
        self.in_channels = Some(channels);
        self.input_rank = Some(rank);
        self
    }

    /// The file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn plan(&self, shape: &[usize]) -> Result<Plan, NnError> {
        let mut plans = self
            .plans
            .lock()
            .map_err(|_| NnError::Onnx { operation: "run", reason: "poisoned cache".into() })?;
        if let Some(p) = plans.get(shape) {
            return Ok(p.clone());
        }
        let plan = self
            .model
            .clone()
            .with_input_fact(0, f32::fact(shape).into())
            .and_then(|m| m.into_optimized())
            .and_then(|m| m.into_runnable())
            .map_err(onnx_err("prepare"))?;
        plans.insert(shape.to_vec(), plan.clone());
        Ok(plan)
    }

    /// Runs the model on one tensor of `shape` (any rank), returning the first output.
    pub fn run(&self, input: Vec<f32>, shape: &[usize]) -> Result<(Vec<f32>, Vec<usize>), NnError> {
        let plan = self.plan(shape)?;
        let t = Tensor::from_shape(shape, &input).map_err(onnx_err("run"))?;
        let out = plan.run(tvec!(t.into())).map_err(onnx_err("run"))?;
        let first =
            out.first().ok_or_else(|| NnError::Onnx { operation: "run", reason: "no output".into() })?;
        let t = first.clone().into_tensor();
        let data = t.to_plain_array_view::<f32>().map_err(onnx_err("run"))?.iter().copied().collect();
        Ok((data, t.shape().to_vec()))
    }
}

impl Predictor for OnnxModel {
    /// Runs a `[b, c, z, y, x]` batch; a rank-4 model gets `[b, c, y, x]` (z must be 1) and
    /// its output is given a z axis of 1 back.
    fn predict(&self, input: Vec<f32>, shape: [usize; 5]) -> Result<(Vec<f32>, Vec<usize>), NnError> {
        if let Some(c) = self.in_channels {
            if c != shape[1] {
                return Err(NnError::input(format!(
                    "the onnx model takes {c} input channels, got {}",
                    shape[1]
                )));
            }
        }
        if self.input_rank == Some(4) {
            if shape[2] != 1 {
                return Err(NnError::input(format!(
                    "the onnx model is 2-D but the input has {} slices",
                    shape[2]
                )));
            }
            let (o, s) = self.run(input, &[shape[0], shape[1], shape[3], shape[4]])?;
            if s.len() != 4 {
                return Err(NnError::input(format!("the onnx model's output has shape {s:?}")));
            }
            return Ok((o, vec![s[0], s[1], 1, s[2], s[3]]));
        }
        self.run(input, &shape)
    }
}
