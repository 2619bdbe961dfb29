//! Where chunks live: `blobs/<id>/manifest` and `blobs/<id>/<index>` in the data directory,
//! each file owner-only like everything else there.
//!
//! A file appears under its final name only whole: it is written beside it, synced, and renamed
//! over, so a crash leaves a chunk either complete or absent (a stray `.part` is removed the
//! next time that chunk is written). What is here is checked again when it is read (the
//! manifest against the id, a chunk against the manifest), so a damaged disk reads as a chunk
//! still missing, fetched again, never as a wrong photo.

use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use super::crypt::{self, MAX_CHUNK_BYTES};
use super::BlobId;

#[derive(Clone, Debug)]
pub struct Files {
    root: PathBuf,
}

impl Files {
    pub fn new(data_dir: &Path) -> Files {
        Files {
            root: data_dir.join("blobs"),
        }
    }

    fn dir(&self, id: &BlobId) -> PathBuf {
        self.root.join(id.to_string())
    }

    fn write(&self, id: &BlobId, name: &str, bytes: &[u8], durable: bool) -> std::io::Result<()> {
        let dir = self.dir(id);
        if !dir.exists() {
            crate::storage::private::dir(&self.root)?;
            crate::storage::private::dir(&dir)?;
        }
        let part = dir.join(format!("{name}.part"));
        let mut opts = OpenOptions::new();
        opts.create(true).truncate(true).write(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
        let mut f = opts.open(&part)?;
        f.write_all(bytes)?;
        if durable {
            f.sync_all()?;
        }
        std::fs::rename(&part, dir.join(name))
    }

    /// Moves a blob sealed under a staging name to its id (already there: the same bytes
    /// were sent before, and the staging copy goes).
    pub fn rename(&self, from: &BlobId, to: &BlobId) -> std::io::Result<()> {
        if self.dir(to).exists() {
            self.remove(to)?;
        }
        std::fs::rename(self.dir(from), self.dir(to))
    }

    /// Makes the renames of a blob's files durable (one directory sync for many chunks).
    pub fn sync(&self, id: &BlobId) -> std::io::Result<()> {
        File::open(self.dir(id))?.sync_all()?;
        File::open(&self.root)?.sync_all()
    }

    /// Writes the manifest, synced: with [`Files::sync`] after the last chunk, a sealed blob
    /// survives a crash (the sender's copy may be the only one).
    pub fn write_manifest(&self, id: &BlobId, manifest: &[u8]) -> std::io::Result<()> {
        self.write(id, "manifest", manifest, true)
    }

    /// Writes a chunk this device sealed, synced.
    pub fn write_chunk(&self, id: &BlobId, index: u32, bytes: &[u8]) -> std::io::Result<()> {
        self.write(id, &index.to_string(), bytes, true)
    }

    /// Writes a chunk fetched from someone, not synced: a chunk a crash loses or tears is
    /// found missing or wrong when read (`Node::open_blob`) and fetched again, so syncing each
    /// one would only slow every transfer down.
    pub fn write_fetched(&self, id: &BlobId, index: u32, bytes: &[u8]) -> std::io::Result<()> {
        self.write(id, &index.to_string(), bytes, false)
    }

    fn read(&self, id: &BlobId, name: &str, max: usize) -> std::io::Result<Option<Vec<u8>>> {
        let f = match File::open(self.dir(id).join(name)) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e),
        };
        let mut out = Vec::new();
        f.take(max as u64 + 1).read_to_end(&mut out)?;
        Ok((out.len() <= max).then_some(out))
    }

    /// The manifest, if it is here and is the one `id` names.
    pub fn manifest(&self, id: &BlobId, chunks: u32) -> std::io::Result<Option<Vec<u8>>> {
        Ok(self
            .read(id, "manifest", chunks as usize * 32)?
            .filter(|m| crypt::manifest_fits(id, chunks, m)))
    }

    /// Chunk `index` as stored, unchecked (the reader checks it against the manifest).
    pub fn chunk(&self, id: &BlobId, index: u32) -> std::io::Result<Option<Vec<u8>>> {
        self.read(id, &index.to_string(), MAX_CHUNK_BYTES)
    }

    /// Which chunks are here and whole, checked against the manifest.
    pub fn present(&self, id: &BlobId, manifest: &[u8], chunks: u32) -> Vec<u32> {
        (0..chunks)
            .filter(|&i| {
                self.chunk(id, i)
                    .ok()
                    .flatten()
                    .is_some_and(|c| crypt::chunk_fits(manifest, i, &c))
            })
            .collect()
    }

    /// Removes a blob's files (a message deleted for everyone, the last one naming it).
    pub fn remove(&self, id: &BlobId) -> std::io::Result<()> {
        match std::fs::remove_dir_all(self.dir(id)) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e),
            _ => Ok(()),
        }
    }

    /// Removes what no row names: blobs whose messages were deleted, and chunks of a send that
    /// crashed before its message was committed. Run at open, before anything is written.
    pub fn sweep(&self, keep: &std::collections::HashSet<BlobId>) -> std::io::Result<usize> {
        let entries = match std::fs::read_dir(&self.root) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(0),
            Err(e) => return Err(e),
        };
        let mut removed = 0;
        for e in entries.flatten() {
            let name = e.file_name();
            let id = name.to_str().and_then(|n| n.parse::<BlobId>().ok());
            match id {
                Some(id) if keep.contains(&id) => {
                    for f in std::fs::read_dir(e.path())?.flatten() {
                        if f.file_name().to_string_lossy().ends_with(".part") {
                            let _ = std::fs::remove_file(f.path());
                        }
                    }
                }
                _ => {
                    let p = e.path();
                    if p.is_dir() {
                        std::fs::remove_dir_all(p)?;
                    } else {
                        std::fs::remove_file(p)?;
                    }
                    removed += 1;
                }
            }
        }
        Ok(removed)
    }

    /// Bytes on disk for a blob (for the benchmarks' disk per photo).
    pub fn disk_bytes(&self, id: &BlobId) -> u64 {
        std::fs::read_dir(self.dir(id))
            .map(|d| {
                d.filter_map(|e| e.ok()?.metadata().ok())
                    .map(|m| m.len())
                    .sum()
            })
            .unwrap_or(0)
    }
}
