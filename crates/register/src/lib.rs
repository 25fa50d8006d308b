//! Registration: transforms, similarity metrics, optimizers, rigid/affine, B-spline, diffeomorphic, learned.
