//! CT and X-ray: geometries, projectors, FBP/FDK, iterative and regularized reconstruction, DRR. (Stub.)
