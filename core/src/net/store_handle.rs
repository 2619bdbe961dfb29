//! What the net task may ask of the node: read the store, ingest envelopes, record what it
//! learned about peers and mailboxes, and announce events. Nothing else, and without keeping
//! the node open: when the last [`Node`] is dropped these calls fail with `Shutdown`, the
//! command channel closes, and the task ends.

use crate::error::{Error, Result};
use crate::events::Event;
use crate::ids::{DeviceId, TopicId};
use crate::node::{Node, WeakNode};
use crate::sync::bundle::ImportReport;

#[derive(Clone)]
pub(super) struct Store(WeakNode);

impl Store {
    pub fn new(node: &Node) -> Store {
        Store(node.downgrade())
    }

    fn node(&self) -> Result<Node> {
        self.0.upgrade().ok_or(Error::Shutdown)
    }

    pub async fn read<T: Send + 'static>(
        &self,
        f: impl FnOnce(&rusqlite::Connection) -> Result<T> + Send + 'static,
    ) -> Result<T> {
        self.node()?.read(f).await
    }

    pub async fn ingest(&self, envelopes: Vec<Vec<u8>>) -> Result<ImportReport> {
        self.node()?.ingest(envelopes).await
    }

    pub async fn remember_peer(&self, device: DeviceId, addr: Option<String>) -> Result<()> {
        self.node()?.remember_peer(device, addr, true).await
    }

    pub async fn remember_public_peer(
        &self,
        peer: String,
        addrs: Vec<String>,
        relay: bool,
    ) -> Result<()> {
        self.node()?
            .call(move |e| e.remember_public_peer(&peer, &addrs, relay))
            .await
    }

    pub async fn note_in_mailbox(&self, held: Vec<(TopicId, u64)>) -> Result<()> {
        self.node()?.note_in_mailbox(held).await
    }

    pub fn blob_files(&self) -> Result<crate::blob::files::Files> {
        Ok(self.node()?.blob_files())
    }

    /// Writes a checked manifest or chunk to disk, then records it (a fetched chunk lost in a
    /// crash is fetched again: `blob::files`).
    pub async fn store_blob_part(
        &self,
        id: crate::blob::BlobId,
        part: crate::blob::protocol::Part,
        bytes: Vec<u8>,
    ) -> Result<()> {
        use crate::blob::protocol::Part;
        let node = self.node()?;
        let files = node.blob_files();
        let bytes_len = bytes.len();
        tokio::task::spawn_blocking(move || -> std::io::Result<()> {
            match part {
                Part::Manifest => files.write_manifest(&id, &bytes),
                Part::Chunk(i) => files.write_fetched(&id, i, &bytes),
            }
        })
        .await
        .map_err(|_| Error::Shutdown)??;
        node.call(move |e| match part {
            Part::Manifest => e.blob_manifest_stored(&id, (bytes_len / 32) as u32),
            Part::Chunk(i) => e.blob_chunks_stored(&id, &[i]),
        })
        .await
    }

    pub fn emit(&self, e: Event) {
        if let Ok(n) = self.node() {
            n.emit(e);
        }
    }
}
