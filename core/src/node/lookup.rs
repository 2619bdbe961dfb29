//! Lookup by what people type: a contact by name, a conversation by title or contact name, a
//! message by the id prefix the CLI shows. Ambiguity is an error that says so, never a guess.

use super::{profile, Node};
use crate::contacts::{self, Contact};
use crate::conversation::Chat;
use crate::error::{Error, Result};
use crate::ids::MessageId;

impl Node {
    /// A contact by name or account id (prefix).
    pub async fn find_contact(&self, query: &str) -> Result<Contact> {
        let q = query.to_string();
        self.read(move |c| {
            let me = profile(c)?;
            contacts::find(c, &me.account, &q)?
                .ok_or_else(|| Error::NotFound(format!("no single contact matches \"{q}\"")))
        })
        .await
    }

    /// A conversation by id (or unique prefix), group title, or contact name (their 1:1 chat).
    pub async fn find_chat(&self, query: &str) -> Result<Chat> {
        let q = query.trim().to_lowercase();
        let chats = self.chats().await?;
        let by_id: Vec<&Chat> = chats
            .iter()
            .filter(|c| q.len() >= 6 && c.chat.to_string().starts_with(&q))
            .collect();
        if by_id.len() == 1 {
            return Ok(by_id[0].clone());
        }
        let by_title: Vec<&Chat> = chats
            .iter()
            .filter(|c| c.title.to_lowercase() == q)
            .collect();
        match by_title.len() {
            1 => Ok(by_title[0].clone()),
            0 => Err(Error::NotFound(format!(
                "no conversation matches \"{query}\""
            ))),
            _ => Err(Error::Invalid(format!(
                "several conversations match \"{query}\"; use its id"
            ))),
        }
    }

    /// Resolves a message id or unique prefix (as shown by the CLI).
    pub async fn find_message(&self, prefix: &str) -> Result<MessageId> {
        if let Ok(id) = prefix.parse::<MessageId>() {
            return Ok(id);
        }
        let p = prefix.trim().to_lowercase();
        if p.len() < 6 || !p.chars().all(|c| c.is_ascii_hexdigit()) {
            return Err(Error::Invalid(
                "give at least 6 characters of the message id".into(),
            ));
        }
        self.read(move |c| {
            let mut st =
                c.prepare("SELECT id FROM messages WHERE hex(id) LIKE ?1 || '%' LIMIT 2")?;
            let ids: Vec<Vec<u8>> = st
                .query_map([p.to_uppercase()], |r| r.get(0))?
                .collect::<rusqlite::Result<_>>()?;
            match ids.as_slice() {
                [one] => {
                    MessageId::from_slice(one).ok_or_else(|| Error::Corrupt("message id".into()))
                }
                [] => Err(Error::NotFound("no message has that id".into())),
                _ => Err(Error::Invalid(
                    "several messages start with that id; give more of it".into(),
                )),
            }
        })
        .await
    }

    /// A blob some message here names, by its id or a unique prefix of at least 6 characters.
    pub async fn find_blob(&self, prefix: &str) -> Result<crate::ids::BlobId> {
        if let Ok(id) = prefix.parse::<crate::ids::BlobId>() {
            return Ok(id);
        }
        let p = prefix.trim().to_lowercase();
        if p.len() < 6 || !p.chars().all(|c| c.is_ascii_hexdigit()) {
            return Err(Error::Invalid(
                "give at least 6 characters of the attachment's id".into(),
            ));
        }
        self.read(move |c| {
            let mut st = c.prepare("SELECT id FROM blobs WHERE hex(id) LIKE ?1 || '%' LIMIT 2")?;
            let ids: Vec<Vec<u8>> = st
                .query_map([p.to_uppercase()], |r| r.get(0))?
                .collect::<rusqlite::Result<_>>()?;
            match ids.as_slice() {
                [one] => crate::ids::BlobId::from_slice(one)
                    .ok_or_else(|| Error::Corrupt("blob id".into())),
                [] => Err(Error::NotFound("no attachment has that id".into())),
                _ => Err(Error::Invalid(
                    "several attachments start with that id; give more of it".into(),
                )),
            }
        })
        .await
    }
}
