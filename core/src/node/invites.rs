//! Invites on a [`Node`]: making a code (with this device's addresses and its relays), revoking
//! one, accepting one, and the relays a code offers — used only once the person agrees.

use super::Node;
use crate::contacts::Contact;
use crate::error::Result;

/// The relays of an invite's relayed addresses that `settings` does not use yet, within the
/// bounds (none in LAN-only mode, which never uses relays).
fn offered_relays(
    settings: &crate::settings::Settings,
    addrs: &[String],
) -> Vec<libp2p::Multiaddr> {
    let mut out: Vec<libp2p::Multiaddr> = Vec::new();
    if !crate::net::addr::Admission::new(settings.lan_only).allows_relays() {
        return out;
    }
    for a in addrs.iter().take(MAX_INVITE_ADDRS_READ) {
        let Some(relay) = a.parse().ok().and_then(|a| crate::net::addr::relay_of(&a)) else {
            continue;
        };
        let text = relay.to_string();
        if settings.relays.len() + out.len() < crate::settings::MAX_RELAYS
            && out.len() < MAX_RELAYS_PER_INVITE
            && !settings.relays.contains(&text)
            && !out.contains(&relay)
        {
            out.push(relay);
        }
    }
    out
}

/// Most relays one accepted invite adds to the family's relays: a family uses two or three.
const MAX_RELAYS_PER_INVITE: usize = 4;
/// Addresses of one invite looked at for relays: an inviter has a handful; the rest of a
/// hostile code is not parsed.
const MAX_INVITE_ADDRS_READ: usize = 64;

impl Node {
    pub(super) async fn learn_relays(&self, addrs: &[String]) -> Result<Vec<String>> {
        let mut settings = self.settings().await?;
        let learned = offered_relays(&settings, addrs);
        if learned.is_empty() {
            return Ok(Vec::new());
        }
        settings
            .relays
            .extend(learned.iter().map(|r| r.to_string()));
        let relays = settings.relays;
        self.call(move |e| e.set_setting(crate::settings::RELAYS, &relays.into()))
            .await?;
        if let Some(h) = self.net() {
            for r in &learned {
                h.add_relay(r.clone()).await?;
            }
        }
        Ok(learned.iter().map(|r| r.to_string()).collect())
    }

    /// Makes an invite code carrying `addrs`, with the network running this device's listen
    /// addresses, and (outside LAN-only mode) its address through each of the family's relays:
    /// whoever accepts the code reaches this device through them, and starts using them too.
    pub async fn create_invite(&self, ttl_secs: u64, mut addrs: Vec<String>) -> Result<String> {
        let mut add = |a: String| {
            if !addrs.contains(&a) {
                addrs.push(a);
            }
        };
        if let Some(s) = self.network_status().await? {
            s.listen.into_iter().for_each(&mut add);
        }
        let me = self.profile().await?.device.peer_id();
        // The relays in use: those the network was started with, and any saved since (from
        // an accepted invite) that it took on without a restart.
        let saved = self.network_config().await?;
        let cfg = match self.net() {
            Some(h) => h.config().clone(),
            None => saved.clone(),
        };
        let relays_used = crate::net::addr::Admission::new(cfg.lan_only).allows_relays();
        if let (Some(me), true) = (me, relays_used) {
            let mut relays = cfg.relays.clone();
            relays.extend(saved.relays.into_iter().filter(|r| !cfg.relays.contains(r)));
            for r in &relays {
                add(crate::net::addr::via_relay(r, me).to_string());
            }
        }
        let code = self.call(move |e| e.create_invite(ttl_secs, addrs)).await?;
        // The answer may come through a public mailbox: look there for the new invite's topic.
        self.check_mailboxes();
        Ok(code)
    }

    pub async fn revoke_invite(&self, code: &str) -> Result<()> {
        let code = code.to_string();
        self.call(move |e| e.revoke_invite(&code)).await
    }

    /// Accepts an invite: the contact shows as pending until the inviter confirms.
    pub async fn accept_invite(&self, code: &str) -> Result<Contact> {
        let owned = code.to_string();
        let account = self.call(move |e| e.accept_invite(&owned)).await?;
        // Reach the inviter at the addresses the invite carries, now and later.
        if let Ok(inv) = crate::invite::Invite::decode(code, 0) {
            for a in inv.addrs.iter().take(8) {
                let _ = self
                    .remember_peer(inv.bundle.device, Some(a.clone()), false)
                    .await;
            }
            if let Some(net) = self.net() {
                let addrs: Vec<libp2p::Multiaddr> =
                    inv.addrs.iter().filter_map(|a| a.parse().ok()).collect();
                match inv.bundle.device.peer_id() {
                    // One dial over all its addresses: one connection, not one per address.
                    Some(peer) => {
                        let _ = net.dial_device(peer, addrs).await;
                    }
                    None => {
                        for a in &inv.addrs {
                            let _ = self.dial(a).await;
                        }
                    }
                }
            }
        }
        self.contact(&account).await
    }

    /// The relays an invite offers that this device does not use yet: the relays of the
    /// inviter's relayed addresses (at most `MAX_RELAYS_PER_INVITE`; none in LAN-only mode).
    /// Accepting an invite never starts using them: a relay sees who connects when, so the
    /// person decides ([`Node::use_invite_relays`]). The contact request still goes through
    /// them once, as a plain relayed dial.
    pub async fn invite_relays(&self, code: &str) -> Result<Vec<String>> {
        let inv = crate::invite::Invite::decode(code, 0)?;
        let settings = self.settings().await?;
        Ok(offered_relays(&settings, &inv.addrs)
            .iter()
            .map(|r| r.to_string())
            .collect())
    }

    /// Starts using the relays an invite offers ([`Node::invite_relays`]), because the person
    /// agreed: saved with the family's relays, and used at once by a running network. Returns
    /// those added.
    pub async fn use_invite_relays(&self, code: &str) -> Result<Vec<String>> {
        let inv = crate::invite::Invite::decode(code, 0)?;
        self.learn_relays(&inv.addrs).await
    }
}
