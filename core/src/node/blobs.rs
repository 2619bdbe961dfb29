//! Photos, voice messages and files: sending one (sealed and written to disk before its
//! message is committed), reading one back, asking for one.

use std::io::Read;
use std::path::{Path, PathBuf};

use super::Node;
use crate::blob::files::Files;
use crate::blob::store::{self, Attachment};
use crate::blob::{self, crypt, BlobId, BlobRef, Kind, MAX_BLOB_BYTES, MAX_WAVEFORM};
use crate::error::{Error, Result};
use crate::ids::{ChatId, MessageId};

/// Where an attachment's bytes come from.
pub enum Source {
    Bytes(Vec<u8>),
    File(PathBuf),
}

/// An attachment to send.
pub struct Outgoing {
    pub kind: Kind,
    /// The file name as the person knows it (a photo's becomes `.jpg`).
    pub name: String,
    pub mime: String,
    pub source: Source,
    /// Voice messages: length and loudness over time (at most 64 levels).
    pub duration_ms: u32,
    pub waveform: Vec<u8>,
}

impl Outgoing {
    /// A photo or file from bytes in memory (a photo is prepared when sent).
    pub fn bytes(kind: Kind, name: &str, mime: &str, bytes: Vec<u8>) -> Outgoing {
        Outgoing {
            kind,
            name: name.into(),
            mime: mime.into(),
            source: Source::Bytes(bytes),
            duration_ms: 0,
            waveform: Vec::new(),
        }
    }

    /// A file from disk: a photo if it reads as one (JPEG or PNG), otherwise a file.
    pub fn file(path: &Path) -> Outgoing {
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let ext = path
            .extension()
            .map(|e| e.to_string_lossy().to_ascii_lowercase())
            .unwrap_or_default();
        let (kind, mime) = match ext.as_str() {
            "jpg" | "jpeg" => (Kind::Photo, "image/jpeg"),
            "png" => (Kind::Photo, "image/png"),
            "ogg" | "opus" => (Kind::File, "audio/ogg"),
            "webm" => (Kind::File, "video/webm"),
            "mp4" => (Kind::File, "video/mp4"),
            "pdf" => (Kind::File, "application/pdf"),
            "txt" => (Kind::File, "text/plain"),
            _ => (Kind::File, "application/octet-stream"),
        };
        Outgoing {
            kind,
            name,
            mime: mime.into(),
            source: Source::File(path.to_path_buf()),
            duration_ms: 0,
            waveform: Vec::new(),
        }
    }
}

fn too_large() -> Error {
    Error::Invalid(format!(
        "this file is too large to send: at most {} MB",
        MAX_BLOB_BYTES / (1024 * 1024)
    ))
}

/// Seals `out` into chunk files; returns the reference the message will carry.
fn seal(files: &Files, out: Outgoing) -> Result<BlobRef> {
    let mut name = blob::clean_name(&out.name);
    let mut mime = blob::clean_mime(&out.mime);
    let (mut width, mut height, mut preview) = (0, 0, Vec::new());
    let mut source = out.source;
    if out.kind == Kind::Photo {
        let bytes = match source {
            Source::Bytes(b) => b,
            Source::File(p) => read_bounded(&p)?,
        };
        let p = blob::photo::prepare(&bytes)?;
        (width, height, preview) = (p.width, p.height, p.preview);
        let stem = Path::new(&name)
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_else(|| "photo".into());
        name = blob::clean_name(&format!("{stem}.jpg"));
        mime = "image/jpeg".into();
        source = Source::Bytes(p.jpeg);
    }
    let (size, mut reader): (u64, Box<dyn Read>) = match source {
        Source::Bytes(b) => (b.len() as u64, Box::new(std::io::Cursor::new(b))),
        Source::File(p) => {
            let f = std::fs::File::open(&p)
                .map_err(|e| Error::Invalid(format!("cannot read {}: {e}", p.display())))?;
            (f.metadata()?.len(), Box::new(f))
        }
    };
    if size > MAX_BLOB_BYTES {
        return Err(too_large());
    }
    let key: [u8; 32] = rand::random();
    let mut sealer = crypt::Sealer::new(&key, size);
    let chunks = crypt::chunk_count(size);
    // The id is known only at the end: chunks go to a staging name first.
    let staging = BlobId(rand::random());
    let mut buf = vec![0u8; blob::CHUNK_BYTES];
    for i in 0..chunks {
        let n = crypt::plain_len(size, i);
        reader
            .read_exact(&mut buf[..n])
            .map_err(|e| Error::Invalid(format!("the file changed while it was read: {e}")))?;
        let c = sealer.seal(&buf[..n]);
        files.write_chunk(&staging, i, &c)?;
    }
    let (id, manifest) = sealer.finish();
    files.write_manifest(&staging, &manifest)?;
    files.rename(&staging, &id)?;
    files.sync(&id)?;
    Ok(BlobRef {
        id,
        key,
        size,
        kind: out.kind,
        mime,
        name,
        preview,
        width,
        height,
        duration_ms: if out.kind == Kind::Voice {
            out.duration_ms
        } else {
            0
        },
        waveform: if out.kind == Kind::Voice {
            out.waveform.into_iter().take(MAX_WAVEFORM).collect()
        } else {
            Vec::new()
        },
    })
}

fn read_bounded(p: &Path) -> Result<Vec<u8>> {
    let f = std::fs::File::open(p)
        .map_err(|e| Error::Invalid(format!("cannot read {}: {e}", p.display())))?;
    let mut out = Vec::new();
    f.take(MAX_BLOB_BYTES + 1).read_to_end(&mut out)?;
    if out.len() as u64 > MAX_BLOB_BYTES {
        return Err(too_large());
    }
    Ok(out)
}

impl Node {
    pub(crate) fn blob_files(&self) -> Files {
        Files::new(self.data_dir())
    }

    /// Sends a photo, voice message or file, with an optional caption. Returns once the
    /// chunks and the message are durably stored, like any send.
    pub async fn send_attachment(
        &self,
        chat: &ChatId,
        caption: &str,
        reply_to: Option<MessageId>,
        out: Outgoing,
    ) -> Result<MessageId> {
        let files = self.blob_files();
        let r = tokio::task::spawn_blocking(move || seal(&files, out))
            .await
            .map_err(|_| Error::Shutdown)??;
        let (c, caption) = (*chat, caption.to_string());
        self.call(move |e| e.send_attachment(&c, &caption, reply_to, &r))
            .await
    }

    /// Hook for adversarial tests: sends an attachment as a modified client could, sealed
    /// under one key and announced with another, so it never opens for anyone.
    #[doc(hidden)]
    pub async fn send_attachment_that_does_not_open(
        &self,
        chat: &ChatId,
        out: Outgoing,
    ) -> Result<MessageId> {
        let files = self.blob_files();
        let mut r = tokio::task::spawn_blocking(move || seal(&files, out))
            .await
            .map_err(|_| Error::Shutdown)??;
        r.key[0] ^= 1;
        let c = *chat;
        self.call(move |e| e.send_attachment(&c, "", None, &r))
            .await
    }

    /// Hook for adversarial tests: sends a message naming an attachment exactly as given
    /// (another member's blob id with a wrong key or size, say).
    #[doc(hidden)]
    pub async fn send_attachment_ref(&self, chat: &ChatId, r: BlobRef) -> Result<MessageId> {
        let c = *chat;
        self.call(move |e| e.send_message(&c, "", None, crate::doc::segment::Kind::Text, Some(&r)))
            .await
    }

    /// The attachment of a message, with its state.
    pub async fn attachment(&self, message: &MessageId) -> Result<Attachment> {
        let m = *message;
        self.read(move |c| store::of_message(c, &m))
            .await?
            .ok_or_else(|| Error::NotFound("this message has no attachment".into()))
    }

    /// The file name an attachment was sent under (for saving it).
    pub async fn blob_name(&self, blob: &BlobId) -> Result<String> {
        let b = *blob;
        self.read(move |c| store::references(c, &b))
            .await?
            .into_iter()
            .next()
            .map(|r| blob::clean_name(&r.name))
            .ok_or_else(|| Error::NotFound("no such photo or file".into()))
    }

    /// "Download photos and voice messages on every connection": on, everything not yet
    /// here is fetched over any path; off, only over the LAN unless asked for.
    pub async fn set_fetch_media_everywhere(&self, on: bool) -> Result<()> {
        self.call(move |e| e.set_fetch_media_everywhere(on)).await
    }

    /// Fetch this blob over any path, now (the person tapped its preview).
    pub async fn fetch_blob(&self, blob: &BlobId) -> Result<()> {
        let b = *blob;
        self.call(move |e| e.want_blob(&b)).await
    }

    /// The whole blob, decrypted. Fails with `NotFound` while it is not all here.
    pub async fn blob_bytes(&self, blob: &BlobId) -> Result<Vec<u8>> {
        let mut out = Vec::new();
        self.open_blob(blob, |b| {
            out.extend_from_slice(b);
            Ok(())
        })
        .await?;
        Ok(out)
    }

    /// Writes the decrypted blob to `path` (created or replaced whole). Returns its size.
    pub async fn save_blob(&self, blob: &BlobId, path: &Path) -> Result<u64> {
        let part = path.with_extension("hearth-part");
        let mut f = std::fs::File::create(&part)?;
        let mut n = 0u64;
        let res = self
            .open_blob(blob, |b| {
                std::io::Write::write_all(&mut f, b)?;
                n += b.len() as u64;
                Ok(())
            })
            .await;
        if let Err(e) = res {
            let _ = std::fs::remove_file(&part);
            return Err(e);
        }
        f.sync_all()?;
        std::fs::rename(&part, path)?;
        Ok(n)
    }

    /// Reads, checks and opens each chunk in order. A chunk that is not on disk as recorded
    /// is forgotten (fetched again); one that does not open makes the blob damaged.
    async fn open_blob(
        &self,
        blob: &BlobId,
        mut sink: impl FnMut(&[u8]) -> Result<()>,
    ) -> Result<()> {
        let b = *blob;
        let (refs, complete, chunks) = self
            .read(move |c| {
                Ok((
                    store::references(c, &b)?,
                    store::complete(c, &b)?,
                    store::chunks(c, &b)?,
                ))
            })
            .await?;
        if refs.is_empty() {
            return Err(Error::NotFound("no such photo or file".into()));
        }
        if !complete {
            return Err(Error::NotFound("this is not downloaded yet".into()));
        }
        let files = self.blob_files();
        // The manifest's count (recorded when it arrived), not the first message's.
        let chunks = chunks.unwrap_or_else(|| refs[0].chunks());
        let missing = || Error::NotFound("this is not downloaded yet".into());
        let Some(manifest) = files.manifest(&b, chunks)? else {
            self.forget_chunks(b, None).await?;
            return Err(missing());
        };
        // Messages naming the same blob may give different keys (a member repeating another's
        // blob id with a wrong one): the key that opens the first chunk is the blob's.
        let first = files
            .chunk(&b, 0)?
            .filter(|c| crypt::chunk_fits(&manifest, 0, c));
        let Some(first) = first else {
            self.forget_chunks(b, Some(0)).await?;
            return Err(missing());
        };
        let r = refs
            .iter()
            .find(|r| r.chunks() == chunks && crypt::open(&r.key, 0, chunks, &first).is_some())
            .unwrap_or(&refs[0])
            .clone();
        for i in 0..chunks {
            let sealed = files
                .chunk(&r.id, i)?
                .filter(|c| crypt::chunk_fits(&manifest, i, c));
            let Some(sealed) = sealed else {
                self.forget_chunks(r.id, Some(i)).await?;
                return Err(missing());
            };
            let Some(plain) = crypt::open(&r.key, i, chunks, &sealed) else {
                let id = r.id;
                self.call(move |e| e.blob_damaged(&id, "it does not open with its key"))
                    .await?;
                return Err(Error::Invalid(
                    "this photo or file is damaged: its sender's device sent something that does not open".into(),
                ));
            };
            if plain.len() != crypt::plain_len(r.size, i) {
                let id = r.id;
                self.call(move |e| e.blob_damaged(&id, "its size is not the size it says"))
                    .await?;
                return Err(Error::Invalid("this photo or file is damaged".into()));
            }
            sink(&plain)?;
        }
        Ok(())
    }

    /// Keeps a blob part from a bundle if a message here names its blob and it matches (the
    /// manifest its id, a chunk the manifest). Returns whether it was kept (or already here).
    pub(crate) async fn import_blob_part(
        &self,
        p: crate::sync::bundle::BlobPart,
        manifests: &mut std::collections::HashMap<BlobId, Vec<u8>>,
    ) -> Result<bool> {
        use crate::blob::protocol::Part;
        let id = p.blob;
        let known: Option<(u32, Vec<u32>)> = self
            .read(move |c| {
                let Some(chunks) = store::chunks(c, &id)? else {
                    return Ok(None);
                };
                Ok(Some((chunks, store::counts(c, &id)?)))
            })
            .await?;
        let Some((chunks, counts)) = known else {
            return Ok(false);
        };
        let files = self.blob_files();
        let manifest = match manifests.get(&id) {
            Some(m) => Some(m.clone()),
            None => files.manifest(&id, chunks)?,
        };
        match p.part {
            Part::Manifest => {
                let Some(n) = crypt::manifest_chunks(&id, &p.bytes).filter(|n| counts.contains(n))
                else {
                    return Ok(false);
                };
                if manifest.is_none() {
                    files.write_manifest(&id, &p.bytes)?;
                    files.sync(&id)?;
                    self.call(move |e| e.blob_manifest_stored(&id, n)).await?;
                }
                manifests.insert(id, p.bytes);
                Ok(true)
            }
            Part::Chunk(i) => {
                let Some(m) = manifest else {
                    return Ok(false);
                };
                if !crypt::chunk_fits(&m, i, &p.bytes) {
                    return Ok(false);
                }
                let here = self.read(move |c| store::has_chunk(c, &id, i)).await?;
                if !here {
                    files.write_fetched(&id, i, &p.bytes)?;
                    self.call(move |e| e.blob_chunks_stored(&id, &[i])).await?;
                }
                Ok(true)
            }
        }
    }

    /// A chunk (or the manifest, with `None`) the database says is here is not, or is damaged
    /// on disk: mark it missing so it is fetched again.
    async fn forget_chunks(&self, id: BlobId, chunk: Option<u32>) -> Result<()> {
        tracing::warn!(blob = %id, ?chunk, "a stored chunk is missing or damaged on disk; fetching it again");
        self.call(move |e| e.blob_chunk_lost(&id, chunk)).await
    }
}
