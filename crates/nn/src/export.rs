//! Export to ONNX (opset 17) of the networks whose operators ONNX has: U-Net (every
//! option) and DnCNN. The graph is built as tract's protobuf types, so it can be run by
//! tract in memory ([`crate::onnx::OnnxModel::from_proto`], the fast CPU path, see
//! `docs/benchmarks-nn.md`) or written as a `.onnx` file ([`onnx_bytes`]) for any runtime.
//!
//! 2-D networks export as 2-D graphs (`[b, c, y, x]`), 3-D ones as 3-D graphs.

use burn::nn::conv::{Conv3d, ConvTranspose3d};
use burn::nn::PaddingConfig3d;
use burn::tensor::Tensor;
use tract_onnx::pb::{
    attribute_proto::AttributeType, type_proto, AttributeProto, GraphProto, ModelProto, NodeProto,
    OperatorSetIdProto, TensorProto, TypeProto, ValueInfoProto,
};

use crate::bridge::tensor_to_vec;
use crate::models::{ConvNormAct, Level, Network, NormLayer, Up};
use crate::NnError;

struct Graph {
    nodes: Vec<NodeProto>,
    inits: Vec<TensorProto>,
    count: usize,
    two_d: bool,
}

fn ints(name: &str, v: Vec<i64>) -> AttributeProto {
    AttributeProto { name: name.into(), r#type: AttributeType::Ints as i32, ints: v, ..Default::default() }
}
fn int(name: &str, v: i64) -> AttributeProto {
    AttributeProto { name: name.into(), r#type: AttributeType::Int as i32, i: v, ..Default::default() }
}
fn float(name: &str, v: f32) -> AttributeProto {
    AttributeProto { name: name.into(), r#type: AttributeType::Float as i32, f: v, ..Default::default() }
}
fn string(name: &str, v: &str) -> AttributeProto {
    AttributeProto {
        name: name.into(),
        r#type: AttributeType::String as i32,
        s: v.as_bytes().to_vec(),
        ..Default::default()
    }
}

impl Graph {
    fn fresh(&mut self, prefix: &str) -> String {
        self.count += 1;
        format!("{prefix}_{}", self.count)
    }

    fn init(&mut self, data: Vec<f32>, dims: Vec<i64>) -> String {
        let name = self.fresh("w");
        self.inits.push(TensorProto {
            name: name.clone(),
            dims,
            data_type: 1,
            float_data: data,
            ..Default::default()
        });
        name
    }

    fn node(&mut self, op: &str, inputs: Vec<String>, attrs: Vec<AttributeProto>) -> String {
        let out = self.fresh(op);
        self.nodes.push(NodeProto {
            input: inputs,
            output: vec![out.clone()],
            name: out.clone(),
            op_type: op.into(),
            attribute: attrs,
            ..Default::default()
        });
        out
    }

    /// Spatial values of a 3-D `[d, h, w]` attribute: `[h, w]` for 2-D graphs.
    fn sp(&self, v: [usize; 3]) -> Vec<i64> {
        let all = v.iter().map(|&x| x as i64);
        if self.two_d {
            all.skip(1).collect()
        } else {
            all.collect()
        }
    }

    fn weight<const D: usize>(&mut self, t: Tensor<D>) -> String {
        let mut dims: Vec<i64> = t.dims().iter().map(|&d| d as i64).collect();
        if self.two_d && D == 5 {
            dims.remove(2);
        }
        self.init(tensor_to_vec(t), dims)
    }

    fn conv(&mut self, c: &Conv3d, x: String) -> String {
        let w = self.weight(c.weight.val());
        let mut inputs = vec![x, w];
        if let Some(b) = &c.bias {
            inputs.push(self.weight(b.val()));
        }
        let pad = match c.padding {
            PaddingConfig3d::Explicit(d, h, w) => [d, h, w],
            PaddingConfig3d::Valid => [0, 0, 0],
            PaddingConfig3d::Same => [c.kernel_size[0] / 2, c.kernel_size[1] / 2, c.kernel_size[2] / 2],
        };
        let p = self.sp(pad);
        let pads = p.iter().chain(p.iter()).copied().collect();
        let attrs = vec![
            ints("kernel_shape", self.sp(c.kernel_size)),
            ints("strides", self.sp(c.stride)),
            ints("dilations", self.sp(c.dilation)),
            ints("pads", pads),
            int("group", c.groups as i64),
        ];
        self.node("Conv", inputs, attrs)
    }

    fn conv_t(&mut self, c: &ConvTranspose3d, x: String) -> String {
        let w = self.weight(c.weight.val());
        let mut inputs = vec![x, w];
        if let Some(b) = &c.bias {
            inputs.push(self.weight(b.val()));
        }
        let p = self.sp(c.padding);
        let attrs = vec![
            ints("kernel_shape", self.sp(c.kernel_size)),
            ints("strides", self.sp(c.stride)),
            ints("dilations", self.sp(c.dilation)),
            ints("pads", p.iter().chain(p.iter()).copied().collect()),
            ints("output_padding", self.sp(c.padding_out)),
            int("group", c.groups as i64),
        ];
        self.node("ConvTranspose", inputs, attrs)
    }

    fn norm(&mut self, n: &NormLayer, x: String) -> String {
        if let Some(i) = &n.instance {
            let c = i.num_channels;
            let g = i.gamma.as_ref().map(|p| tensor_to_vec(p.val())).unwrap_or_else(|| vec![1.0; c]);
            let b = i.beta.as_ref().map(|p| tensor_to_vec(p.val())).unwrap_or_else(|| vec![0.0; c]);
            let (g, b) = (self.init(g, vec![c as i64]), self.init(b, vec![c as i64]));
            return self.node(
                "InstanceNormalization",
                vec![x, g, b],
                vec![float("epsilon", i.epsilon as f32)],
            );
        }
        if let Some(bn) = &n.batch {
            let g = self.weight(bn.gamma.val());
            let b = self.weight(bn.beta.val());
            let m = self.weight(bn.running_mean.value());
            let v = self.weight(bn.running_var.value());
            return self.node(
                "BatchNormalization",
                vec![x, g, b, m, v],
                vec![float("epsilon", bn.epsilon as f32)],
            );
        }
        x
    }

    fn lrelu(&mut self, x: String, alpha: f32) -> String {
        self.node("LeakyRelu", vec![x], vec![float("alpha", alpha)])
    }

    fn cna(&mut self, b: &ConvNormAct, x: String) -> String {
        let y = self.conv(&b.conv, x);
        let y = self.norm(&b.norm, y);
        if b.act {
            self.lrelu(y, 0.01)
        } else {
            y
        }
    }

    fn level(&mut self, l: &Level, x: String) -> String {
        let mut y = x.clone();
        for c in &l.convs {
            y = self.cna(c, y);
        }
        if l.residual {
            let s = match &l.shortcut {
                Some(p) => self.conv(p, x),
                None => x,
            };
            let a = self.node("Add", vec![y, s], vec![]);
            self.lrelu(a, 0.01)
        } else {
            y
        }
    }

    fn up(&mut self, u: &Up, x: String) -> String {
        if let Some(t) = &u.transposed {
            return self.conv_t(t, x);
        }
        let mut scales = vec![1.0, 1.0];
        scales.extend(std::iter::repeat_n(2.0f32, if self.two_d { 2 } else { 3 }));
        let n = scales.len() as i64;
        let s = self.init(scales, vec![n]);
        let y = self.node(
            "Resize",
            vec![x, String::new(), s],
            vec![string("mode", "linear"), string("coordinate_transformation_mode", "half_pixel")],
        );
        match &u.projection {
            Some(p) => self.conv(p, y),
            None => y,
        }
    }
}

/// The ONNX graph of `network` (input `input`, output `output`), or an error naming the
/// architecture when it has no ONNX export.
pub fn to_onnx(network: &Network) -> Result<ModelProto, NnError> {
    let two_d = match network {
        Network::Unet(u) => {
            u.encoders.first().and_then(|l| l.convs.first()).map(|c| c.conv.kernel_size[0] == 1)
        }
        Network::Dncnn(d) => Some(d.first.conv.kernel_size[0] == 1),
        _ => None,
    };
    let Some(two_d) = two_d else {
        return Err(NnError::config("architecture", "ONNX export supports unet and dncnn"));
    };
    let mut g = Graph { nodes: Vec::new(), inits: Vec::new(), count: 0, two_d };
    let input = "input".to_string();
    let out = match network {
        Network::Unet(u) => {
            let mut skips = Vec::new();
            let mut y = input.clone();
            for e in &u.encoders {
                y = g.level(e, y);
                skips.push(y.clone());
            }
            skips.pop();
            for (up, dec) in u.ups.iter().zip(&u.decoders) {
                let skip = skips.pop().unwrap_or_else(|| y.clone());
                let a = g.up(up, y);
                let cat = g.node("Concat", vec![a, skip], vec![int("axis", 1)]);
                y = g.level(dec, cat);
            }
            match u.heads.last() {
                Some(h) => g.conv(h, y),
                None => y,
            }
        }
        Network::Dncnn(d) => {
            let mut y = g.cna(&d.first, input.clone());
            for h in &d.hidden {
                y = g.cna(h, y);
            }
            let noise = g.conv(&d.last, y);
            g.node("Sub", vec![input.clone(), noise], vec![])
        }
        _ => return Err(NnError::config("architecture", "ONNX export supports unet and dncnn")),
    };
    // Rename the last node's output to `output`.
    if let Some(last) = g.nodes.last_mut() {
        last.output = vec!["output".into()];
    }
    let _ = out;
    let value = |name: &str| ValueInfoProto {
        name: name.into(),
        r#type: Some(TypeProto {
            value: Some(type_proto::Value::TensorType(type_proto::Tensor { elem_type: 1, shape: None })),
            ..Default::default()
        }),
        ..Default::default()
    };
    Ok(ModelProto {
        ir_version: 8,
        opset_import: vec![OperatorSetIdProto { domain: String::new(), version: 17 }],
        producer_name: "hounsfield-nn".into(),
        producer_version: env!("CARGO_PKG_VERSION").into(),
        graph: Some(GraphProto {
            node: g.nodes,
            name: "hounsfield".into(),
            initializer: g.inits,
            input: vec![value("input")],
            output: vec![value("output")],
            ..Default::default()
        }),
        ..Default::default()
    })
}

/// The serialized `.onnx` file of `network`.
pub fn onnx_bytes(network: &Network) -> Result<Vec<u8>, NnError> {
    use prost::Message;
    Ok(to_onnx(network)?.encode_to_vec())
}
