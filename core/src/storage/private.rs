//! Files only their owner can read: a data directory holds message text, the search index and
//! the key that opens every secret, so it is `0700` and each file in it `0600` from the moment
//! it exists — not after a umask has let another account on the machine read it.
//!
//! SQLite gives the write-ahead log and shared-memory files the mode of their database, so a
//! database created here private stays private with everything beside it. Elsewhere than Unix
//! the per-user application directories already keep other accounts out.

use std::fs::{File, OpenOptions};
use std::path::Path;

/// Creates `dir` (and its parents) if needed and makes it owner-only.
pub fn dir(dir: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    set_mode(dir, 0o700)
}

/// Opens (creating owner-only if needed) a file to write, such as a lock file.
pub fn open_file(path: &Path) -> std::io::Result<File> {
    let mut opts = OpenOptions::new();
    opts.create(true).truncate(false).write(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
    let f = opts.open(path)?;
    set_mode(path, 0o600)?;
    Ok(f)
}

/// Makes a SQLite database and the files SQLite keeps beside it owner-only, creating the
/// database file empty if it does not exist yet.
pub fn database(db: &Path) -> std::io::Result<()> {
    drop(open_file(db)?);
    for suffix in ["-wal", "-shm", "-journal"] {
        let mut p = db.as_os_str().to_owned();
        p.push(suffix);
        let p = std::path::PathBuf::from(p);
        if p.exists() {
            set_mode(&p, 0o600)?;
        }
    }
    Ok(())
}

#[cfg(unix)]
fn set_mode(path: &Path, mode: u32) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
}

#[cfg(not(unix))]
fn set_mode(_: &Path, _: u32) -> std::io::Result<()> {
    Ok(())
}
