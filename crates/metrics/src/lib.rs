//! Evaluation in physical units: Dice, IoU, HD95, ASSD, NSD, PSNR, SSIM, MAE, TRE, Jacobian statistics, ultrasound FWHM/CR/CNR, ROC/AUC, calibration.
//!
//! Every metric is documented once here and used everywhere else; distances are in mm (the
//! images' spacing and direction are used, never voxel counts).
//!
//! | module | metrics |
//! |---|---|
//! | [`image`] | MAE, MSE, RMSE, PSNR (data range stated), SSIM (scikit-image's Gaussian-window definition) |
//! | [`segmentation`] | Dice, IoU, precision, recall, HD, HD95, ASSD, NSD and volumes per label (MONAI's definitions and empty-mask conventions) |
//! | [`registration`] | TRE on landmarks, Jacobian determinant map and folding fraction |
//! | [`ultrasound`] | PICMUS image quality: FWHM of point targets, contrast ratio and CNR of cysts, speckle SNR |
//!
//! ```
//! use hounsfield_core::{Geometry, Volume};
//! use hounsfield_metrics::image::{psnr, DataRange};
//!
//! let a = Volume::from_vec([2, 1, 1], Geometry::default(), vec![0.0f32, 1.0]).unwrap();
//! let b = Volume::from_vec([2, 1, 1], Geometry::default(), vec![0.0f32, 0.9]).unwrap();
//! let db = psnr(&b, &a, DataRange::Fixed(1.0), None).unwrap();
//! assert!((db - 23.0103).abs() < 1e-3);
//! ```

pub mod image;
pub mod registration;
pub mod segmentation;
pub mod ultrasound;

/// Why a metric could not be computed.
#[derive(Debug, thiserror::Error)]
pub enum MetricsError {
    /// The images are not on the same grid.
    #[error(transparent)]
    Grid(#[from] hounsfield_core::CoreError),
    /// Nothing to measure.
    #[error("nothing to measure: {0}")]
    Empty(&'static str),
    /// A parameter outside its valid range.
    #[error("invalid parameter `{name}`: {reason}")]
    InvalidParameter {
        /// The parameter.
        name: &'static str,
        /// What is wrong.
        reason: String,
    },
    /// A label asked for (or found on one side only) is missing.
    #[error("label {label} is missing from the {side}")]
    LabelMissing {
        /// The label.
        label: u16,
        /// Which side lacks it.
        side: &'static str,
    },
    /// An input holds NaN or infinity where the metric cannot skip it.
    #[error("non-finite input values for {0}")]
    NonFinite(&'static str),
}
