//! Photos, voice messages and files: the commands whose bytes cross the shell raw (an invoke
//! body, a raw response), not as JSON arrays of numbers — a 5 MB photo is 5 MB, not 20.

use std::path::{Path, PathBuf};

use hearth_core::blob::{BlobId, Kind};
use hearth_core::node::{Outgoing, Source};
use hearth_core::{ChatId, MessageId};
use tauri::ipc::{InvokeBody, Request, Response};
use tauri::{Manager, State};

use crate::error::{Error, Result};
use crate::Slot;

fn header(req: &Request<'_>, name: &str) -> Option<String> {
    let v = req.headers().get(name)?.to_str().ok()?;
    Some(
        percent_encoding::percent_decode_str(v)
            .decode_utf8_lossy()
            .into_owned(),
    )
}

/// Sends the invoke body as a photo, voice message or file (headers: `hearth-chat`,
/// `hearth-kind`, `hearth-name`, `hearth-mime`, and for voice `hearth-duration-ms`,
/// `hearth-waveform`; optional `hearth-caption`, `hearth-reply-to`).
#[tauri::command]
pub async fn send_attachment(slot: State<'_, Slot>, request: Request<'_>) -> Result<MessageId> {
    let InvokeBody::Raw(bytes) = request.body() else {
        return Err(Error::invalid("send the file's bytes as the request body"));
    };
    let chat: ChatId = header(&request, "hearth-chat")
        .and_then(|c| c.parse().ok())
        .ok_or_else(|| Error::invalid("which conversation? (hearth-chat)"))?;
    let kind = header(&request, "hearth-kind")
        .and_then(|k| Kind::parse(&k))
        .unwrap_or(Kind::File);
    let reply_to: Option<MessageId> =
        header(&request, "hearth-reply-to").and_then(|r| r.parse().ok());
    let out = Outgoing {
        kind,
        name: header(&request, "hearth-name").unwrap_or_default(),
        mime: header(&request, "hearth-mime").unwrap_or_default(),
        source: Source::Bytes(bytes.clone()),
        duration_ms: header(&request, "hearth-duration-ms")
            .and_then(|d| d.parse().ok())
            .unwrap_or(0),
        waveform: header(&request, "hearth-waveform")
            .map(|w| {
                w.split(',')
                    .filter_map(|l| l.trim().parse::<u8>().ok())
                    .collect()
            })
            .unwrap_or_default(),
    };
    let caption = header(&request, "hearth-caption").unwrap_or_default();
    let node = slot.node()?;
    Ok(node.send_attachment(&chat, &caption, reply_to, out).await?)
}

/// The whole attachment, decrypted, as raw bytes.
#[tauri::command]
pub async fn blob_bytes(slot: State<'_, Slot>, blob: BlobId) -> Result<Response> {
    let node = slot.node()?;
    Ok(Response::new(node.blob_bytes(&blob).await?))
}

/// Download it now, over any connection (a tap on its preview).
#[tauri::command]
pub async fn fetch_blob(slot: State<'_, Slot>, blob: BlobId) -> Result<()> {
    let node = slot.node()?;
    Ok(node.fetch_blob(&blob).await?)
}

/// Saves it to the Downloads folder (`HEARTH_DOWNLOAD_DIR` if set) under its own name, made
/// unique; returns where.
#[tauri::command]
pub async fn save_blob(
    app: tauri::AppHandle,
    slot: State<'_, Slot>,
    blob: BlobId,
) -> Result<String> {
    let node = slot.node()?;
    let dir = match std::env::var_os("HEARTH_DOWNLOAD_DIR") {
        Some(d) => PathBuf::from(d),
        None => app
            .path()
            .download_dir()
            .map_err(|e| Error::invalid(format!("no Downloads folder: {e}")))?,
    };
    std::fs::create_dir_all(&dir)
        .map_err(|e| Error::invalid(format!("cannot write to {}: {e}", dir.display())))?;
    let name = node.blob_name(&blob).await?;
    let path = unique(&dir, &name);
    node.save_blob(&blob, &path).await?;
    Ok(path.display().to_string())
}

/// `name`, or `name (2)`, `name (3)`… if taken.
fn unique(dir: &Path, name: &str) -> PathBuf {
    let p = Path::new(name);
    let stem = p
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let ext = p
        .extension()
        .map(|e| format!(".{}", e.to_string_lossy()))
        .unwrap_or_default();
    let mut candidate = dir.join(name);
    let mut n = 2;
    while candidate.exists() {
        candidate = dir.join(format!("{stem} ({n}){ext}"));
        n += 1;
    }
    candidate
}

#[tauri::command]
pub async fn set_fetch_media_everywhere(slot: State<'_, Slot>, enabled: bool) -> Result<()> {
    let node = slot.node()?;
    Ok(node.set_fetch_media_everywhere(enabled).await?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_saved_file_never_replaces_another() {
        let d = tempfile::tempdir().unwrap();
        assert_eq!(unique(d.path(), "a.jpg"), d.path().join("a.jpg"));
        std::fs::write(d.path().join("a.jpg"), b"x").unwrap();
        assert_eq!(unique(d.path(), "a.jpg"), d.path().join("a (2).jpg"));
        std::fs::write(d.path().join("a (2).jpg"), b"x").unwrap();
        assert_eq!(unique(d.path(), "a.jpg"), d.path().join("a (3).jpg"));
    }
}
