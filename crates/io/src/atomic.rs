//! Atomic output: every writer writes to a temporary file beside the target and renames it
//! into place, so a failed or interrupted write never leaves a partial file under the
//! target's name.

use std::fs;
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

/// A temporary path in the same directory as `target` (same filesystem, so the final rename
/// is atomic).
pub fn temp_path_for(target: &Path) -> PathBuf {
    let name = target.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let nonce = std::process::id() as u64
        ^ (std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(0));
    target.with_file_name(format!(".{name}.{nonce:x}.tmp"))
}

/// Writes a file atomically: `write` fills a buffered writer on a temporary file, which is
/// flushed, synced and renamed to `target` only when `write` succeeds. On error the temporary
/// file is removed and `target` is untouched.
pub fn write_atomic<E, F>(target: &Path, write: F) -> Result<(), E>
where
    E: From<io::Error>,
    F: FnOnce(&mut BufWriter<fs::File>) -> Result<(), E>,
{
    let tmp = temp_path_for(target);
    let result = (|| {
        let file = fs::File::create(&tmp)?;
        let mut w = BufWriter::with_capacity(1 << 20, file);
        write(&mut w)?;
        w.flush()?;
        let file = w.into_inner().map_err(|e| e.into_error())?;
        file.sync_all()?;
        drop(file);
        fs::rename(&tmp, target)?;
        Ok(())
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

/// Writes `bytes` to `target` atomically (see [`write_atomic`]).
pub fn write_bytes(target: &Path, bytes: &[u8]) -> io::Result<()> {
    write_atomic(target, |w| w.write_all(bytes))
}

/// Writes a directory atomically: `write` fills a fresh temporary directory beside `target`,
/// which is renamed to `target` when `write` succeeds. `target` must not exist, or must be an
/// empty directory (which is replaced).
pub fn write_dir_atomic<E, F>(target: &Path, write: F) -> Result<(), E>
where
    E: From<io::Error>,
    F: FnOnce(&Path) -> Result<(), E>,
{
    if target.exists() {
        let empty = fs::read_dir(target)?.next().is_none();
        if !empty {
            return Err(io::Error::new(
                io::ErrorKind::AlreadyExists,
                format!("output directory is not empty: {}", target.display()),
            )
            .into());
        }
    }
    let tmp = temp_path_for(target);
    fs::create_dir_all(&tmp)?;
    let result = (|| {
        write(&tmp)?;
        if target.exists() {
            fs::remove_dir(target)?;
        }
        fs::rename(&tmp, target)?;
        Ok(())
    })();
    if result.is_err() {
        let _ = fs::remove_dir_all(&tmp);
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failed_write_leaves_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("out.bin");
        let r: Result<(), io::Error> = write_atomic(&target, |w| {
            w.write_all(b"partial")?;
            Err(io::Error::other("boom"))
        });
        assert!(r.is_err());
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 0);
        write_atomic::<io::Error, _>(&target, |w| w.write_all(b"whole")).unwrap();
        assert_eq!(fs::read(&target).unwrap(), b"whole");
    }

    #[test]
    fn failed_dir_write_leaves_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("series");
        let r: Result<(), io::Error> = write_dir_atomic(&target, |d| {
            fs::write(d.join("a"), b"x")?;
            Err(io::Error::other("boom"))
        });
        assert!(r.is_err());
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 0);
    }
}
