//! Group membership as signed operations with explicit rules.
//!
//! Who is in a group decides who is given its keys, so membership is never free-form document
//! state that any member can write (the 2022 Matrix flaw class). Every change is a
//! [`SignedOp`]: signed by the author's device, naming the operations its author had seen (its
//! parents), and checked by every device against the same rules in the same order
//! ([`resolve`]). Nothing else — no document update, no invitation — changes who is a member.
//!
//! The rules, chosen for a family (nobody is an administrator; people are trusted to act in
//! good faith, and a member who does not can be removed by anyone):
//! - **Create** names the first members, the topic and the title. The conversation id *is* the
//!   id of this operation (a hash of it), so nobody can offer another beginning, another topic
//!   or another first member list for the same conversation.
//! - any current member may **Add** one of their contacts, **Rename** the group, **Remove**
//!   another member, or **Leave** (remove themselves);
//! - a Remove carries a **cut**: per device of the removed member, the last seq the remover
//!   held. Envelopes after it are refused; nothing before it is deleted.
//!
//! How concurrent operations resolve is in [`resolve`]. A one-to-one conversation has no
//! operations at all: its two members are fixed by the contact handshake.

mod resolve;

use std::collections::BTreeMap;

use libp2p_identity::ed25519;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::identity::DeviceBundle;
use crate::ids::{AccountId, ChatId, DeviceId, OpId, TopicId};
use crate::wire;

pub use resolve::{resolve, State};

/// One encoded operation is small (a name and a few device bundles); this bounds decoding.
pub const MAX_OP_BYTES: usize = 16 * 1024;
/// Parents an operation may name: the heads its author had. A family rarely has more than two.
pub const MAX_PARENTS: usize = 16;
/// Devices of one account a record may list.
pub const MAX_DEVICES: usize = 8;
/// Members a group may start with.
pub const MAX_INITIAL_MEMBERS: usize = 256;
/// Operations one device may author in one group: a hostile member can fill only its own
/// share, never stop the others from removing it.
pub const MAX_OPS_PER_DEVICE: usize = 256;
/// Operations considered in one group, whoever wrote them (bounds the work of resolving).
pub const MAX_OPS: usize = 4096;

const SIGNING_CONTEXT: &[u8] = b"hearth-membership-op-v1";
const ID_CONTEXT: &[u8] = b"hearth-membership-op-id-v1";
const MAX_NAME_CHARS: usize = 64;
const MAX_TITLE_CHARS: usize = 100;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum Error {
    #[error("membership operation does not decode: {0}")]
    Malformed(String),
    #[error("membership operation signature does not verify")]
    BadSignature,
    #[error("membership operation breaks a rule: {0}")]
    Invalid(&'static str),
}

/// A member as an Add or Create names them: their name in the group and their devices.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Record {
    pub name: String,
    pub bundles: Vec<DeviceBundle>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Change {
    /// The group's first operation; its id is the conversation id.
    Create {
        topic: TopicId,
        title: String,
        members: Vec<(AccountId, Record)>,
        /// Makes every creation distinct, so conversation ids are random.
        nonce: [u8; 16],
    },
    Add {
        account: AccountId,
        record: Record,
    },
    /// Removes `account`; when it is the author's own account, a leave.
    Remove {
        account: AccountId,
        cut: Vec<(DeviceId, u64)>,
    },
    Rename {
        title: String,
    },
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Op {
    pub author: DeviceId,
    /// The seq of the group envelope that carries this operation in its author's stream (0
    /// for Create, which travels only in invitations). Signed, so whether an operation came
    /// before its author's removal cut is a fact every device reads the same way.
    pub seq: u64,
    /// Hybrid-logical-clock time; only breaks ties between operations that are concurrent.
    pub at: u64,
    /// The heads of the operation graph the author had applied, sorted. Empty only for Create.
    pub parents: Vec<OpId>,
    pub change: Change,
}

/// An operation as it travels: its encoding and the author device's signature over it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignedOp {
    #[serde(with = "serde_bytes")]
    pub op: Vec<u8>,
    #[serde(with = "serde_bytes")]
    pub signature: Vec<u8>,
}

/// A signed operation whose form and signature have been checked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Verified {
    pub id: OpId,
    pub op: Op,
    pub signed: SignedOp,
}

impl SignedOp {
    pub fn sign(op: &Op, device: &ed25519::Keypair) -> SignedOp {
        let bytes = wire::encode(op);
        let signature = device.sign(&[SIGNING_CONTEXT, &bytes].concat());
        SignedOp {
            op: bytes,
            signature,
        }
    }

    pub fn id(&self) -> OpId {
        let h = Sha256::new()
            .chain_update(ID_CONTEXT)
            .chain_update(&self.op)
            .finalize();
        let mut id = [0u8; 16];
        id.copy_from_slice(&h[..16]);
        OpId(id)
    }

    /// Checks form and signature: everything that does not depend on the other operations.
    pub fn verify(&self) -> Result<Verified, Error> {
        let op: Op =
            wire::decode(&self.op, MAX_OP_BYTES).map_err(|e| Error::Malformed(e.to_string()))?;
        if !op
            .author
            .verify(&[SIGNING_CONTEXT, &self.op].concat(), &self.signature)
        {
            return Err(Error::BadSignature);
        }
        let is_create = matches!(op.change, Change::Create { .. });
        if is_create != op.parents.is_empty() || op.parents.len() > MAX_PARENTS {
            return Err(Error::Invalid("parents"));
        }
        if !op.parents.windows(2).all(|w| w[0] < w[1]) {
            return Err(Error::Invalid("parents must be sorted and distinct"));
        }
        if op.seq > i64::MAX as u64 || op.at > i64::MAX as u64 {
            return Err(Error::Invalid("seq or time out of range"));
        }
        match &op.change {
            Change::Create { title, members, .. } => {
                check_title(title)?;
                if members.is_empty() || members.len() > MAX_INITIAL_MEMBERS {
                    return Err(Error::Invalid("member count"));
                }
                let mut seen = std::collections::BTreeSet::new();
                for (a, r) in members {
                    if !seen.insert(*a) {
                        return Err(Error::Invalid("a member listed twice"));
                    }
                    check_record(a, r)?;
                }
                let author_listed = members
                    .iter()
                    .any(|(_, r)| r.bundles.iter().any(|b| b.device == op.author));
                if !author_listed || op.seq != 0 {
                    return Err(Error::Invalid("the creator must be a first member"));
                }
            }
            Change::Add { account, record } => check_record(account, record)?,
            Change::Remove { cut, .. } => {
                if cut.len() > MAX_DEVICES {
                    return Err(Error::Invalid("cut"));
                }
            }
            Change::Rename { title } => check_title(title)?,
        }
        Ok(Verified {
            id: self.id(),
            op,
            signed: self.clone(),
        })
    }
}

impl Change {
    /// The cut of a Remove as a map (devices not named have a cut of 0).
    pub fn cut_map(cut: &[(DeviceId, u64)]) -> BTreeMap<DeviceId, u64> {
        cut.iter().copied().collect()
    }
}

/// The conversation id a Create operation gives its group.
pub fn chat_id(create: &SignedOp) -> ChatId {
    ChatId(create.id().0)
}

fn check_title(title: &str) -> Result<(), Error> {
    let n = title.chars().count();
    if title.trim() != title || n == 0 || n > MAX_TITLE_CHARS {
        return Err(Error::Invalid("title"));
    }
    Ok(())
}

fn check_record(account: &AccountId, r: &Record) -> Result<(), Error> {
    let n = r.name.chars().count();
    if r.name.trim() != r.name || n == 0 || n > MAX_NAME_CHARS {
        return Err(Error::Invalid("member name"));
    }
    if r.bundles.is_empty() || r.bundles.len() > MAX_DEVICES {
        return Err(Error::Invalid("device count"));
    }
    let mut devices = std::collections::BTreeSet::new();
    for b in &r.bundles {
        if b.account != *account || !b.verify() || !devices.insert(b.device) {
            return Err(Error::Invalid(
                "a device bundle does not belong to the member",
            ));
        }
    }
    Ok(())
}
