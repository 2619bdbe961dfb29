//! Public Nostr relays as blind mailboxes: messages wait for family who are offline, with no
//! server of our own.
//!
//! Without a family relay, a message to someone whose phone is off, asleep, or behind a NAT no
//! hole punch gets through would wait on the sender's device until both are online at the same
//! moment. Nostr relays are run by hundreds of independent operators and store signed events
//! for anyone. Hearth deposits its own envelopes (already signed and end-to-end encrypted) for
//! members it does not reach directly on several of them, and every member looks there for
//! mail. Losing any relay, or most of them, loses nothing: the same events are on the others,
//! and the envelopes also still travel every other path.
//!
//! What a relay sees ([`seal`], [`tags`]):
//! - an event of one ordinary kind, signed by a **throwaway key** used for that event only;
//! - one `p` tag that looks like a random recipient's public key: the **mailbox tag**, which
//!   only members can compute, changes every day, differs per conversation and per sender key,
//!   and moves when a member is removed (see [`tags`] for why a removed member cannot follow);
//! - content that is random bytes of a few fixed sizes: the envelopes sealed again, so no
//!   Hearth header (topic, author device, seq) is visible;
//! - a `created_at` set back by a random few minutes, and an expiration (NIP-40) after
//!   [`RETENTION`];
//! - the IP address of whoever deposits or fetches (as any web server would).
//!
//! Fetched events go through the ordinary ingest path: signatures, membership, duplicates and
//! forgeries are checked exactly as for envelopes from a peer, so a relay (or a stranger who
//! guesses a tag) can withhold mail but never forge it.
//!
//! LAN-only mode never uses this. The tasks (`task`: `deposit` and `fetch`) are started and
//! stopped with the network.

mod deposit;
mod fetch;
pub mod seal;
pub mod tags;
mod task;

use std::time::Duration;

use serde::Serialize;
use ts_rs::TS;

pub(crate) use task::{spawn, Handle};

/// Public relays from different operators, used unless the user gives others.
pub const DEFAULT_RELAYS: &[&str] = &[
    "wss://relay.damus.io",
    "wss://nos.lol",
    "wss://relay.primal.net",
    "wss://relay.nostr.band",
    "wss://nostr.mom",
    "wss://offchain.pub",
];

/// Deposits aim for this many relays holding each event (all of them, if fewer are set).
pub const WANT_RELAYS: usize = 3;

/// How long deposited events are kept (NIP-40 expiration), and how far back a device that was
/// away looks: two weeks away still finds everything.
pub const RETENTION: Duration = Duration::from_secs(14 * 24 * 3600);

/// The event kind Hearth deposits: a regular (stored) kind no NIP gives a meaning to, so no
/// relay applies special rules to it (gift wraps, 1059, are often readable only after AUTH as
/// the recipient).
pub const KIND: u16 = 4454;

/// Checks a Nostr relay list: each entry a `wss://` (or `ws://`) URL.
pub fn check_relays(relays: &[String]) -> crate::Result<Vec<String>> {
    let out = crate::settings::entries(relays, "mailbox relays")?;
    for r in &out {
        let ok = (r.starts_with("wss://") || r.starts_with("ws://"))
            && nostr_sdk::RelayUrl::parse(r).is_ok();
        if !ok {
            return Err(crate::Error::Invalid(format!(
                "not a Nostr relay address: {r} (expected something like wss://relay.example.org)"
            )));
        }
    }
    Ok(out)
}

/// The mailbox relays and how each is doing.
#[derive(Clone, Debug, Default, Serialize, TS)]
#[ts(rename = "MailboxRelaysStatus")]
pub struct Status {
    pub relays: Vec<RelayStatus>,
    /// Envelopes this device deposited that fewer than [`WANT_RELAYS`] relays hold yet.
    pub retrying: usize,
}

/// One Nostr relay used as a mailbox.
#[derive(Clone, Debug, Default, Serialize, TS)]
#[ts(rename = "MailboxRelayStatus")]
pub struct RelayStatus {
    pub url: String,
    pub connected: bool,
    /// Events it acknowledged (`OK`) since the start.
    #[ts(type = "number")]
    pub accepted: u64,
    /// Events it refused or did not acknowledge in time.
    #[ts(type = "number")]
    pub refused: u64,
    /// Events from it that were not ours or not valid (a stranger's under a guessed tag,
    /// garbage, oversize), dropped.
    #[ts(type = "number")]
    pub dropped: u64,
    /// Unix seconds of the last complete fetch from it.
    #[ts(type = "number | null")]
    pub fetched_at: Option<u64>,
    /// What went wrong last, in words.
    pub error: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relay_lists_are_checked_like_the_family_relays() {
        let ok = check_relays(&[
            " wss://nos.lol ".into(),
            "".into(),
            "ws://10.0.0.1:7777".into(),
        ]);
        assert_eq!(
            ok.unwrap(),
            vec![
                "wss://nos.lol".to_string(),
                "ws://10.0.0.1:7777".to_string()
            ]
        );
        let bad = check_relays(&["https://nos.lol".into()]).unwrap_err();
        assert!(
            bad.to_string().contains("not a Nostr relay address"),
            "{bad}"
        );
        let many: Vec<String> = (0..=crate::settings::MAX_RELAYS)
            .map(|i| format!("wss://r{i}.example.org"))
            .collect();
        let e = check_relays(&many).unwrap_err();
        assert!(e.to_string().contains("mailbox relays can be set"), "{e}");
    }
}
