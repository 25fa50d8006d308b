//! Parallel iteration over all lines of a volume along one axis, the building block of
//! every separable operation here (B-spline prefilter, distance transform).
//!
//! Lines along x are contiguous and handed out directly. Lines along y and z are gathered
//! into a per-thread buffer, processed, and scattered back. For z the rows are first grouped
//! by y (safe disjoint borrows of every row), so one task owns all rows of one y and walks
//! its columns while they are still in cache.

use rayon::prelude::*;

/// Calls `f(state, line)` for every line of `data` (dims `dims`, x-fastest) along `axis`,
/// in parallel; `line` is contiguous and what `f` leaves in it is written back.
/// `init` makes one scratch state per task (no allocation per line).
pub(crate) fn for_each_line<T, S>(
    data: &mut [T],
    dims: [usize; 3],
    axis: usize,
    init: impl Fn() -> S + Sync + Send,
    f: impl Fn(&mut S, &mut [T]) + Sync + Send,
) where
    T: Copy + Send + Sync + Default,
{
    let [nx, ny, nz] = dims;
    match axis {
        0 => data.par_chunks_mut(nx).for_each_init(&init, |s, row| f(s, row)),
        1 => data.par_chunks_mut(nx * ny).for_each_init(
            || (init(), vec![T::default(); ny]),
            |(s, buf), slice| {
                for x in 0..nx {
                    for (y, b) in buf.iter_mut().enumerate() {
                        *b = slice[x + nx * y];
                    }
                    f(s, buf);
                    for (y, b) in buf.iter().enumerate() {
                        slice[x + nx * y] = *b;
                    }
                }
            },
        ),
        _ => {
            rows_by_y(data, dims).into_par_iter().for_each_init(
                || (init(), vec![T::default(); nz]),
                |(s, buf), mut rows: Vec<&mut [T]>| {
                    for x in 0..nx {
                        for (b, row) in buf.iter_mut().zip(rows.iter()) {
                            *b = row[x];
                        }
                        f(s, buf);
                        for (b, row) in buf.iter().zip(rows.iter_mut()) {
                            row[x] = *b;
                        }
                    }
                },
            );
        }
    }
}

/// Groups the rows (x-lines) of `data` by their y index: `result[y][z]` is row `(y, z)`.
pub(crate) fn rows_by_y<T>(data: &mut [T], dims: [usize; 3]) -> Vec<Vec<&mut [T]>> {
    let [nx, ny, nz] = dims;
    let mut by_y: Vec<Vec<&mut [T]>> = (0..ny).map(|_| Vec::with_capacity(nz)).collect();
    for slice in data.chunks_mut(nx * ny) {
        for (y, row) in slice.chunks_mut(nx).enumerate() {
            by_y[y].push(row);
        }
    }
    by_y
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_line_is_visited_once_in_order() {
        let dims = [4, 3, 5];
        for axis in 0..3 {
            let mut data: Vec<usize> = (0..60).collect();
            // Replace each line by its values minus its first value: 0, stride, 2·stride, ….
            for_each_line(
                &mut data,
                dims,
                axis,
                || (),
                |_, line| {
                    let first = line[0];
                    line.iter_mut().for_each(|v| *v -= first);
                },
            );
            let stride = [1, 4, 12][axis];
            for (i, v) in data.iter().enumerate() {
                let pos = (i / stride) % dims[axis];
                assert_eq!(*v, pos * stride, "axis {axis} voxel {i}");
            }
        }
    }
}
