//! Tensor operations burn lacks for 3-D images, written from differentiable primitives so
//! autodiff flows through them: 2× max/average pooling, 2× linear up-sampling, the spatial
//! transformer (bilinear/trilinear warp by a displacement field) and scaling-and-squaring
//! integration of a stationary velocity field.
//!
//! Tensors are `[batch, channels, z, y, x]`; `z = 1` means a 2-D image, and then the z axis
//! is neither pooled nor up-sampled.

use burn::tensor::{Int, Tensor};

/// 2-D (`z = 1`) or 3-D spatial tensors.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum SpatialDims {
    /// Images: kernels `1 × k × k`, the z axis untouched.
    #[serde(rename = "2")]
    D2,
    /// Volumes: kernels `k × k × k` (the default).
    #[default]
    #[serde(rename = "3")]
    D3,
}

impl SpatialDims {
    /// 2 or 3.
    pub fn count(self) -> usize {
        match self {
            SpatialDims::D2 => 2,
            SpatialDims::D3 => 3,
        }
    }

    /// A cubic kernel size for these dims: `[1, k, k]` or `[k, k, k]`.
    pub fn kernel(self, k: usize) -> [usize; 3] {
        match self {
            SpatialDims::D2 => [1, k, k],
            SpatialDims::D3 => [k, k, k],
        }
    }

    /// The dims of a spatial shape `[z, y, x]`: 2 when `z = 1`.
    pub fn of_shape(zyx: [usize; 3]) -> SpatialDims {
        if zyx[0] == 1 {
            SpatialDims::D2
        } else {
            SpatialDims::D3
        }
    }
}

/// How pooling combines a 2×2(×2) block.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Reduce {
    Max,
    Mean,
}

fn pool2(x: Tensor<5>, dims: SpatialDims, reduce: Reduce) -> Tensor<5> {
    let [b, c, d, h, w] = x.dims();
    let kd = if dims == SpatialDims::D3 { 2 } else { 1 };
    // Odd extents drop their last plane, as PyTorch's floor mode does.
    let (d2, h2, w2) = (d / kd, h / 2, w / 2);
    let x = x.narrow(2, 0, d2 * kd).narrow(3, 0, h2 * 2).narrow(4, 0, w2 * 2);
    let x: Tensor<7> = x.reshape([b * c, d2, kd, h2, 2, w2, 2]);
    let r = match reduce {
        Reduce::Max => x.max_dim(6).max_dim(4).max_dim(2),
        Reduce::Mean => x.mean_dim(6).mean_dim(4).mean_dim(2),
    };
    r.reshape([b, c, d2, h2, w2])
}

/// 2×2×2 max pooling with stride 2 (2×2 in-plane when `dims` is 2-D).
///
/// Shapes: `[b, c, z, y, x]` → `[b, c, z/2, y/2, x/2]` (`z` kept for 2-D; odd extents floor).
pub fn max_pool2(x: Tensor<5>, dims: SpatialDims) -> Tensor<5> {
    pool2(x, dims, Reduce::Max)
}

/// 2×2×2 average pooling with stride 2 (2×2 in-plane when `dims` is 2-D).
///
/// Shapes as [`max_pool2`].
pub fn avg_pool2(x: Tensor<5>, dims: SpatialDims) -> Tensor<5> {
    pool2(x, dims, Reduce::Mean)
}

/// Global average over the spatial axes. Shapes: `[b, c, z, y, x]` → `[b, c]`.
pub fn global_avg_pool(x: Tensor<5>) -> Tensor<2> {
    let [b, c, d, h, w] = x.dims();
    x.reshape([b, c, d * h * w]).mean_dim(2).reshape([b, c])
}

/// Linear 2× up-sampling along one axis (`align_corners = false`, edge-clamped), the
/// separable factor of PyTorch's `interpolate(scale_factor=2, mode="trilinear")`.
fn upsample_axis(x: Tensor<5>, axis: usize) -> Tensor<5> {
    let n = x.dims()[axis];
    let (left, right) = if n == 1 {
        (x.clone(), x.clone())
    } else {
        let first = x.clone().narrow(axis, 0, 1);
        let last = x.clone().narrow(axis, n - 1, 1);
        (
            Tensor::cat(vec![first, x.clone().narrow(axis, 0, n - 1)], axis),
            Tensor::cat(vec![x.clone().narrow(axis, 1, n - 1), last], axis),
        )
    };
    let even = x.clone().mul_scalar(0.75) + left.mul_scalar(0.25);
    let odd = x.mul_scalar(0.75) + right.mul_scalar(0.25);
    // Interleave: stack on a new axis after `axis`, then merge the two.
    let mut shape = even.dims();
    let s: Tensor<6> = Tensor::stack(vec![even, odd], axis + 1);
    shape[axis] *= 2;
    s.reshape(shape)
}

/// Linear 2× up-sampling: trilinear for 3-D, bilinear in-plane for 2-D (PyTorch
/// `interpolate(scale_factor=2, align_corners=False)`).
///
/// Shapes: `[b, c, z, y, x]` → `[b, c, 2z, 2y, 2x]` (`z` kept for 2-D).
pub fn upsample2_linear(x: Tensor<5>, dims: SpatialDims) -> Tensor<5> {
    let x = upsample_axis(upsample_axis(x, 4), 3);
    match dims {
        SpatialDims::D3 => upsample_axis(x, 2),
        SpatialDims::D2 => x,
    }
}

/// Resamples `[b, c, z, y, x]` to another spatial size with linear interpolation
/// (`align_corners = false`, edge-clamped), by gather-based sampling ([`sample_at`]).
///
/// Shapes: `[b, c, z, y, x]` → `[b, c, size[0], size[1], size[2]]`.
pub fn resize_linear(x: Tensor<5>, size: [usize; 3]) -> Tensor<5> {
    let [b, _, d, h, w] = x.dims();
    if [d, h, w] == size {
        return x;
    }
    // Sample at output centres mapped into input index space (align_corners = false).
    let device = x.device();
    let map = |n_out: usize, n_in: usize| -> Vec<f32> {
        (0..n_out).map(|i| ((i as f32 + 0.5) * n_in as f32 / n_out as f32 - 0.5).max(0.0)).collect()
    };
    let (mz, my, mx) = (map(size[0], d), map(size[1], h), map(size[2], w));
    let n = size.iter().product::<usize>();
    let mut disp = vec![0f32; 3 * n];
    let mut p = 0;
    for &vz in &mz {
        for &vy in &my {
            for &vx in &mx {
                disp[p] = vx;
                disp[n + p] = vy;
                disp[2 * n + p] = vz;
                p += 1;
            }
        }
    }
    let coords =
        crate::bridge::tensor_from_vec(disp, [1, 3, size[0], size[1], size[2]], &device).repeat_dim(0, b);
    sample_at(x, coords, SpatialDims::of_shape([d, h, w]))
}

/// The identity sampling grid `[1, n, z, y, x]`: channel 0 holds x, 1 holds y, 2 holds z (2-D:
/// x and y only).
pub fn identity_grid(zyx: [usize; 3], dims: SpatialDims, device: &burn::tensor::Device) -> Tensor<5> {
    let [d, h, w] = zyx;
    let n = d * h * w;
    let k = dims.count();
    let mut v = vec![0f32; k * n];
    let mut p = 0;
    for z in 0..d {
        for y in 0..h {
            for x in 0..w {
                v[p] = x as f32;
                v[n + p] = y as f32;
                if k == 3 {
                    v[2 * n + p] = z as f32;
                }
                p += 1;
            }
        }
    }
    crate::bridge::tensor_from_vec(v, [1, k, d, h, w], device)
}

/// Samples `image` `[b, c, z, y, x]` at continuous voxel coordinates `coords`
/// `[b, k, z', y', x']` (channel 0 = x, 1 = y, 2 = z; `k = 2` for 2-D) with bilinear or
/// trilinear interpolation; coordinates outside are clamped to the border (border padding).
/// Differentiable with respect to both the image and the coordinates.
///
/// Shapes: → `[b, c, z', y', x']`.
#[allow(clippy::needless_range_loop)] // corner offsets and weights are indexed together
pub fn sample_at(image: Tensor<5>, coords: Tensor<5>, dims: SpatialDims) -> Tensor<5> {
    let [b, c, d, h, w] = image.dims();
    let [_, _, od, oh, ow] = coords.dims();
    let n_out = od * oh * ow;
    let flat = image.reshape([b, c, d * h * w]);
    // Per axis: clamped coordinate, lower corner (detached), fraction.
    let axis = |ch: usize, n: usize| -> (Tensor<3>, Tensor<3, Int>, Tensor<3>) {
        let p = coords.clone().narrow(1, ch, 1).reshape([b, 1, n_out]).clamp(0.0, (n - 1) as f32);
        if n == 1 {
            let zero = p.zeros_like();
            return (zero.clone(), zero.clone().int(), zero);
        }
        // The lower corner stops at n-2 so the upper one is in range; the fraction then
        // reaches 1 at the last voxel.
        let lo = p.clone().detach().floor().clamp(0.0, (n - 2) as f32);
        let f = p - lo.clone();
        (lo.clone(), lo.int(), f)
    };
    let (_, x0, fx) = axis(0, w);
    let (_, y0, fy) = axis(1, h);
    let three = dims == SpatialDims::D3 && d > 1;
    let (_, z0, fz) = if three {
        axis(2, d)
    } else {
        let z = fx.zeros_like();
        (z.clone(), z.clone().int(), z)
    };
    let (sx, sy, sz) = (1i64, w as i64, (w * h) as i64);
    let base = z0.mul_scalar(sz) + y0.mul_scalar(sy) + x0.mul_scalar(sx);
    let one = |t: &Tensor<3>| t.ones_like() - t.clone();
    let wx = [one(&fx), fx];
    let wy = [one(&fy), fy];
    let wz = [one(&fz), fz];
    let mut out: Option<Tensor<3>> = None;
    let zs: &[usize] = if three { &[0, 1] } else { &[0] };
    for &iz in zs {
        for iy in 0..2 {
            for ix in 0..2 {
                if (iy == 1 && h == 1) || (ix == 1 && w == 1) {
                    continue;
                }
                let off = iz as i64 * sz + iy as i64 * sy + ix as i64 * sx;
                let idx = base.clone().add_scalar(off).repeat_dim(1, c);
                let v = flat.clone().gather(2, idx);
                let mut wgt = wx[ix].clone() * wy[iy].clone();
                if three {
                    wgt = wgt * wz[iz].clone();
                }
                let term = v * wgt;
                out = Some(match out {
                    Some(o) => o + term,
                    None => term,
                });
            }
        }
    }
    out.unwrap_or_else(|| flat.narrow(2, 0, n_out)).reshape([b, c, od, oh, ow])
}

/// The spatial transformer (Jaderberg 2015, as used by Balakrishnan 2019 VoxelMorph): warps
/// `image` `[b, c, z, y, x]` by the displacement `disp` `[b, k, z, y, x]` in voxels
/// (channel 0 = x, 1 = y, 2 = z; `k = 2` for 2-D): `out(p) = image(p + disp(p))`, bilinear
/// or trilinear, border padding. Gradients reach both the image and the displacement.
pub fn warp(image: Tensor<5>, disp: Tensor<5>) -> Tensor<5> {
    let [_, _, d, h, w] = image.dims();
    let k = disp.dims()[1];
    let dims = if k == 3 { SpatialDims::D3 } else { SpatialDims::D2 };
    let grid = identity_grid([d, h, w], dims, &image.device());
    let coords = disp + grid;
    sample_at(image, coords, dims)
}

/// Scaling and squaring (Arsigny 2006; Dalca 2018): the displacement of the diffeomorphism
/// `exp(v)` of a stationary velocity field `v` `[b, k, z, y, x]` (voxels), with `steps`
/// squarings: `u ← v / 2^steps`, then `steps` times `u ← u + u ∘ (id + u)`.
pub fn integrate_velocity(velocity: Tensor<5>, steps: u32) -> Tensor<5> {
    let mut u = velocity.div_scalar(2f32.powi(steps as i32));
    for _ in 0..steps {
        u = u.clone() + warp(u.clone(), u);
    }
    u
}

/// The Gaussian importance map of a sliding window (nnU-Net, Isensee 2021): σ = size/8 per
/// axis, normalized to a maximum of 1 and floored at the smallest non-zero value so that
/// no voxel gets zero weight. `size` is `[z, y, x]`; the result is row-major.
pub fn gaussian_importance(size: [usize; 3]) -> Vec<f32> {
    let axis = |n: usize| -> Vec<f64> {
        let s = n as f64 / 8.0;
        let c = (n as f64 - 1.0) / 2.0;
        (0..n).map(|i| if s > 0.0 { (-(i as f64 - c).powi(2) / (2.0 * s * s)).exp() } else { 1.0 }).collect()
    };
    let (gz, gy, gx) = (axis(size[0]), axis(size[1]), axis(size[2]));
    let mut v = Vec::with_capacity(size.iter().product());
    for z in &gz {
        for y in &gy {
            for x in &gx {
                v.push((z * y * x) as f32);
            }
        }
    }
    let max = v.iter().cloned().fold(0.0f32, f32::max);
    if max > 0.0 {
        v.iter_mut().for_each(|x| *x /= max);
    }
    let min_pos = v.iter().cloned().filter(|&x| x > 0.0).fold(f32::INFINITY, f32::min);
    v.iter_mut().for_each(|x| {
        if *x <= 0.0 {
            *x = min_pos
        }
    });
    v
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bridge::{tensor_from_vec, tensor_to_vec};
    use burn::tensor::Device;

    fn ramp(shape: [usize; 5]) -> Tensor<5> {
        let n = shape.iter().product();
        tensor_from_vec((0..n).map(|i| i as f32).collect(), shape, &Device::flex())
    }

    #[test]
    fn pooling_takes_block_max_and_mean() {
        let x = ramp([1, 1, 2, 2, 4]);
        assert_eq!(tensor_to_vec(max_pool2(x.clone(), SpatialDims::D3)), vec![13.0, 15.0]);
        assert_eq!(tensor_to_vec(avg_pool2(x.clone(), SpatialDims::D3)), vec![6.5, 8.5]);
        let x2 = ramp([1, 1, 1, 2, 4]);
        assert_eq!(tensor_to_vec(max_pool2(x2, SpatialDims::D2)), vec![5.0, 7.0]);
        assert_eq!(global_avg_pool(x).dims(), [1, 1]);
    }

    #[test]
    fn upsampling_matches_pytorch_align_corners_false() {
        // torch.nn.functional.interpolate(torch.tensor([[[0., 1., 2.]]]), scale_factor=2,
        // mode="linear") = [0, 0.25, 0.75, 1.25, 1.75, 2].
        let x = ramp([1, 1, 1, 1, 3]);
        let y = upsample2_linear(x, SpatialDims::D2);
        // 2-D doubles y too: the single row is repeated (edge clamp).
        let row = vec![0.0, 0.25, 0.75, 1.25, 1.75, 2.0];
        assert_eq!(tensor_to_vec(y), [row.clone(), row].concat());
    }

    #[test]
    fn warp_by_constant_shift_moves_the_image() {
        let x = ramp([1, 1, 2, 3, 4]); // value = 12 z + 4 y + x
        let dev = Device::flex();
        let n = 24;
        let mut d = vec![0f32; 3 * n];
        d[..n].iter_mut().for_each(|v| *v = 0.5); // half a voxel along x
        d[2 * n..].iter_mut().for_each(|v| *v = 1.0); // one voxel along z
        let disp = tensor_from_vec(d, [1, 3, 2, 3, 4], &dev);
        let out = tensor_to_vec(warp(x, disp));
        // Voxel (x=1, y=2, z=0) samples (1.5, 2, 1): 12 + 8 + 1.5.
        assert!((out[2 * 4 + 1] - 21.5).abs() < 1e-5, "{}", out[9]);
        // Border: x = 3.5 clamps to 3.
        assert!((out[3] - 15.0).abs() < 1e-5);
    }

    #[test]
    fn gaussian_importance_peaks_in_the_centre() {
        let g = gaussian_importance([1, 5, 5]);
        assert_eq!(g[12], 1.0);
        assert!(g.iter().all(|&v| v > 0.0 && v <= 1.0));
        assert!(g[0] < g[6]);
    }
}
