//! Autodiff against central finite differences.

use hounsfield_nn::bridge::{tensor_from_vec, tensor_to_vec};
use hounsfield_nn::loss;
use hounsfield_nn::ops::{integrate_velocity, warp};
use hounsfield_nn::Device;

fn values(n: usize, seed: u64, lo: f32, hi: f32) -> Vec<f32> {
    // A small LCG: deterministic, no RNG dependency for the test data.
    let mut s = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
    (0..n)
        .map(|_| {
            s = s.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            lo + (hi - lo) * ((s >> 33) as f32 / (1u64 << 31) as f32)
        })
        .collect()
}

/// Warp of a 3-D image: gradient to the image and to the displacement.
#[test]
fn spatial_transformer_gradients_match_finite_differences() {
    let cpu = Device::flex();
    let ad = cpu.clone().autodiff();
    let shape = [1, 1, 4, 5, 6];
    let n = 120;
    let img = values(n, 1, -1.0, 1.0);
    // Displacements with fractional parts in [0.2, 0.8]: away from cell boundaries, where
    // linear interpolation is not differentiable.
    let disp: Vec<f32> = values(3 * n, 2, 0.2, 0.8)
        .iter()
        .zip(values(3 * n, 3, -1.0, 1.0))
        .map(|(f, s)| f + s.round())
        .collect();
    let r = values(n, 4, -1.0, 1.0);
    let f = |img: &[f32], disp: &[f32]| -> f64 {
        let out = tensor_to_vec(warp(
            tensor_from_vec(img.to_vec(), shape, &cpu),
            tensor_from_vec(disp.to_vec(), [1, 3, 4, 5, 6], &cpu),
        ));
        out.iter().zip(&r).map(|(a, b)| (*a as f64) * (*b as f64)).sum()
    };
    let ti = tensor_from_vec(img.clone(), shape, &ad).require_grad();
    let td = tensor_from_vec(disp.clone(), [1, 3, 4, 5, 6], &ad).require_grad();
    let loss = (warp(ti.clone(), td.clone()) * tensor_from_vec(r.clone(), shape, &ad)).sum();
    let g = loss.backward();
    let gi = tensor_to_vec(ti.grad(&g).unwrap());
    let gd = tensor_to_vec(td.grad(&g).unwrap());
    let eps = 1e-2f32;
    for &k in &[0usize, 17, 59, 119] {
        let (mut a, mut b) = (img.clone(), img.clone());
        a[k] += eps;
        b[k] -= eps;
        let fd = (f(&a, &disp) - f(&b, &disp)) / (2.0 * eps as f64);
        // The warp is linear in the image: only f32 rounding of ~120-term sums (≈1e-5
        // relative, over 2·eps) separates the two.
        assert!((fd - gi[k] as f64).abs() < 2e-3, "image grad {k}: fd {fd} vs {}", gi[k]);
    }
    for &k in &[3usize, 130, 250, 359] {
        let (mut a, mut b) = (disp.clone(), disp.clone());
        a[k] += eps;
        b[k] -= eps;
        let fd = (f(&img, &a) - f(&img, &b)) / (2.0 * eps as f64);
        // Piecewise linear in the displacement and eps keeps the sample inside its cell
        // (fractions in [0.2, 0.8]), so only f32 rounding remains.
        assert!((fd - gd[k] as f64).abs() < 5e-3, "displacement grad {k}: fd {fd} vs {}", gd[k]);
    }
}

/// Scaling and squaring: the integrated field of a small constant velocity is that velocity
/// (a translation is its own exponential), and gradients flow to the velocity.
#[test]
fn scaling_and_squaring_of_a_translation_is_the_translation() {
    let ad = Device::flex().autodiff();
    let v = tensor_from_vec(vec![0.3f32; 3 * 64], [1, 3, 4, 4, 4], &ad).require_grad();
    let u = integrate_velocity(v.clone(), 5);
    let vals = tensor_to_vec(u.clone());
    // Border clamping only matters where p + u leaves the grid: the first 3 voxels of each
    // axis line stay exact. 1e-5: f32 arithmetic over 5 squarings.
    assert!((vals[0] - 0.3).abs() < 1e-5, "{}", vals[0]);
    let g = u.sum().backward();
    let gv = tensor_to_vec(v.grad(&g).unwrap());
    assert!(gv.iter().all(|x| x.is_finite()) && gv.iter().any(|&x| x != 0.0));
}

/// Local NCC and the Jacobian penalty have finite, non-zero gradients where they should.
#[test]
fn loss_gradients_are_finite() {
    let ad = Device::flex().autodiff();
    let a = tensor_from_vec(values(512, 5, 0.0, 1.0), [1, 1, 8, 8, 8], &ad).require_grad();
    let b = tensor_from_vec(values(512, 6, 0.0, 1.0), [1, 1, 8, 8, 8], &ad);
    let g = loss::local_ncc(a.clone(), b, 5).backward();
    let ga = tensor_to_vec(a.grad(&g).unwrap());
    assert!(ga.iter().all(|x| x.is_finite()) && ga.iter().any(|&x| x != 0.0));
    let u = tensor_from_vec(values(3 * 512, 7, -2.0, 2.0), [1, 3, 8, 8, 8], &ad).require_grad();
    let g = loss::jacobian_folding(u.clone()).backward();
    let gu = tensor_to_vec(u.grad(&g).unwrap());
    assert!(gu.iter().all(|x| x.is_finite()) && gu.iter().any(|&x| x != 0.0));
}
