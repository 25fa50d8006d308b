//! The evaluation core shared by every parametric registration: fixed-image samples, the
//! mapping of samples through the transform, the metric, and the chain rule from the
//! metric's per-sample derivatives to parameter gradients.

use hounsfield_core::linalg::{self, Mat3, Vec3};
use hounsfield_core::{Affine3, Volume};
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;

use crate::error::RegisterError;
use crate::image::{MaskImage, MovingImage};
use crate::metric::{MetricInput, SimilarityMetric};
use crate::transform::{BSplineTransform, LinearTransform};

/// Fixed-image sample points (world) and values.
#[derive(Clone, Debug, Default)]
pub(crate) struct Samples {
    pub points: Vec<Vec3>,
    pub fixed: Vec<f32>,
    /// In the fixed mask (always true except for a whole grid with a mask).
    pub in_mask: Vec<bool>,
    /// Set when the samples are every voxel of a grid (x-fastest).
    pub grid: Option<[usize; 3]>,
}

impl Samples {
    /// Every voxel of `fixed` (for local metrics and small images).
    pub(crate) fn whole_grid(fixed: &Volume<f32>, mask: Option<&Volume<u8>>) -> Self {
        let i2w = fixed.geometry().index_to_world_affine();
        let [nx, ny, _] = fixed.dims();
        let points = (0..fixed.len())
            .into_par_iter()
            .map(|o| i2w.apply([(o % nx) as f64, ((o / nx) % ny) as f64, (o / (nx * ny)) as f64]))
            .collect();
        let in_mask = match mask {
            Some(m) => m.data().iter().map(|&v| v != 0).collect(),
            None => vec![true; fixed.len()],
        };
        Self { points, fixed: fixed.data().to_vec(), in_mask, grid: Some(fixed.dims()) }
    }

    /// Voxels `offsets` of `fixed`.
    pub(crate) fn at(fixed: &Volume<f32>, offsets: &[u32]) -> Self {
        let i2w = fixed.geometry().index_to_world_affine();
        let [nx, ny, _] = fixed.dims();
        let points = offsets
            .iter()
            .map(|&o| {
                let o = o as usize;
                i2w.apply([(o % nx) as f64, ((o / nx) % ny) as f64, (o / (nx * ny)) as f64])
            })
            .collect();
        let values = offsets.iter().map(|&o| fixed.data()[o as usize]).collect();
        Self { points, fixed: values, in_mask: vec![true; offsets.len()], grid: None }
    }

    /// `count` voxels drawn uniformly (with replacement) from `pool`.
    pub(crate) fn random(fixed: &Volume<f32>, pool: &[u32], count: usize, rng: &mut ChaCha8Rng) -> Self {
        let picks: Vec<u32> = (0..count).map(|_| pool[rng.gen_range(0..pool.len())]).collect();
        Self::at(fixed, &picks)
    }

    pub(crate) fn len(&self) -> usize {
        self.points.len()
    }

    /// Keeps the samples that `map` sends inside the moving image (a whole grid keeps its
    /// voxels and marks the others as outside the mask).
    pub(crate) fn retain_inside(&mut self, inside: impl Fn(Vec3) -> bool + Sync) {
        let keep: Vec<bool> =
            self.points.par_iter().zip(self.in_mask.par_iter()).map(|(p, &m)| m && inside(*p)).collect();
        if self.grid.is_some() {
            self.in_mask = keep;
            return;
        }
        let mut k = keep.iter();
        self.points.retain(|_| *k.next().unwrap_or(&false));
        let mut k = keep.iter();
        self.fixed.retain(|_| *k.next().unwrap_or(&false));
        self.in_mask = vec![true; self.points.len()];
    }
}

/// The voxel offsets of `fixed` inside `mask` (all voxels without one).
pub(crate) fn sample_pool(fixed: &Volume<f32>, mask: Option<&Volume<u8>>) -> Result<Vec<u32>, RegisterError> {
    if fixed.len() > u32::MAX as usize {
        return Err(crate::error::invalid("fixed image", "more than 2^32 voxels"));
    }
    let pool: Vec<u32> = match mask {
        Some(m) => (0..fixed.len() as u32).filter(|&o| m.data()[o as usize] != 0).collect(),
        None => (0..fixed.len() as u32).collect(),
    };
    if pool.is_empty() {
        return Err(RegisterError::EmptyMask { which: "fixed", detail: " on the fixed image's grid".into() });
    }
    Ok(pool)
}

/// The transform being optimized.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Model<'a> {
    Linear(&'a LinearTransform),
    BSpline(&'a BSplineTransform),
}

impl Model<'_> {
    #[inline]
    pub(crate) fn map(&self, p: Vec3) -> Vec3 {
        use hounsfield_core::Transform;
        match self {
            Model::Linear(t) => t.transform_point(p),
            Model::BSpline(t) => t.transform_point(p),
        }
    }
}

/// Everything but the transform and the samples: moving image, mask, a fixed affine applied
/// after the optimized transform (`outer ∘ T`), and the metric.
pub(crate) struct Problem<'a> {
    pub moving: &'a MovingImage,
    /// Extend the moving image beyond its border (samples never become invalid, so the cost
    /// is continuous): used once the samples have been restricted to those mapping inside.
    pub extend: bool,
    pub moving_mask: Option<&'a MaskImage>,
    pub outer: Affine3,
    pub metric: &'a dyn SimilarityMetric,
}

/// One evaluation's outcome.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Evaluation {
    pub value: f64,
}

/// Fewest valid samples a metric is computed from: 1 % of the samples, at least 16.
pub(crate) fn required_samples(total: usize) -> usize {
    (total / 100).max(16).min(total)
}

impl Problem<'_> {
    /// The cost at `model` over `samples`, and its gradient with respect to the model's
    /// parameters written to `grad` when given.
    pub(crate) fn evaluate(
        &self,
        model: Model<'_>,
        samples: &Samples,
        grad: Option<&mut [f64]>,
        when: &dyn Fn() -> String,
    ) -> Result<Evaluation, RegisterError> {
        let n = samples.len();
        let mut moving = vec![0f32; n];
        let mut mgrad = vec![[0f32; 3]; n];
        let mut valid = vec![false; n];
        const CH: usize = 2048;
        moving
            .par_chunks_mut(CH)
            .zip(mgrad.par_chunks_mut(CH))
            .zip(valid.par_chunks_mut(CH))
            .enumerate()
            .for_each(|(c, ((mv, mg), vd))| {
                for k in 0..mv.len() {
                    let i = c * CH + k;
                    if !samples.in_mask[i] {
                        continue;
                    }
                    let q = self.outer.apply(model.map(samples.points[i]));
                    if let Some(mm) = self.moving_mask {
                        if !mm.contains(q) {
                            continue;
                        }
                    }
                    if let Some((v, g)) = self.moving.sample(q, self.extend) {
                        mv[k] = v;
                        mg[k] = g;
                        vd[k] = true;
                    }
                }
            });
        let nvalid = valid.iter().filter(|&&v| v).count();
        let required = required_samples(samples.in_mask.iter().filter(|&&v| v).count());
        if nvalid < required {
            return Err(RegisterError::NoOverlap { when: when(), valid: nvalid, total: n, required });
        }
        let input = MetricInput { fixed: &samples.fixed, moving: &moving, valid: &valid, grid: samples.grid };
        let Some(grad) = grad else {
            let value = self.metric.evaluate(&input, None)?;
            return Ok(Evaluation { value });
        };
        let mut deriv = vec![0f64; n];
        let value = self.metric.evaluate(&input, Some(&mut deriv))?;
        grad.iter_mut().for_each(|g| *g = 0.0);
        // v_i = ∂C/∂m_i · Aᵀ ∇m_i (A: the outer affine's linear part).
        let at = linalg::transpose(&self.outer.m);
        let v_of = |i: usize| -> Option<Vec3> {
            if !valid[i] || deriv[i] == 0.0 {
                return None;
            }
            let g = mgrad[i].map(|x| x as f64);
            Some(linalg::mat_vec(&at, g).map(|x| x * deriv[i]))
        };
        match model {
            Model::Linear(t) => {
                let c = t.center();
                let (s_vq, s_v) = (0..n)
                    .into_par_iter()
                    .with_min_len(CH)
                    .fold(
                        || ([[0.0f64; 3]; 3], [0.0f64; 3]),
                        |(mut m, mut s), i| {
                            if let Some(v) = v_of(i) {
                                let q = linalg::sub(samples.points[i], c);
                                for r in 0..3 {
                                    for k in 0..3 {
                                        m[r][k] += v[r] * q[k];
                                    }
                                    s[r] += v[r];
                                }
                            }
                            (m, s)
                        },
                    )
                    .reduce(
                        || ([[0.0; 3]; 3], [0.0; 3]),
                        |(a, b), (c2, d)| {
                            let mut m: Mat3 = a;
                            for r in 0..3 {
                                for k in 0..3 {
                                    m[r][k] += c2[r][k];
                                }
                            }
                            (m, linalg::add(b, d))
                        },
                    );
                for (g, (dm, dt)) in grad.iter_mut().zip(t.derivatives()) {
                    let mut s = linalg::dot(dt, s_v);
                    for r in 0..3 {
                        for k in 0..3 {
                            s += dm[r][k] * s_vq[r][k];
                        }
                    }
                    *g = s;
                }
            }
            Model::BSpline(t) => {
                let np = grad.len();
                let chunks = (4 * rayon::current_num_threads()).max(1);
                let per = n.div_ceil(chunks).max(1);
                let partial: Vec<Vec<f64>> = (0..chunks)
                    .into_par_iter()
                    .map(|c| {
                        let mut local = vec![0.0f64; np];
                        for i in c * per..((c + 1) * per).min(n) {
                            if let Some(v) = v_of(i) {
                                if let Some(s) = t.support(samples.points[i]) {
                                    t.add_jacobian_transpose_at(&s, v, &mut local);
                                }
                            }
                        }
                        local
                    })
                    .collect();
                for p in partial {
                    grad.iter_mut().zip(&p).for_each(|(g, x)| *g += x);
                }
            }
        }
        if !value.is_finite() || grad.iter().any(|g| !g.is_finite()) {
            return Err(RegisterError::Diverged {
                when: when(),
                reason: "the metric or its gradient is not finite".into(),
            });
        }
        Ok(Evaluation { value })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    type EvalFn<'a> = dyn Fn(&[f64], Option<&mut [f64]>) -> f64 + 'a;
    use crate::metric::{MattesMutualInformation, MeanSquares};
    use crate::transform::{LinearKind, ParametricTransform};
    use hounsfield_core::Geometry;

    fn blob(dims: [usize; 3], g: Geometry, c: Vec3) -> Volume<f32> {
        let mut v = Volume::<f32>::zeros(dims, g).unwrap();
        for k in 0..dims[2] {
            for j in 0..dims[1] {
                for i in 0..dims[0] {
                    let p = g.index_to_world([i as f64, j as f64, k as f64]);
                    let r2 = (p[0] - c[0]).powi(2) / 40.0
                        + (p[1] - c[1]).powi(2) / 25.0
                        + (p[2] - c[2]).powi(2) / 30.0;
                    *v.get_mut(i, j, k).unwrap() = (100.0 * (-r2).exp() + 0.02 * p[0] * p[1]) as f32;
                }
            }
        }
        v
    }

    /// The analytic parameter gradient of every model and metric equals finite differences of
    /// the cost.
    #[test]
    fn parameter_gradients_match_finite_differences() {
        let g = Geometry { origin: [-10.0, -9.0, -8.0], spacing: [1.0, 1.2, 1.1], ..Geometry::default() };
        let dims = [20, 16, 15];
        let fixed = blob(dims, g, [0.0, 0.0, 0.0]);
        // The moving image is a ramp on a larger grid: no sample leaves it (so the cost is
        // smooth in the parameters), and trilinear values and central-difference gradients
        // are both exact for a ramp, so the analytic gradient must equal the cost's
        // derivative (for other images the two differ by O(spacing·|∇²m|), as in ITK).
        let gm = Geometry { origin: [-15.63, -14.71, -13.37], ..g };
        let mut moving_vol = Volume::<f32>::zeros([32, 26, 26], gm).unwrap();
        for k in 0..26 {
            for j in 0..26 {
                for i in 0..32 {
                    let p = gm.index_to_world([i as f64, j as f64, k as f64]);
                    *moving_vol.get_mut(i, j, k).unwrap() =
                        (3.0 * p[0] - 2.0 * p[1] + 1.5 * p[2] + 40.0) as f32;
                }
            }
        }
        let moving = MovingImage::new(&moving_vol, crate::image::MovingInterpolation::Linear).unwrap();
        let samples = Samples::whole_grid(&fixed, None);
        let mi = MattesMutualInformation::new(
            24,
            crate::metric::finite_range(&fixed),
            crate::metric::finite_range(&moving_vol),
        )
        .unwrap();
        let metrics: [&dyn SimilarityMetric; 2] = [&MeanSquares, &mi];
        let outer =
            LinearTransform::euler3d([0.02, 0.0, -0.03], [0.2, 0.1, 0.0], [0.0; 3]).unwrap().to_affine3();
        for metric in metrics {
            let problem = Problem { moving: &moving, extend: false, moving_mask: None, outer, metric };
            let lin = LinearTransform::new(
                LinearKind::Affine3D,
                vec![1.01, 0.02, 0.0, -0.01, 0.98, 0.0, 0.0, 0.01, 1.0, 0.3, -0.2, 0.1],
                [0.5, 0.0, 0.0],
            )
            .unwrap();
            let mut bs = BSplineTransform::for_image(dims, &g, 6.0).unwrap();
            let np = bs.num_parameters();
            let c: Vec<f64> = (0..np).map(|i| ((i * 31 % 17) as f64 - 8.0) * 0.05).collect();
            bs.set_parameters(&c).unwrap();
            let check = |params: Vec<f64>, eval: &EvalFn<'_>, tol: f64, h: f64| {
                let mut grad = vec![0.0; params.len()];
                eval(&params, Some(&mut grad));
                let scale = grad.iter().fold(0.0f64, |a, g| a.max(g.abs()));
                for j in (0..params.len()).step_by((params.len() / 12).max(1)) {
                    let mut p = params.clone();
                    p[j] += h;
                    let cp = eval(&p, None);
                    p[j] -= 2.0 * h;
                    let cm = eval(&p, None);
                    let fd = (cp - cm) / (2.0 * h);
                    assert!(
                        (fd - grad[j]).abs() <= tol * scale,
                        "{} param {j}: fd {fd} vs {}",
                        metric.name(),
                        grad[j]
                    );
                }
            };
            let eval_lin = |p: &[f64], g: Option<&mut [f64]>| {
                let mut t = lin.clone();
                t.set_parameters(p).unwrap();
                problem.evaluate(Model::Linear(&t), &samples, g, &|| "test".into()).unwrap().value
            };
            // 2e-3 of the largest component: central differences (h² terms) of a cost summed in
            // f64 over f32 interpolated values.
            check(lin.parameters().to_vec(), &eval_lin, 2e-3, 1e-4);
            let eval_bs = |p: &[f64], g: Option<&mut [f64]>| {
                let mut t = bs.clone();
                t.set_parameters(p).unwrap();
                problem.evaluate(Model::BSpline(&t), &samples, g, &|| "test".into()).unwrap().value
            };
            check(c.clone(), &eval_bs, 2e-3, 1e-3);
        }
    }
}
