"""Builds ONNX test models with the `onnx` helper API (no PyTorch) and reference outputs
from onnxruntime.

    python make_onnx.py OUT_DIR [--bench]

Writes, into OUT_DIR:
  unet3d.onnx       a small 3-D U-Net-like graph (Conv, InstanceNormalization, LeakyRelu,
                    strided Conv, ConvTranspose, Concat, Resize, Add), random weights (seed 0)
  unet3d_in.bin     a 1x1x16x16x16 float32 input (little-endian, row-major)
  unet3d_out.bin    onnxruntime's output for it
  unet2d.onnx, unet2d_in.bin, unet2d_out.bin   the same in 2-D (rank-4 tensors)
  unsupported.onnx  a graph with an operator no runtime knows (HounsfieldMagic)
With --bench, also unet_bench.onnx: the benchmark U-Net (channels 16-32-64-128, strides 2,
two conv-norm-lrelu per level, transposed-conv up-sampling), input 1x1xDxHxW dynamic.
"""
import sys
import numpy as np
import onnx
from onnx import helper, TensorProto, numpy_helper

rng = np.random.default_rng(0)
inits = []
nodes = []
counter = [0]


def name(prefix):
    counter[0] += 1
    return f"{prefix}{counter[0]}"


def weight(shape, scale=None):
    fan_in = int(np.prod(shape[1:]))
    scale = scale if scale is not None else 1.0 / np.sqrt(fan_in)
    w = (rng.standard_normal(shape) * scale).astype(np.float32)
    n = name("w")
    inits.append(numpy_helper.from_array(w, n))
    return n


def conv(x, cin, cout, k, stride, dims, pad=True):
    ks = [k] * dims
    w = weight([cout, cin] + ks)
    b = weight([cout], 0.1)
    y = name("conv")
    p = k // 2 if pad else 0
    nodes.append(helper.make_node("Conv", [x, w, b], [y], kernel_shape=ks, strides=[stride] * dims, pads=[p] * (2 * dims)))
    return y


def norm_act(x, c):
    s = name("s")
    inits.append(numpy_helper.from_array((1 + 0.1 * rng.standard_normal(c)).astype(np.float32), s))
    b = name("b")
    inits.append(numpy_helper.from_array((0.1 * rng.standard_normal(c)).astype(np.float32), b))
    y = name("in")
    nodes.append(helper.make_node("InstanceNormalization", [x, s, b], [y], epsilon=1e-5))
    z = name("lrelu")
    nodes.append(helper.make_node("LeakyRelu", [y], [z], alpha=0.01))
    return z


def block(x, cin, cout, stride, dims, convs=2):
    y = x
    for i in range(convs):
        y = norm_act(conv(y, cin if i == 0 else cout, cout, 3, stride if i == 0 else 1, dims), cout)
    return y


def up_transposed(x, cin, cout, dims):
    w = weight([cin, cout] + [2] * dims)
    b = weight([cout], 0.1)
    y = name("up")
    nodes.append(helper.make_node("ConvTranspose", [x, w, b], [y], kernel_shape=[2] * dims, strides=[2] * dims))
    return y


def up_resize(x, dims):
    scales = name("scales")
    inits.append(numpy_helper.from_array(np.array([1, 1] + [2] * dims, dtype=np.float32), scales))
    y = name("resize")
    nodes.append(helper.make_node("Resize", [x, "", scales], [y], mode="linear",
                                  coordinate_transformation_mode="half_pixel"))
    return y


def unet(dims, cin, cout, channels, convs=2, resize_last=False):
    inits.clear()
    nodes.clear()
    skips = []
    x = "input"
    c = cin
    for i, ch in enumerate(channels):
        x = block(x, c, ch, 1 if i == 0 else 2, dims, convs)
        c = ch
        skips.append((x, ch))
    skips.pop()
    for j, (s, ch) in enumerate(reversed(skips)):
        if resize_last and j == len(skips) - 1:
            u = conv(up_resize(x, dims), c, ch, 1, 1, dims)
        else:
            u = up_transposed(x, c, ch, dims)
        cat = name("cat")
        nodes.append(helper.make_node("Concat", [u, s], [cat], axis=1))
        x = block(cat, 2 * ch, ch, 1, dims, convs)
        c = ch
    head = conv(x, c, cout, 1, 1, dims)
    # A residual Add to the head output keeps Add covered.
    out = "output"
    nodes.append(helper.make_node("Add", [head, head], [out]))
    spatial = ["D", "H", "W"][3 - dims:]
    inp = helper.make_tensor_value_info("input", TensorProto.FLOAT, [1, cin] + spatial)
    outp = helper.make_tensor_value_info("output", TensorProto.FLOAT, [1, cout] + spatial)
    g = helper.make_graph(list(nodes), "unet", [inp], [outp], list(inits))
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
    m.ir_version = 8
    onnx.checker.check_model(m)
    return m


def reference(model, path_prefix, shape):
    import onnxruntime as ort
    x = rng.standard_normal(shape).astype(np.float32)
    sess = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    y = sess.run(None, {"input": x})[0]
    x.astype("<f4").tofile(path_prefix + "_in.bin")
    y.astype("<f4").tofile(path_prefix + "_out.bin")


def main():
    out = sys.argv[1]
    m3 = unet(3, 1, 3, [4, 8, 16], resize_last=True)
    onnx.save(m3, f"{out}/unet3d.onnx")
    reference(m3, f"{out}/unet3d", [1, 1, 16, 16, 16])
    m2 = unet(2, 2, 2, [4, 8], resize_last=False)
    onnx.save(m2, f"{out}/unet2d.onnx")
    reference(m2, f"{out}/unet2d", [1, 2, 24, 32])
    # Unsupported operator.
    n = helper.make_node("HounsfieldMagic", ["input"], ["output"], domain="")
    g = helper.make_graph([n], "bad",
                          [helper.make_tensor_value_info("input", TensorProto.FLOAT, [1, 1, 4, 4])],
                          [helper.make_tensor_value_info("output", TensorProto.FLOAT, [1, 1, 4, 4])])
    bad = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
    bad.ir_version = 8
    onnx.save(bad, f"{out}/unsupported.onnx")
    if "--bench" in sys.argv:
        mb = unet(3, 1, 2, [16, 32, 64, 128])
        onnx.save(mb, f"{out}/unet_bench.onnx")


if __name__ == "__main__":
    main()
