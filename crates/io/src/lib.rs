//! Every file format at the boundary: DICOM series and objects (read; SEG, SC, SR write), NIfTI, NRRD, MetaImage, PNG, BART cfl, fastMRI/ISMRMRD HDF5 k-space. The only place where a file's frame (RAS, pixel order) is converted to LPS.
//!
//! Readers return an [`AnyVolume`] in the LPS frame (mm) whatever the file's own convention;
//! writers convert back. [`read_image`] and [`write_image`] pick the format from the path
//! ([`Format::detect`] sniffs the content when the extension says nothing). Every writer
//! writes to a temporary name and renames ([`atomic`]), so a failed write leaves no partial
//! file. Every reader checks declared sizes against the memory cap
//! ([`hounsfield_core::check_alloc`]) before allocating.
//!
//! | format | read | write | module |
//! |---|---|---|---|
//! | DICOM series / single file / multi-frame | yes | series (CT, MR, OT) | [`dicom`] |
//! | NIfTI-1 `.nii`, `.nii.gz` | yes | yes | [`nifti`] |
//! | NIfTI-2 | yes | no | [`nifti`] |
//! | NRRD `.nrrd`, `.nhdr` (raw, gzip) | yes | yes | [`nrrd`] |
//! | MetaImage `.mha`, `.mhd` (raw, zlib) | yes | yes | [`metaimage`] |
//! | PNG, JPEG (2-D) | yes | PNG | [`raster`] |
//! | BART `.cfl/.hdr` (complex, up to 16 dims; not an [`AnyVolume`]) | [`cfl::read`] | [`cfl::write`] | [`cfl`] |
//! | fastMRI / ISMRMRD HDF5 k-space `.h5` (not an [`AnyVolume`]) | [`fastmri::read`] | no | [`fastmri`] |
//! | DICOM Segmentation (SEG, binary, from a label map or overlapping masks) | no | [`seg::write_dicom_seg`], [`seg::write_dicom_seg_masks`] | [`seg`] |
//! | binary STL surface mesh (LPS, mm; from [`hounsfield_imgproc::mesh`]) | no | [`stl::write`] | [`stl`] |
//!
//! ```no_run
//! use hounsfield_io::{read_image, write_image, ReadOptions, WriteOptions};
//!
//! let img = read_image("ct_series/".as_ref(), &ReadOptions::default())?;
//! write_image("ct.nii.gz".as_ref(), &img.volume, &WriteOptions::default())?;
//! # Ok::<(), hounsfield_io::IoError>(())
//! ```

pub mod atomic;
pub mod cfl;
pub mod dicom;
pub mod error;
pub mod fastmri;
pub mod itk_transform;
pub mod metaimage;
pub mod nifti;
pub mod nrrd;
pub mod raster;
pub mod seg;
pub mod stl;

use std::io::Read;
use std::path::{Path, PathBuf};

pub use error::IoError;
/// Re-exported so fuzz targets and tools can lower the cap without depending on core.
pub use hounsfield_core::set_memory_cap;
use hounsfield_core::AnyVolume;

/// The image file formats Hounsfield knows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// A DICOM file, or a folder of DICOM files.
    Dicom,
    /// NIfTI-1/2, plain or gzip-compressed.
    Nifti,
    /// NRRD, attached or detached header.
    Nrrd,
    /// MetaImage, `.mha` or `.mhd`.
    MetaImage,
    /// PNG.
    Png,
    /// JPEG.
    Jpeg,
}

impl Format {
    /// Display name.
    pub fn name(self) -> &'static str {
        match self {
            Format::Dicom => "DICOM",
            Format::Nifti => "NIfTI",
            Format::Nrrd => "NRRD",
            Format::MetaImage => "MetaImage",
            Format::Png => "PNG",
            Format::Jpeg => "JPEG",
        }
    }

    /// The format an output path asks for, from its extension; a path without an extension
    /// (or ending in a separator) is a DICOM series folder.
    pub fn for_output(path: &Path) -> Result<Format, IoError> {
        if let Some(f) = Self::from_extension(path) {
            return Ok(f);
        }
        let s = path.to_string_lossy();
        if s.ends_with('/') || path.extension().is_none() || path.is_dir() {
            return Ok(Format::Dicom);
        }
        Err(IoError::UnknownFormat(path.to_path_buf()))
    }

    /// The format named by the extension alone, if any.
    pub fn from_extension(path: &Path) -> Option<Format> {
        let name = path.file_name()?.to_string_lossy().to_ascii_lowercase();
        let ends = |e: &str| name.ends_with(e);
        if ends(".nii") || ends(".nii.gz") {
            Some(Format::Nifti)
        } else if ends(".nrrd") || ends(".nhdr") {
            Some(Format::Nrrd)
        } else if ends(".mha") || ends(".mhd") {
            Some(Format::MetaImage)
        } else if ends(".png") {
            Some(Format::Png)
        } else if ends(".jpg") || ends(".jpeg") {
            Some(Format::Jpeg)
        } else if ends(".dcm") || ends(".dicom") {
            Some(Format::Dicom)
        } else {
            None
        }
    }

    /// The format of an existing path: a directory is DICOM; a file is recognised by its
    /// extension, else by its first bytes.
    pub fn detect(path: &Path) -> Result<Format, IoError> {
        let meta = std::fs::metadata(path).map_err(|source| IoError::Fs {
            op: "open",
            path: path.into(),
            source,
        })?;
        if meta.is_dir() {
            return Ok(Format::Dicom);
        }
        if let Some(f) = Self::from_extension(path) {
            return Ok(f);
        }
        let mut head = Vec::with_capacity(544);
        std::fs::File::open(path)
            .and_then(|f| f.take(544).read_to_end(&mut head))
            .map_err(|source| IoError::Fs { op: "read", path: path.into(), source })?;
        Self::sniff(&head).ok_or_else(|| IoError::UnknownFormat(path.to_path_buf()))
    }

    /// Recognises a format from a file's first bytes (at least 132 for DICOM).
    pub fn sniff(head: &[u8]) -> Option<Format> {
        let le32 = |o: usize| head.get(o..o + 4).map(|b| i32::from_le_bytes([b[0], b[1], b[2], b[3]]));
        let be32 = |o: usize| head.get(o..o + 4).map(|b| i32::from_be_bytes([b[0], b[1], b[2], b[3]]));
        if head.get(128..132) == Some(b"DICM") {
            Some(Format::Dicom)
        } else if head.starts_with(b"NRRD") {
            Some(Format::Nrrd)
        } else if head.starts_with(b"\x89PNG") {
            Some(Format::Png)
        } else if head.starts_with(&[0xFF, 0xD8, 0xFF]) {
            Some(Format::Jpeg)
        } else if head.starts_with(&[0x1F, 0x8B]) {
            // Only NIfTI is stored as a whole-file gzip stream among our formats.
            Some(Format::Nifti)
        } else if matches!(le32(0), Some(348 | 540)) || matches!(be32(0), Some(348 | 540)) {
            Some(Format::Nifti)
        } else if head.starts_with(b"ObjectType") || head.starts_with(b"NDims") {
            Some(Format::MetaImage)
        } else {
            None
        }
    }
}

/// Options for [`read_image`].
#[derive(Clone, Debug, Default)]
pub struct ReadOptions {
    /// For a DICOM folder holding several series: the SeriesInstanceUID to read. Without it a
    /// folder with more than one series is an error that lists them.
    pub series_uid: Option<String>,
    /// DICOM-specific options.
    pub dicom: dicom::DicomReadOptions,
}

/// Options for [`write_image`].
#[derive(Clone, Debug, Default)]
pub struct WriteOptions {
    /// DICOM-specific options (modality, reference series, …).
    pub dicom: dicom::DicomWriteOptions,
}

/// An image as read from disk, with what the file said about it.
#[derive(Clone, Debug)]
pub struct LoadedImage {
    /// Voxels and LPS geometry.
    pub volume: AnyVolume,
    /// The file format.
    pub format: Format,
    /// DICOM modality when the file carries one.
    pub modality: Option<String>,
    /// For a DICOM folder: every series found (the one read is `series_uid`).
    pub series: Vec<dicom::SeriesInfo>,
}

/// Reads any supported image: a DICOM folder or file, NIfTI, NRRD, MetaImage, PNG or JPEG.
pub fn read_image(path: &Path, options: &ReadOptions) -> Result<LoadedImage, IoError> {
    let format = Format::detect(path)?;
    let plain = |volume: AnyVolume| LoadedImage { volume, format, modality: None, series: Vec::new() };
    Ok(match format {
        Format::Nifti => plain(nifti::read(path)?),
        Format::Nrrd => plain(nrrd::read(path)?),
        Format::MetaImage => plain(metaimage::read(path)?),
        Format::Png | Format::Jpeg => plain(raster::read(path)?),
        Format::Dicom if path.is_dir() => {
            let series = dicom::scan(path)?;
            let chosen = dicom::select_series(&series, options.series_uid.as_deref(), path)?;
            let v = dicom::read_series(chosen, &options.dicom)?;
            LoadedImage { volume: v.volume, format, modality: Some(v.modality), series }
        }
        Format::Dicom => {
            let v = dicom::read_file(path, &options.dicom)?;
            LoadedImage { volume: v.volume, format, modality: Some(v.modality), series: Vec::new() }
        }
    })
}

/// Writes a volume in the format the output path asks for (see [`Format::for_output`]).
pub fn write_image(path: &Path, volume: &AnyVolume, options: &WriteOptions) -> Result<(), IoError> {
    match Format::for_output(path)? {
        Format::Nifti => nifti::write(path, volume)?,
        Format::Nrrd => nrrd::write(path, volume)?,
        Format::MetaImage => metaimage::write(path, volume)?,
        Format::Png => raster::write_png_volume(path, volume)?,
        Format::Jpeg => {
            return Err(IoError::Unsupported { format: "JPEG", what: "written", path: PathBuf::from(path) })
        }
        Format::Dicom => dicom::write_series(path, volume, &options.dicom)?,
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_from_extensions() {
        assert_eq!(Format::for_output(Path::new("a/b.nii.gz")).unwrap(), Format::Nifti);
        assert_eq!(Format::for_output(Path::new("a/B.NRRD")).unwrap(), Format::Nrrd);
        assert_eq!(Format::for_output(Path::new("x.mhd")).unwrap(), Format::MetaImage);
        assert_eq!(Format::for_output(Path::new("out_series")).unwrap(), Format::Dicom);
        assert!(Format::for_output(Path::new("x.xyz")).is_err());
    }

    #[test]
    fn formats_from_magic() {
        let mut dcm = vec![0u8; 132];
        dcm[128..132].copy_from_slice(b"DICM");
        assert_eq!(Format::sniff(&dcm), Some(Format::Dicom));
        assert_eq!(Format::sniff(&348i32.to_le_bytes()), Some(Format::Nifti));
        assert_eq!(Format::sniff(b"NRRD0004\n"), Some(Format::Nrrd));
        assert_eq!(Format::sniff(b"hello"), None);
    }
}
