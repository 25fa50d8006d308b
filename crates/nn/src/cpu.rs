//! CPU kernels the networks of [`models`](crate::models) use in place of burn-flex's:
//! [`conv3d`] (im2col + one packed GEMM per chunk of output rows, forward and backward),
//! [`instance_norm`] fused with the leaky ReLU after it (Ulyanov 2016), and [`leaky_relu`]. Both are burn autodiff ops with their own backward pass on an autodiff
//! device, and plain burn calls on any other backend (CUDA, wgpu) or dtype.
//!
//! Why the convolution: burn-flex 0.22's `conv3d` converts the whole input to channels-last on one thread,
//! builds its im2col tiles element by element (one bounds check per channel), and runs a
//! single-threaded GEMM on 512-column tiles; its backward pass is burn's generic one
//! (a transposed convolution for the input gradient and a convolution with swapped axes for
//! the weights). Profiled on the benchmark U-Net, the im2col closure alone was a third of
//! the forward time. Here the im2col matrix is laid out row-major `[cin·kd·kh·kw, n]`
//! (Chellapilla 2006; Caffe's layout), so each of its rows is a shifted copy of an input row
//! (a `memcpy` for stride 1), the weights `[cout, cin, kd, kh, kw]` are already the GEMM's
//! left operand, and the GEMM (the `gemm` crate, as burn-flex uses) writes straight into the
//! `[b, cout, z, y, x]` output. Chunks of output rows run in parallel on rayon's pool, each
//! with its own ≈ 512 KiB buffer, so memory stays bounded whatever the volume.
//!
//! Backward (as a custom burn autodiff op): per chunk, `dW += dY · colᵀ`, `dcol = Wᵀ · dY`,
//! and `dcol` is scattered back (col2im) into `dX` under a per-batch-item lock.
//!
//! Tensors on another backend (CUDA, wgpu), in another dtype, or with groups, dilation or
//! `Same` padding go to burn's `conv3d` unchanged.
//!
//! Why the leaky ReLU: burn computes it (and its gradient) with `mask_where`, which
//! burn-flex runs element by element on one thread: 17 % of a 2-D U-Net training step.

// The GEMM takes raw pointers and strides, and parallel chunks write disjoint parts of one
// output buffer; every `unsafe` block says which part.
#![allow(unsafe_code)]

use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::NoCheckpointing;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind};
use burn::backend::flex::{FlexTensor, Layout};
use burn::backend::{Autodiff, Flex};
use burn::nn::conv::Conv3d;
use burn::nn::{InstanceNorm, PaddingConfig3d};
use burn::tensor::ops::ConvOptions;
use burn::tensor::{Bytes, DType, Shape, Tensor};
use rayon::prelude::*;

/// Target size of one chunk's im2col buffer, in elements: 512 KiB of f32, half of one
/// core's L2 on the Zen 4 this was tuned on, so the GEMM reads what im2col just wrote from
/// cache (1 Mi elements was 1.3–1.5× slower on conv3d 16→16, 64³).
const CHUNK_ELEMS: usize = 1 << 17;
/// …but at least this many GEMM columns, so deep layers (`cin·27` in the thousands) still
/// amortize packing their weights.
const MIN_COLUMNS: usize = 128;

/// `conv.forward(x)` for burn's [`Conv3d`] module through [`conv3d`].
///
/// Shapes: `[b, cin, z, y, x]` → `[b, cout, z', y', x']` as burn computes them.
pub fn conv(conv: &Conv3d, x: Tensor<5>) -> Tensor<5> {
    let pad = match conv.padding {
        PaddingConfig3d::Explicit(d, h, w) => Some([d, h, w]),
        PaddingConfig3d::Valid => Some([0, 0, 0]),
        PaddingConfig3d::Same => None,
    };
    match pad {
        Some(p) if conv.groups == 1 && conv.dilation == [1, 1, 1] => {
            conv3d(x, conv.weight.val(), conv.bias.as_ref().map(|b| b.val()), conv.stride, p)
        }
        _ => conv.forward(x),
    }
}

/// A 3-D convolution (cross-correlation, as burn and PyTorch define it) with symmetric
/// zero padding `padding` and stride `stride`, no dilation, one group.
///
/// Shapes: `x` `[b, cin, z, y, x]`, `weight` `[cout, cin, kd, kh, kw]`, `bias` `[cout]` →
/// `[b, cout, (z + 2·pd − kd)/sd + 1, …]`. Differentiable on an autodiff device.
pub fn conv3d(
    x: Tensor<5>,
    weight: Tensor<5>,
    bias: Option<Tensor<1>>,
    stride: [usize; 3],
    padding: [usize; 3],
) -> Tensor<5> {
    let fallback = |x: Tensor<5>, w: Tensor<5>, b: Option<Tensor<1>>| {
        burn::tensor::module::conv3d(x, w, b, ConvOptions::new(stride, padding, [1, 1, 1], 1))
    };
    let Some(g) = Geom::new(&x.dims(), &weight.dims(), stride, padding) else {
        return fallback(x, weight, bias);
    };
    if x.dtype() != DType::F32 || weight.dtype() != DType::F32 {
        return fallback(x, weight, bias);
    }
    let device = x.device();
    if device.is_autodiff() {
        let prims = (
            x.clone().try_into_primitive::<Autodiff<Flex>>(),
            weight.clone().try_into_primitive::<Autodiff<Flex>>(),
            bias.clone().map(|b| b.try_into_primitive::<Autodiff<Flex>>()).transpose(),
        );
        if let (Ok(xp), Ok(wp), Ok(bp)) = prims {
            return Tensor::from_primitive::<Autodiff<Flex>>(autodiff_conv(g, xp, wp, bp));
        }
    } else {
        let prims = (
            x.clone().try_into_primitive::<Flex>(),
            weight.clone().try_into_primitive::<Flex>(),
            bias.clone().map(|b| b.try_into_primitive::<Flex>()).transpose(),
        );
        if let (Ok(xp), Ok(wp), Ok(bp)) = prims {
            return Tensor::from_primitive::<Flex>(flex_forward(&g, &xp, &wp, bp.as_ref()));
        }
    }
    fallback(x, weight, bias)
}

/// One group of the backward pass: a batch item and its row chunks `(first row, end row)`.
type Group = (usize, Vec<(usize, usize)>);

/// Sizes of one convolution.
#[derive(Clone, Copy, Debug)]
struct Geom {
    batch: usize,
    cin: usize,
    cout: usize,
    k: [usize; 3],
    s: [usize; 3],
    p: [usize; 3],
    inp: [usize; 3],
    out: [usize; 3],
}

impl Geom {
    fn new(x: &[usize; 5], w: &[usize; 5], s: [usize; 3], p: [usize; 3]) -> Option<Geom> {
        let k = [w[2], w[3], w[4]];
        let inp = [x[2], x[3], x[4]];
        if w[1] != x[1] || s.contains(&0) || k.contains(&0) {
            return None;
        }
        let mut out = [0; 3];
        for i in 0..3 {
            let padded = inp[i] + 2 * p[i];
            if padded < k[i] {
                return None;
            }
            out[i] = (padded - k[i]) / s[i] + 1;
        }
        Some(Geom { batch: x[0], cin: x[1], cout: w[0], k, s, p, inp, out })
    }
    /// Rows of the im2col matrix: `cin · kd · kh · kw`.
    fn kk(&self) -> usize {
        self.cin * self.k[0] * self.k[1] * self.k[2]
    }
    fn in_len(&self) -> usize {
        self.cin * self.inp[0] * self.inp[1] * self.inp[2]
    }
    fn out_spatial(&self) -> usize {
        self.out[0] * self.out[1] * self.out[2]
    }
    /// Work items `(batch item, first output row, end row)`, an output row being one
    /// `(z, y)` line of `x` outputs; sized so the im2col buffer holds about
    /// [`CHUNK_ELEMS`] (or [`MIN_COLUMNS`]) and every thread gets several.
    fn tasks(&self) -> Vec<(usize, usize, usize)> {
        let rows = self.out[0] * self.out[1];
        let per_row = self.kk() * self.out[2];
        let threads = rayon::current_num_threads().max(1);
        let by_size = (CHUNK_ELEMS / per_row.max(1)).max(MIN_COLUMNS.div_ceil(self.out[2].max(1)));
        let by_threads = (self.batch * rows).div_ceil(4 * threads).max(1);
        let chunk = by_size.min(by_threads).min(rows).max(1);
        let mut t = Vec::with_capacity(self.batch * rows.div_ceil(chunk));
        for b in 0..self.batch {
            let mut r = 0;
            while r < rows {
                t.push((b, r, (r + chunk).min(rows)));
                r += chunk;
            }
        }
        t
    }
    /// The backward pass's plan: two phases, each a list of `(batch item, chunks)` groups;
    /// a group is whole planes of the outermost output axis longer than 1 (z, else y), at
    /// least `⌈(k − s)/s⌉` of them so that groups two apart read disjoint input planes, and its
    /// chunks `(first row, end row)` are sized like the forward's tasks.
    fn backward_phases(&self) -> [Vec<Group>; 2] {
        let rows = self.out[0] * self.out[1];
        let (planes, rows_per_plane, k, s) = if self.out[0] > 1 {
            (self.out[0], self.out[1], self.k[0], self.s[0])
        } else {
            (self.out[1], 1, self.k[1], self.s[1])
        };
        let min_planes = k.saturating_sub(s).div_ceil(s).max(1);
        // About four groups per thread in all (one per item when the batch is large): each
        // group costs a `dW` buffer and its sum.
        let threads = rayon::current_num_threads().max(1);
        let groups_per_item = (4 * threads).div_ceil(self.batch.max(1)).max(1);
        let per_group = min_planes.max(planes.div_ceil(groups_per_item));
        let per_row = self.kk() * self.out[2];
        let chunk = (CHUNK_ELEMS / per_row.max(1)).max(MIN_COLUMNS.div_ceil(self.out[2].max(1))).max(1);
        let mut phases: [Vec<Group>; 2] = [Vec::new(), Vec::new()];
        for b in 0..self.batch {
            for (gi, p0) in (0..planes).step_by(per_group).enumerate() {
                let (g0, g1) =
                    (p0 * rows_per_plane, ((p0 + per_group).min(planes) * rows_per_plane).min(rows));
                let mut chunks = Vec::new();
                let mut r = g0;
                while r < g1 {
                    chunks.push((r, (r + chunk).min(g1)));
                    r += chunk;
                }
                phases[gi % 2].push((b, chunks));
            }
        }
        phases
    }
    fn out_shape(&self) -> Shape {
        Shape::from(vec![self.batch, self.cout, self.out[0], self.out[1], self.out[2]])
    }
}

/// The `x` outputs `[lo, hi)` whose input `xo·s + k − p` lies inside `[0, n)`.
fn valid_range(out: usize, n: usize, k: usize, s: usize, p: usize) -> (usize, usize) {
    let lo = if p > k { (p - k).div_ceil(s) } else { 0 };
    let hi = if n + p > k { ((n + p - k - 1) / s + 1).min(out) } else { 0 };
    (lo.min(hi), hi)
}

/// Calls `f(col_row, kernel_offset_row, src_row_start)` for every (im2col row, output row)
/// pair of rows `[r0, r1)`: `src_row_start` is the index in the batch item's input of the
/// input row that output row reads through kernel offset `(kd, kh)`, or `None` in the padding.
fn for_each_row<F: FnMut(usize, usize, usize, Option<usize>)>(g: &Geom, r0: usize, r1: usize, mut f: F) {
    let [d, h, w] = g.inp;
    let ho = g.out[1];
    let mut row = 0;
    for ci in 0..g.cin {
        for kd in 0..g.k[0] {
            for kh in 0..g.k[1] {
                for kw in 0..g.k[2] {
                    for (j, r) in (r0..r1).enumerate() {
                        let (zo, yo) = (r / ho, r % ho);
                        let zi = (zo * g.s[0] + kd).checked_sub(g.p[0]).filter(|&z| z < d);
                        let yi = (yo * g.s[1] + kh).checked_sub(g.p[1]).filter(|&y| y < h);
                        let src = zi.zip(yi).map(|(z, y)| ((ci * d + z) * h + y) * w);
                        f(row, kw, j, src);
                    }
                    row += 1;
                }
            }
        }
    }
}

/// Fills `col` (`[kk, (r1 − r0)·x_out]`) from one batch item's input.
fn im2col(g: &Geom, xb: &[f32], r0: usize, r1: usize, col: &mut [f32]) {
    let (wo, w, s, p) = (g.out[2], g.inp[2], g.s[2], g.p[2]);
    let n = (r1 - r0) * wo;
    for_each_row(g, r0, r1, |row, kw, j, src| {
        let dst = &mut col[row * n + j * wo..row * n + (j + 1) * wo];
        let Some(src) = src else {
            dst.fill(0.0);
            return;
        };
        let src = &xb[src..src + w];
        let (lo, hi) = valid_range(wo, w, kw, s, p);
        dst[..lo].fill(0.0);
        dst[hi..].fill(0.0);
        if s == 1 {
            let off = lo + kw - p;
            dst[lo..hi].copy_from_slice(&src[off..off + hi - lo]);
        } else {
            for (xo, v) in dst[lo..hi].iter_mut().enumerate() {
                *v = src[(xo + lo) * s + kw - p];
            }
        }
    });
}

/// Adds `col` (`[kk, (r1 − r0)·x_out]`) back onto one batch item's input gradient.
fn col2im(g: &Geom, col: &[f32], r0: usize, r1: usize, dxb: &mut [f32]) {
    let (wo, w, s, p) = (g.out[2], g.inp[2], g.s[2], g.p[2]);
    let n = (r1 - r0) * wo;
    for_each_row(g, r0, r1, |row, kw, j, dst| {
        let Some(dst) = dst else { return };
        let src = &col[row * n + j * wo..row * n + (j + 1) * wo];
        let dst = &mut dxb[dst..dst + w];
        let (lo, hi) = valid_range(wo, w, kw, s, p);
        if s == 1 {
            let off = lo + kw - p;
            for (d, v) in dst[off..off + hi - lo].iter_mut().zip(&src[lo..hi]) {
                *d += v;
            }
        } else {
            for (xo, v) in src[lo..hi].iter().enumerate() {
                dst[(xo + lo) * s + kw - p] += v;
            }
        }
    });
}

/// A raw pointer shared by the rayon tasks, each writing a disjoint part (or holding a lock).
#[derive(Clone, Copy)]
struct SendPtr(*mut f32);
impl SendPtr {
    /// The pointer (a method, so closures capture the `Send` wrapper, not its field).
    fn get(self) -> *mut f32 {
        self.0
    }
}
unsafe impl Send for SendPtr {}
unsafe impl Sync for SendPtr {}

/// Row-major GEMM `dst = (read ? dst : 0) + a·b` on one thread, with explicit (row, column)
/// strides.
#[allow(clippy::too_many_arguments)]
unsafe fn gemm(
    m: usize,
    n: usize,
    k: usize,
    dst: *mut f32,
    dst_rs: usize,
    read: bool,
    a: *const f32,
    (a_rs, a_cs): (usize, usize),
    b: *const f32,
    (b_rs, b_cs): (usize, usize),
) {
    gemm::gemm(
        m,
        n,
        k,
        dst,
        1,
        dst_rs as isize,
        read,
        a,
        a_cs as isize,
        a_rs as isize,
        b,
        b_cs as isize,
        b_rs as isize,
        if read { 1.0 } else { 0.0 },
        1.0,
        false,
        false,
        false,
        gemm::Parallelism::None,
    )
}

thread_local! {
    static SCRATCH: std::cell::RefCell<(Vec<f32>, Vec<f32>)> = const { std::cell::RefCell::new((Vec::new(), Vec::new())) };
}

/// Runs `f` with this thread's two scratch buffers resized to `a` and `b` elements.
fn with_scratch<R>(a: usize, b: usize, f: impl FnOnce(&mut [f32], &mut [f32]) -> R) -> R {
    SCRATCH.with(|s| {
        let mut s = s.borrow_mut();
        let (x, y) = &mut *s;
        x.resize(a, 0.0);
        y.resize(b, 0.0);
        f(&mut x[..a], &mut y[..b])
    })
}

/// How often the own forward and backward ran (tests check the fallback was not taken).
#[cfg(test)]
static RUNS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

/// Forward on raw contiguous f32 slices; returns `[b, cout, z', y', x']`.
fn forward_raw(g: &Geom, x: &[f32], w: &[f32], bias: Option<&[f32]>) -> Vec<f32> {
    #[cfg(test)]
    RUNS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let (kk, s, wo) = (g.kk(), g.out_spatial(), g.out[2]);
    let mut y = vec![0.0f32; g.batch * g.cout * s];
    let yp = SendPtr(y.as_mut_ptr());
    g.tasks().into_par_iter().for_each(|(b, r0, r1)| {
        let n = (r1 - r0) * wo;
        let xb = &x[b * g.in_len()..(b + 1) * g.in_len()];
        with_scratch(kk * n, 0, |col, _| {
            im2col(g, xb, r0, r1, col);
            // SAFETY: task (b, r0, r1) alone writes columns [r0·wo, r1·wo) of item b's rows.
            unsafe {
                let dst = yp.get().add(b * g.cout * s + r0 * wo);
                gemm(g.cout, n, kk, dst, s, false, w.as_ptr(), (kk, 1), col.as_ptr(), (n, 1));
                if let Some(bias) = bias {
                    for (co, &bv) in bias.iter().enumerate() {
                        let row = std::slice::from_raw_parts_mut(dst.add(co * s), n);
                        row.iter_mut().for_each(|v| *v += bv);
                    }
                }
            }
        });
    });
    y
}

/// Gradients on raw slices: `(dx, dw, dbias)`, each only when asked for.
///
/// Deterministic whatever the scheduling (training must be bit-reproducible): the output rows
/// of each batch item are cut into groups of whole planes along the outermost axis longer than
/// 1 (z, or y for 2-D), each group's chunks run in order on one thread, and groups run in two
/// phases (even, then odd) so that the input regions that `col2im` adds into never overlap
/// within a phase (a group spans at least `(k − s)/s` planes). Each group keeps its own `dW`,
/// summed in group order at the end. (The groups depend on the thread count, so bits are
/// reproducible for a given `RAYON_NUM_THREADS`.)
fn backward_raw(g: &Geom, x: &[f32], w: &[f32], dy: &[f32], want: [bool; 3]) -> [Option<Vec<f32>>; 3] {
    #[cfg(test)]
    RUNS.fetch_add(1000, std::sync::atomic::Ordering::Relaxed);
    let (kk, s, wo) = (g.kk(), g.out_spatial(), g.out[2]);
    let [want_x, want_w, want_b] = want;
    let mut dx = want_x.then(|| vec![0.0f32; g.batch * g.in_len()]);
    let dxp = SendPtr(dx.as_mut().map_or(std::ptr::null_mut(), |v| v.as_mut_ptr()));
    let dw_len = if want_w { g.cout * kk } else { 0 };
    let phases = g.backward_phases();
    let mut partial: Vec<Vec<f32>> = Vec::new();
    if want_x || want_w {
        for phase in &phases {
            let dws: Vec<Vec<f32>> = phase
                .par_iter()
                .map(|(b, chunks)| {
                    let b = *b;
                    let mut dw = vec![0.0f32; dw_len];
                    let dxb_ptr =
                        SendPtr(if want_x { dxp.get().wrapping_add(b * g.in_len()) } else { dxp.get() });
                    for &(r0, r1) in chunks {
                        let n = (r1 - r0) * wo;
                        let dyb = dy[b * g.cout * s + r0 * wo..].as_ptr();
                        let xb = &x[b * g.in_len()..(b + 1) * g.in_len()];
                        with_scratch(kk * n, if want_x { kk * n } else { 0 }, |col, dcol| unsafe {
                            if want_w {
                                im2col(g, xb, r0, r1, col);
                                // dW[cout, kk] += dY[cout, n] · col[kk, n]ᵀ
                                gemm(
                                    g.cout,
                                    kk,
                                    n,
                                    dw.as_mut_ptr(),
                                    kk,
                                    true,
                                    dyb,
                                    (s, 1),
                                    col.as_ptr(),
                                    (1, n),
                                );
                            }
                            if want_x {
                                // dcol[kk, n] = W[cout, kk]ᵀ · dY[cout, n]
                                gemm(
                                    kk,
                                    n,
                                    g.cout,
                                    dcol.as_mut_ptr(),
                                    n,
                                    false,
                                    w.as_ptr(),
                                    (1, kk),
                                    dyb,
                                    (s, 1),
                                );
                                // SAFETY: within a phase no two groups add into the same input
                                // voxels (see `Geom::backward_phases`), and one group's chunks
                                // run in order on this thread.
                                let dxb = std::slice::from_raw_parts_mut(dxb_ptr.get(), g.in_len());
                                col2im(g, dcol, r0, r1, dxb);
                            }
                        });
                    }
                    dw
                })
                .collect();
            partial.extend(dws);
        }
    }
    let dw = want_w.then(|| {
        let mut total = vec![0.0f32; dw_len];
        for p in &partial {
            total.iter_mut().zip(p).for_each(|(a, b)| *a += b);
        }
        total
    });
    let db = want_b.then(|| {
        (0..g.cout)
            .into_par_iter()
            .map(|co| {
                (0..g.batch)
                    .map(|b| dy[(b * g.cout + co) * s..(b * g.cout + co + 1) * s].iter().sum::<f32>())
                    .sum()
            })
            .collect()
    });
    [dx, dw, db]
}

fn contiguous(t: &FlexTensor) -> FlexTensor {
    if t.is_contiguous() && t.layout().start_offset() == 0 {
        t.clone()
    } else {
        t.to_contiguous()
    }
}

fn slice(t: &FlexTensor) -> &[f32] {
    // Contiguous from offset 0 (see `contiguous`), so the storage is the tensor.
    &t.storage::<f32>()[..t.layout().num_elements()]
}

fn flex(v: Vec<f32>, shape: Shape) -> FlexTensor {
    FlexTensor::new(Bytes::from_elems(v), Layout::contiguous(shape), DType::F32)
}

fn flex_forward(g: &Geom, x: &FlexTensor, w: &FlexTensor, b: Option<&FlexTensor>) -> FlexTensor {
    let (x, w, b) = (contiguous(x), contiguous(w), b.map(contiguous));
    flex(forward_raw(g, slice(&x), slice(&w), b.as_ref().map(slice)), g.out_shape())
}

/// What the backward step keeps: the input and weights (shared, not copied).
#[derive(Clone, Debug)]
struct State {
    g: Geom,
    x: FlexTensor,
    w: FlexTensor,
}

#[derive(Debug)]
struct ConvBias;
#[derive(Debug)]
struct ConvNoBias;

fn grads_of(state: &State, dy: FlexTensor, want: [bool; 3]) -> [Option<FlexTensor>; 3] {
    let g = &state.g;
    let dy = contiguous(&dy);
    let (x, w) = (contiguous(&state.x), contiguous(&state.w));
    let [dx, dw, db] = backward_raw(g, slice(&x), slice(&w), slice(&dy), want);
    [
        dx.map(|v| flex(v, state.x.layout().shape().clone())),
        dw.map(|v| flex(v, state.w.layout().shape().clone())),
        db.map(|v| flex(v, Shape::from(vec![g.cout]))),
    ]
}

impl Backward<Flex, 3> for ConvBias {
    type State = State;
    fn backward(self, ops: Ops<State, 3>, grads: &mut Gradients, _: &mut Checkpointer) {
        let dy = grads.consume::<Flex>(&ops.node);
        let want = ops.parents.each_ref().map(|p| p.is_some());
        let out = grads_of(&ops.state, dy, want);
        for (parent, grad) in ops.parents.iter().zip(out) {
            if let (Some(node), Some(grad)) = (parent, grad) {
                grads.register::<Flex>(node.id, grad);
            }
        }
    }
}

impl Backward<Flex, 2> for ConvNoBias {
    type State = State;
    fn backward(self, ops: Ops<State, 2>, grads: &mut Gradients, _: &mut Checkpointer) {
        let dy = grads.consume::<Flex>(&ops.node);
        let [px, pw] = &ops.parents;
        let out = grads_of(&ops.state, dy, [px.is_some(), pw.is_some(), false]);
        for (parent, grad) in ops.parents.iter().zip(out) {
            if let (Some(node), Some(grad)) = (parent, grad) {
                grads.register::<Flex>(node.id, grad);
            }
        }
    }
}

type AdTensor = burn::backend::tensor::FloatTensor<Autodiff<Flex>>;

fn autodiff_conv(g: Geom, x: AdTensor, w: AdTensor, b: Option<AdTensor>) -> AdTensor {
    let state = || State { g, x: x.primitive().clone(), w: w.primitive().clone() };
    let out = || flex_forward(&g, x.primitive(), w.primitive(), b.as_ref().map(|b| b.primitive()));
    match &b {
        Some(bt) => match ConvBias
            .prepare::<NoCheckpointing>([x.node(), w.node(), bt.node()])
            .compute_bound()
            .stateful()
        {
            OpsKind::Tracked(prep) => prep.finish(state(), out()),
            OpsKind::UnTracked(prep) => prep.finish(out()),
        },
        None => {
            match ConvNoBias.prepare::<NoCheckpointing>([x.node(), w.node()]).compute_bound().stateful() {
                OpsKind::Tracked(prep) => prep.finish(state(), out()),
                OpsKind::UnTracked(prep) => prep.finish(out()),
            }
        }
    }
}

/// Elements per rayon task of the element-wise kernels.
const ELEMWISE_CHUNK: usize = 1 << 16;

/// Leaky ReLU `x ≥ 0 ? x : slope·x` (slope > 0), as burn's `leaky_relu`.
///
/// Shapes: any, unchanged. Differentiable on an autodiff device (the gradient is read from
/// the output's sign, which is the input's for a positive slope).
pub fn leaky_relu<const D: usize>(x: Tensor<D>, slope: f64) -> Tensor<D> {
    if x.dtype() != DType::F32 || slope <= 0.0 {
        return burn::tensor::activation::leaky_relu(x, slope);
    }
    let a = slope as f32;
    // Without autodiff burn-flex's own leaky ReLU is a fast in-place unary kernel; only its
    // autodiff path goes through `mask_where`.
    if x.device().is_autodiff() {
        if let Ok(xp) = x.clone().try_into_primitive::<Autodiff<Flex>>() {
            let out = || leaky_forward(xp.primitive(), a);
            let y = match LeakyBackward.prepare::<NoCheckpointing>([xp.node()]).compute_bound().stateful() {
                OpsKind::Tracked(prep) => {
                    let y = out();
                    prep.finish((y.clone(), a), y)
                }
                OpsKind::UnTracked(prep) => prep.finish(out()),
            };
            return Tensor::from_primitive::<Autodiff<Flex>>(y);
        }
    }
    burn::tensor::activation::leaky_relu(x, slope)
}

/// The leaky ReLU of a flex tensor into a new one (the input is the autodiff graph's).
fn leaky_forward(x: &FlexTensor, a: f32) -> FlexTensor {
    let x = contiguous(x);
    let mut v = slice(&x).to_vec();
    v.par_chunks_mut(ELEMWISE_CHUNK).for_each(|c| c.iter_mut().for_each(|v| *v = leaky(*v, a)));
    flex(v, x.layout().shape().clone())
}

#[derive(Debug)]
struct LeakyBackward;

impl Backward<Flex, 1> for LeakyBackward {
    /// The output and the slope.
    type State = (FlexTensor, f32);
    fn backward(self, ops: Ops<Self::State, 1>, grads: &mut Gradients, _: &mut Checkpointer) {
        let dy = contiguous(&grads.consume::<Flex>(&ops.node));
        let [parent] = ops.parents;
        let Some(node) = parent else { return };
        let (y, a) = ops.state;
        let y = contiguous(&y);
        let mut dx = slice(&dy).to_vec();
        dx.par_chunks_mut(ELEMWISE_CHUNK).zip(slice(&y).par_chunks(ELEMWISE_CHUNK)).for_each(|(d, y)| {
            for (d, &y) in d.iter_mut().zip(y) {
                *d *= 1.0 + (a - 1.0) * ((y < 0.0) as u32 as f32);
            }
        });
        grads.register::<Flex>(node.id, flex(dx, y.layout().shape().clone()));
    }
}

/// burn's [`InstanceNorm`] followed by a leaky ReLU with `slope` (or none), fused: two passes
/// over the data forward and two backward, where burn's composed mean / subtract / square /
/// mean / divide / scale / shift / mask take eight, each allocating a new tensor.
///
/// Statistics per batch item and channel over the spatial axes, biased variance, in f64.
/// Shapes: `[b, c, z, y, x]` → same.
pub fn instance_norm(norm: &InstanceNorm, x: Tensor<5>, slope: Option<f64>) -> Tensor<5> {
    let fallback = |x: Tensor<5>| {
        let y = norm.forward(x);
        match slope {
            Some(a) => leaky_relu(y, a),
            None => y,
        }
    };
    let [b, c, z, yy, xx] = x.dims();
    let affine = norm.gamma.as_ref().zip(norm.beta.as_ref()).map(|(g, b)| (g.val(), b.val()));
    if x.dtype() != DType::F32
        || c != norm.num_channels
        || z * yy * xx == 0
        || slope.is_some_and(|a| a <= 0.0)
        || affine.as_ref().is_some_and(|(g, b)| g.dtype() != DType::F32 || b.dtype() != DType::F32)
    {
        return fallback(x);
    }
    let cfg = NormCfg {
        planes: b * c,
        channels: c,
        n: z * yy * xx,
        eps: norm.epsilon,
        slope: slope.map_or(1.0, |a| a as f32),
    };
    if x.device().is_autodiff() {
        let prims = (
            x.clone().try_into_primitive::<Autodiff<Flex>>(),
            affine
                .clone()
                .map(|(g, b)| {
                    Ok::<_, burn::tensor::PrimitiveConversionError>((
                        g.try_into_primitive::<Autodiff<Flex>>()?,
                        b.try_into_primitive::<Autodiff<Flex>>()?,
                    ))
                })
                .transpose(),
        );
        if let (Ok(xp), Ok(gb)) = prims {
            return Tensor::from_primitive::<Autodiff<Flex>>(autodiff_norm(cfg, xp, gb));
        }
    } else {
        let prims = (
            x.clone().try_into_primitive::<Flex>(),
            affine
                .clone()
                .map(|(g, b)| {
                    Ok::<_, burn::tensor::PrimitiveConversionError>((
                        g.try_into_primitive::<Flex>()?,
                        b.try_into_primitive::<Flex>()?,
                    ))
                })
                .transpose(),
        );
        if let (Ok(xp), Ok(gb)) = prims {
            drop(x); // the primitive may now own its storage: normalize in place
            let gb = gb.map(|(g, b)| (contiguous(&g), contiguous(&b)));
            let gb = gb.as_ref().map(|(g, b)| (slice(g), slice(b)));
            let mut xp =
                if xp.is_contiguous() && xp.layout().start_offset() == 0 { xp } else { xp.to_contiguous() };
            let shape = xp.layout().shape().clone();
            if let Some(data) = xp.try_storage_mut::<f32>() {
                let n = cfg.planes * cfg.n;
                norm_forward(&cfg, &mut data[..n], gb);
                return Tensor::from_primitive::<Flex>(xp);
            }
            let mut v = slice(&xp).to_vec();
            norm_forward(&cfg, &mut v, gb);
            return Tensor::from_primitive::<Flex>(flex(v, shape));
        }
    }
    fallback(x)
}

/// Sizes and constants of one instance normalization.
#[derive(Clone, Copy, Debug)]
struct NormCfg {
    /// `b · c`.
    planes: usize,
    channels: usize,
    /// Voxels per plane.
    n: usize,
    eps: f64,
    /// Leaky ReLU slope; 1 for no activation.
    slope: f32,
}

/// `Σ f(a[i], b[i], c[i])`: 16 f32 lanes per block of 4096 (so the compiler vectorizes; a
/// plain f64 fold is one dependent add per element), blocks summed in f64. The slices have
/// equal lengths.
fn lane_sum(a: &[f32], b: &[f32], c: &[f32], f: impl Fn(f32, f32, f32) -> f32) -> f64 {
    let mut total = 0.0f64;
    for ((a, b), c) in a.chunks(4096).zip(b.chunks(4096)).zip(c.chunks(4096)) {
        let mut acc = [0.0f32; 16];
        let (ia, ib, ic) = (a.chunks_exact(16), b.chunks_exact(16), c.chunks_exact(16));
        let (ra, rb, rc) = (ia.remainder(), ib.remainder(), ic.remainder());
        for ((a, b), c) in ia.zip(ib).zip(ic) {
            for l in 0..16 {
                acc[l] += f(a[l], b[l], c[l]);
            }
        }
        total += acc.iter().map(|&v| v as f64).sum::<f64>();
        total += ra.iter().zip(rb).zip(rc).map(|((&a, &b), &c)| f(a, b, c) as f64).sum::<f64>();
    }
    total
}

/// Leaky ReLU without a branch (signs are random: a branch mispredicts half the time and
/// keeps the loop scalar); NaN stays NaN, as in burn.
#[inline(always)]
fn leaky(y: f32, a: f32) -> f32 {
    y * (1.0 + (a - 1.0) * ((y < 0.0) as u32 as f32))
}

/// Mean and `1/√(var + ε)` of one plane (two passes, block sums in f64).
fn plane_stats(p: &[f32], eps: f64) -> (f32, f32) {
    let n = p.len().max(1) as f64;
    let mean = (lane_sum(p, p, p, |x, _, _| x) / n) as f32;
    let var = lane_sum(p, p, p, |x, _, _| (x - mean) * (x - mean)) / n;
    (mean, (1.0 / (var + eps).sqrt()) as f32)
}

/// Normalizes (and activates) `data` `[planes, n]` in place; returns per-plane mean and rstd.
fn norm_forward(cfg: &NormCfg, data: &mut [f32], affine: Option<(&[f32], &[f32])>) -> Vec<(f32, f32)> {
    #[cfg(test)]
    RUNS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let a = cfg.slope;
    data.par_chunks_mut(cfg.n.max(1))
        .enumerate()
        .map(|(p, plane)| {
            let (mean, rstd) = plane_stats(plane, cfg.eps);
            let ch = p % cfg.channels;
            let (g, b) = affine.map_or((1.0, 0.0), |(g, b)| (g[ch], b[ch]));
            let (scale, shift) = (g * rstd, b - mean * g * rstd);
            for v in plane.iter_mut() {
                *v = leaky(*v * scale + shift, a);
            }
            (mean, rstd)
        })
        .collect()
}

/// What the backward step keeps: input, output, per-plane statistics, affine weights.
#[derive(Clone, Debug)]
struct NormState {
    cfg: NormCfg,
    x: FlexTensor,
    y: FlexTensor,
    stats: Vec<(f32, f32)>,
    gamma: Option<FlexTensor>,
}

/// `[dx, dγ, dβ]` of the fused normalization + activation.
fn norm_grads(st: &NormState, dy: FlexTensor, want: [bool; 3]) -> [Option<FlexTensor>; 3] {
    #[cfg(test)]
    RUNS.fetch_add(1000, std::sync::atomic::Ordering::Relaxed);
    let cfg = &st.cfg;
    let (x, y, dy) = (contiguous(&st.x), contiguous(&st.y), contiguous(&dy));
    let gamma = st.gamma.as_ref().map(contiguous);
    let gamma = gamma.as_ref().map(slice);
    let (xs, ys, dys) = (slice(&x), slice(&y), slice(&dy));
    let n = cfg.n.max(1);
    let a = cfg.slope;
    // dx is computed even when only dγ/dβ are asked for (never, in these networks: the
    // input of a normalization is a convolution's output): one code path.
    let mut dx = vec![0.0f32; cfg.planes * cfg.n];
    let sums: Vec<(f64, f64)> = dx
        .par_chunks_mut(n)
        .enumerate()
        .map(|(p, dxp)| {
            let r = p * cfg.n..(p + 1) * cfg.n;
            let (xp, yp, dyp) = (&xs[r.clone()], &ys[r.clone()], &dys[r]);
            let (mean, rstd) = st.stats[p];
            // The activation's derivative from the output's sign, without a branch.
            let dz = move |y: f32, dy: f32| dy * (1.0 + (a - 1.0) * ((y < 0.0) as u32 as f32));
            // Σ dz and Σ dz·x̂: the β and γ gradients, and the two means of dx.
            let s1 = lane_sum(yp, dyp, xp, |y, dy, _| dz(y, dy));
            let s2 = lane_sum(yp, dyp, xp, |y, dy, x| dz(y, dy) * ((x - mean) * rstd));
            let g = gamma.map_or(1.0, |g| g[p % cfg.channels]);
            let (m1, m2) = ((s1 / cfg.n as f64) as f32, (s2 / cfg.n as f64) as f32);
            for (((d, &x), &y), &dy) in dxp.iter_mut().zip(xp).zip(yp).zip(dyp) {
                *d = g * rstd * (dz(y, dy) - m1 - (x - mean) * rstd * m2);
            }
            (s1, s2)
        })
        .collect();
    let per_channel = |f: fn(&(f64, f64)) -> f64| {
        let mut v = vec![0.0f32; cfg.channels];
        for (p, s) in sums.iter().enumerate() {
            v[p % cfg.channels] += f(s) as f32;
        }
        flex(v, Shape::from(vec![cfg.channels]))
    };
    [
        want[0].then(|| flex(dx, st.x.layout().shape().clone())),
        want[1].then(|| per_channel(|s| s.1)),
        want[2].then(|| per_channel(|s| s.0)),
    ]
}

#[derive(Debug)]
struct NormAffine;
#[derive(Debug)]
struct NormPlain;

impl Backward<Flex, 3> for NormAffine {
    type State = NormState;
    fn backward(self, ops: Ops<NormState, 3>, grads: &mut Gradients, _: &mut Checkpointer) {
        let dy = grads.consume::<Flex>(&ops.node);
        let want = ops.parents.each_ref().map(|p| p.is_some());
        for (parent, grad) in ops.parents.iter().zip(norm_grads(&ops.state, dy, want)) {
            if let (Some(node), Some(grad)) = (parent, grad) {
                grads.register::<Flex>(node.id, grad);
            }
        }
    }
}

impl Backward<Flex, 1> for NormPlain {
    type State = NormState;
    fn backward(self, ops: Ops<NormState, 1>, grads: &mut Gradients, _: &mut Checkpointer) {
        let dy = grads.consume::<Flex>(&ops.node);
        let [parent] = ops.parents;
        if let Some(node) = parent {
            let [dx, _, _] = norm_grads(&ops.state, dy, [true, false, false]);
            if let Some(dx) = dx {
                grads.register::<Flex>(node.id, dx);
            }
        }
    }
}

fn autodiff_norm(cfg: NormCfg, x: AdTensor, gb: Option<(AdTensor, AdTensor)>) -> AdTensor {
    let gbf = gb.as_ref().map(|(g, b)| (contiguous(g.primitive()), contiguous(b.primitive())));
    let run = || {
        let xc = contiguous(x.primitive());
        let mut v = slice(&xc).to_vec();
        let stats = norm_forward(&cfg, &mut v, gbf.as_ref().map(|(g, b)| (slice(g), slice(b))));
        (flex(v, xc.layout().shape().clone()), stats)
    };
    let state = |y: &FlexTensor, stats| NormState {
        cfg,
        x: x.primitive().clone(),
        y: y.clone(),
        stats,
        gamma: gbf.as_ref().map(|(g, _)| g.clone()),
    };
    match &gb {
        Some((g, b)) => {
            match NormAffine
                .prepare::<NoCheckpointing>([x.node(), g.node(), b.node()])
                .compute_bound()
                .stateful()
            {
                OpsKind::Tracked(prep) => {
                    let (y, stats) = run();
                    prep.finish(state(&y, stats), y)
                }
                OpsKind::UnTracked(prep) => prep.finish(run().0),
            }
        }
        None => match NormPlain.prepare::<NoCheckpointing>([x.node()]).compute_bound().stateful() {
            OpsKind::Tracked(prep) => {
                let (y, stats) = run();
                prep.finish(state(&y, stats), y)
            }
            OpsKind::UnTracked(prep) => prep.finish(run().0),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::tensor::{Device, Distribution, Tolerance};

    fn burn_conv(
        x: Tensor<5>,
        w: Tensor<5>,
        b: Option<Tensor<1>>,
        s: [usize; 3],
        p: [usize; 3],
    ) -> Tensor<5> {
        burn::tensor::module::conv3d(x, w, b, ConvOptions::new(s, p, [1, 1, 1], 1))
    }

    /// Shapes covering 3-D k3 stride 1 and 2, the 2-D layout (z = 1, 1×3×3), 1×1, odd
    /// sizes, padding wider than the kernel's reach, and batch > 1.
    /// Input shape, weight shape, stride, padding.
    type Case = ([usize; 5], [usize; 5], [usize; 3], [usize; 3]);

    const CASES: [Case; 6] = [
        ([1, 3, 6, 7, 5], [4, 3, 3, 3, 3], [1, 1, 1], [1, 1, 1]),
        ([2, 2, 8, 6, 9], [3, 2, 3, 3, 3], [2, 2, 2], [1, 1, 1]),
        ([3, 2, 1, 9, 8], [5, 2, 1, 3, 3], [1, 1, 1], [0, 1, 1]),
        ([2, 4, 1, 10, 7], [3, 4, 1, 3, 3], [1, 2, 2], [0, 1, 1]),
        ([1, 3, 4, 5, 6], [2, 3, 1, 1, 1], [1, 1, 1], [0, 0, 0]),
        ([1, 2, 3, 4, 5], [2, 2, 2, 3, 2], [1, 3, 2], [2, 0, 3]),
    ];

    #[test]
    fn backward_is_bit_reproducible() {
        // Training resumes bit-exactly only if every gradient is: repeat the backward pass
        // (threads steal work differently each time) and compare bits. Shapes cover 3-D
        // stride 1 and 2, and a 2-D-like depth of 1.
        for (xs, ws, st, pd) in [
            ([1usize, 3, 12, 10, 9], [4usize, 3, 3, 3, 3], [1usize, 1, 1], [1usize, 1, 1]),
            ([2, 2, 9, 8, 8], [3, 2, 3, 3, 3], [2, 2, 2], [1, 1, 1]),
            ([3, 2, 1, 16, 12], [4, 2, 1, 3, 3], [1, 1, 1], [0, 1, 1]),
        ] {
            let g = Geom::new(&xs, &ws, st, pd).unwrap();
            let val = |i: usize, m: f32| ((i as f32 * 0.618).sin() * m).fract();
            let x: Vec<f32> = (0..xs.iter().product::<usize>()).map(|i| val(i, 7.0)).collect();
            let w: Vec<f32> = (0..ws.iter().product::<usize>()).map(|i| val(i, 3.0)).collect();
            let dy: Vec<f32> = (0..g.batch * g.cout * g.out_spatial()).map(|i| val(i, 5.0)).collect();
            let first = backward_raw(&g, &x, &w, &dy, [true, true, true]);
            for _ in 0..6 {
                let again = backward_raw(&g, &x, &w, &dy, [true, true, true]);
                for (a, b) in first.iter().zip(&again) {
                    let bits = |v: &Option<Vec<f32>>| {
                        v.as_ref().map(|v| v.iter().map(|f| f.to_bits()).collect::<Vec<_>>())
                    };
                    assert_eq!(bits(a), bits(b), "backward differs between runs for {xs:?}");
                }
            }
        }
    }

    #[test]
    fn forward_matches_burn() {
        let dev = Device::flex();
        dev.seed(3);
        for (xs, ws, s, p) in CASES {
            let x = Tensor::<5>::random(xs, Distribution::Normal(0.0, 1.0), &dev);
            let w = Tensor::<5>::random(ws, Distribution::Normal(0.0, 1.0), &dev);
            let b = Tensor::<1>::random([ws[0]], Distribution::Normal(0.0, 1.0), &dev);
            let before = RUNS.load(std::sync::atomic::Ordering::Relaxed);
            let ours = conv3d(x.clone(), w.clone(), Some(b.clone()), s, p);
            assert!(RUNS.load(std::sync::atomic::Ordering::Relaxed) > before, "burn's conv was used");
            let theirs = burn_conv(x, w, Some(b), s, p);
            assert_eq!(ours.dims(), theirs.dims());
            // f32 sums of ≤ 108 products of N(0, 1) values (magnitude ~10) in another order:
            // 1e-4 relative, and 1e-5 absolute where terms cancel to near zero.
            let tol = Tolerance::relative(1e-4).set_absolute(1e-5);
            ours.into_data().assert_approx_eq::<f32>(&theirs.into_data(), tol);
        }
    }

    #[test]
    fn gradients_match_burn() {
        let dev = Device::flex().autodiff();
        dev.seed(5);
        for (xs, ws, s, p) in CASES {
            for with_bias in [true, false] {
                let x = Tensor::<5>::random(xs, Distribution::Normal(0.0, 1.0), &dev).require_grad();
                let w = Tensor::<5>::random(ws, Distribution::Normal(0.0, 1.0), &dev).require_grad();
                let b = Tensor::<1>::random([ws[0]], Distribution::Normal(0.0, 1.0), &dev).require_grad();
                let bias = with_bias.then(|| b.clone());
                let ours = conv3d(x.clone(), w.clone(), bias.clone(), s, p);
                // A non-uniform upstream gradient, so every path is weighted differently.
                let probe = Tensor::<5>::random(ours.dims(), Distribution::Normal(0.0, 1.0), &dev);
                let before = RUNS.load(std::sync::atomic::Ordering::Relaxed);
                let g1 = (ours * probe.clone()).sum().backward();
                assert!(RUNS.load(std::sync::atomic::Ordering::Relaxed) >= before + 1000, "no own backward");
                let theirs = burn_conv(x.clone(), w.clone(), bias, s, p);
                let g2 = (theirs * probe).sum().backward();
                // As forward; gradients sum up to a few thousand products.
                let tol = Tolerance::relative(1e-4).set_absolute(1e-4);
                for (a, b) in [(x.grad(&g1), x.grad(&g2)), (w.grad(&g1), w.grad(&g2))] {
                    a.unwrap().into_data().assert_approx_eq::<f32>(&b.unwrap().into_data(), tol);
                }
                if with_bias {
                    b.grad(&g1)
                        .unwrap()
                        .into_data()
                        .assert_approx_eq::<f32>(&b.grad(&g2).unwrap().into_data(), tol);
                }
            }
        }
    }

    #[test]
    fn leaky_relu_matches_burn_forward_and_gradient() {
        let dev = Device::flex().autodiff();
        dev.seed(7);
        let x = Tensor::<5>::random([2, 3, 4, 5, 6], Distribution::Normal(0.0, 1.0), &dev).require_grad();
        let probe = Tensor::<5>::random([2, 3, 4, 5, 6], Distribution::Normal(0.0, 1.0), &dev);
        let ours = leaky_relu(x.clone(), 0.01);
        let theirs = burn::tensor::activation::leaky_relu(x.clone(), 0.01);
        // The same single multiplication per element: equal to rounding.
        let tol = Tolerance::relative(1e-6).set_absolute(1e-7);
        ours.clone().into_data().assert_approx_eq::<f32>(&theirs.clone().into_data(), tol);
        let g1 = (ours * probe.clone()).sum().backward();
        let g2 = (theirs * probe).sum().backward();
        x.grad(&g1).unwrap().into_data().assert_approx_eq::<f32>(&x.grad(&g2).unwrap().into_data(), tol);
        // Inference (no autodiff: burn's kernel).
        let plain = Device::flex();
        let v = Tensor::<1>::from_floats([-2.0, -0.5, 0.0, 3.0], &plain);
        let y = leaky_relu(v, 0.1).into_data().try_to_vec::<f32>().unwrap();
        assert_eq!(y, vec![-0.2, -0.05, 0.0, 3.0]);
    }

    #[test]
    fn instance_norm_matches_burn_forward_and_gradients() {
        use burn::nn::InstanceNormConfig;
        let dev = Device::flex().autodiff();
        dev.seed(11);
        for (affine, slope) in [(true, Some(0.01)), (true, None), (false, Some(0.2))] {
            let norm = InstanceNormConfig::new(3).with_affine(affine).init(&dev);
            // Non-trivial affine weights, so their gradients are tested through a real scale.
            let norm = InstanceNorm {
                gamma: norm
                    .gamma
                    .map(|g| g.map(|t| t.random_like(Distribution::Normal(1.0, 0.5)).require_grad())),
                beta: norm
                    .beta
                    .map(|b| b.map(|t| t.random_like(Distribution::Normal(0.0, 0.5)).require_grad())),
                ..norm
            };
            let x = Tensor::<5>::random([2, 3, 3, 4, 5], Distribution::Normal(0.5, 2.0), &dev).require_grad();
            let probe = Tensor::<5>::random([2, 3, 3, 4, 5], Distribution::Normal(0.0, 1.0), &dev);
            let before = RUNS.load(std::sync::atomic::Ordering::Relaxed);
            let ours = instance_norm(&norm, x.clone(), slope);
            let y = norm.forward(x.clone());
            let theirs = match slope {
                Some(a) => burn::tensor::activation::leaky_relu(y, a),
                None => y,
            };
            // f64 statistics against burn's f32 ones over 60 voxels.
            let tol = Tolerance::relative(1e-4).set_absolute(1e-5);
            ours.clone().into_data().assert_approx_eq::<f32>(&theirs.clone().into_data(), tol);
            let g1 = (ours * probe.clone()).sum().backward();
            assert!(RUNS.load(std::sync::atomic::Ordering::Relaxed) >= before + 1001, "burn's norm was used");
            let g2 = (theirs * probe).sum().backward();
            x.grad(&g1).unwrap().into_data().assert_approx_eq::<f32>(&x.grad(&g2).unwrap().into_data(), tol);
            if let (Some(g), Some(b)) = (&norm.gamma, &norm.beta) {
                for p in [g, b] {
                    let (a, b) = (p.val().grad(&g1).unwrap(), p.val().grad(&g2).unwrap());
                    a.into_data().assert_approx_eq::<f32>(&b.into_data(), tol);
                }
            }
            // Inference: in place, same values.
            let plain = Device::flex();
            let xp = Tensor::<5>::from_data(x.clone().into_data(), &plain);
            let normp = InstanceNorm {
                gamma: norm.gamma.as_ref().map(|g| {
                    burn::module::Param::from_tensor(Tensor::from_data(g.val().into_data(), &plain))
                }),
                beta: norm.beta.as_ref().map(|b| {
                    burn::module::Param::from_tensor(Tensor::from_data(b.val().into_data(), &plain))
                }),
                ..norm.clone()
            };
            let before = RUNS.load(std::sync::atomic::Ordering::Relaxed);
            let yp = instance_norm(&normp, xp, slope);
            assert!(RUNS.load(std::sync::atomic::Ordering::Relaxed) > before);
            let yr = instance_norm(&norm, x.clone(), slope);
            yp.into_data().assert_approx_eq::<f32>(&yr.into_data(), tol);
        }
    }
}
