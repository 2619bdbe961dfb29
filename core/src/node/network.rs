//! Network control on a [`Node`]: starting and stopping the net task (and the family relay this
//! device may serve), its status, the settings that shape it, and what the net task records
//! through the node.

use super::Node;
use crate::error::{Error, Result};
use crate::ids::DeviceId;

impl Node {
    pub(super) fn net(&self) -> Option<crate::net::Handle> {
        self.inner.net.lock().ok().and_then(|n| n.clone())
    }

    /// Restarts a running network with the configuration from the settings (no-op when
    /// the network is off).
    pub(super) async fn restart_network(&self) -> Result<()> {
        let _op = self.inner.net_ops.lock().await;
        let Some(running) = self.net() else {
            return Ok(());
        };
        let mut cfg = self.network_config().await?;
        cfg.mdns = running.config().mdns;
        cfg.listen = running.config().listen.clone();
        cfg.bootstrap = running.config().bootstrap.clone();
        cfg.run = running.config().run.clone();
        cfg.apply_run();
        if cfg.serve_relay.is_some() {
            cfg.serve_relay = running.config().serve_relay.clone().or(cfg.serve_relay);
        }
        self.stop_network_locked().await?;
        self.start_network_locked(cfg).await
    }

    /// Starts networking: listening, discovery, sync with family devices.
    pub async fn start_network(&self, cfg: crate::net::Config) -> Result<()> {
        let _op = self.inner.net_ops.lock().await;
        self.start_network_locked(cfg).await
    }

    pub(super) async fn start_network_locked(&self, cfg: crate::net::Config) -> Result<()> {
        if self.net().is_some() {
            return Err(Error::Invalid("the network is already running".into()));
        }
        let keypair = self.call(|e| Ok(e.me()?.id.libp2p_keypair())).await?;
        let serve = cfg
            .serve_relay
            .clone()
            .filter(|_| crate::net::addr::Admission::new(cfg.lan_only).allows_relays());
        let nostr = (!cfg.lan_only && !cfg.nostr_relays.is_empty())
            .then(|| crate::nostr::check_relays(&cfg.nostr_relays))
            .transpose()?;
        let handle = crate::net::spawn(self.clone(), cfg, keypair)?;
        if let Ok(mut n) = self.inner.net.lock() {
            *n = Some(handle);
        }
        if let Some(relays) = nostr {
            // Public mailboxes: never in LAN-only mode.
            let h = crate::nostr::spawn(self, relays, self.inner.nostr_dirty.clone());
            if let Ok(mut n) = self.inner.nostr.lock() {
                *n = Some(h);
            }
        }
        if let Some(listen) = serve {
            // "Be a relay for my family": the same relay and mailbox as `hearth relay`, with
            // its own identity and database under this device's data directory.
            let relay = crate::relay::start(crate::relay::Config {
                data_dir: self.inner.data_dir.join("relay"),
                listen,
                external: Vec::new(),
                limits: crate::mailbox::Limits::default(),
                max_per_source: crate::relay::MAX_CONNECTIONS_PER_SOURCE,
            })
            .await;
            match relay {
                Ok(h) => {
                    if let Ok(mut r) = self.inner.relay.lock() {
                        *r = Some(h);
                    }
                }
                Err(e) => tracing::warn!(error = %e, "cannot serve as a relay"),
            }
        }
        Ok(())
    }

    /// Stops networking; the node keeps working offline.
    pub async fn stop_network(&self) -> Result<()> {
        let _op = self.inner.net_ops.lock().await;
        self.stop_network_locked().await
    }

    /// Returns once the net task has ended and its sockets are closed.
    pub(super) async fn stop_network_locked(&self) -> Result<()> {
        let nostr = self.inner.nostr.lock().ok().and_then(|mut n| n.take());
        if let Some(n) = nostr {
            n.stop().await;
        }
        let relay = self.inner.relay.lock().ok().and_then(|mut r| r.take());
        if let Some(r) = relay {
            let _ = r.stop().await;
        }
        let handle = self.inner.net.lock().ok().and_then(|mut n| n.take());
        if let Some(h) = handle {
            h.stop().await?;
        }
        Ok(())
    }

    /// The relay this device serves for its family, if it does.
    pub fn relay_service(&self) -> Option<crate::relay::Handle> {
        self.inner.relay.lock().ok().and_then(|r| r.clone())
    }

    pub async fn network_status(&self) -> Result<Option<crate::net::Status>> {
        match self.net() {
            Some(h) => {
                let mut s = h.status().await?;
                s.public_mailboxes = self
                    .mailbox_relays()
                    .await
                    .is_some_and(|m| m.relays.iter().any(|r| r.connected));
                Ok(Some(s))
            }
            None => Ok(None),
        }
    }

    pub async fn dial(&self, addr: &str) -> Result<()> {
        let a = addr
            .parse()
            .map_err(|_| Error::Invalid(format!("not a network address: {addr}")))?;
        self.net()
            .ok_or_else(|| Error::Invalid("the network is not running".into()))?
            .dial(a)
            .await
    }

    /// Records that a device was seen now (and where, if we dialed it).
    /// A mailbox confirmed holding my envelopes of these topics up to these seqs.
    pub(crate) async fn note_in_mailbox(
        &self,
        held: Vec<(crate::ids::TopicId, u64)>,
    ) -> Result<()> {
        self.call(move |e| {
            for (t, h) in &held {
                e.note_in_mailbox(t, *h)?;
            }
            Ok(())
        })
        .await
    }

    pub(crate) async fn remember_peer(
        &self,
        device: DeviceId,
        addr: Option<String>,
        seen: bool,
    ) -> Result<()> {
        self.call(move |e| e.remember_peer(&device, addr, seen))
            .await
    }

    /// For every contact: how it is reached right now, through whom, and when it was last seen.
    pub async fn reachability(&self) -> Result<Vec<crate::reach::Reach>> {
        let status = self.network_status().await?;
        self.read(move |c| crate::reach::compute(c, status.as_ref()))
            .await
    }

    /// The family board: every contact's reachability, my messages waiting for them, and
    /// their latest check-in.
    pub async fn family_board(&self) -> Result<crate::board::Board> {
        let status = self.network_status().await?;
        self.read(move |c| crate::board::compute(c, status.as_ref()))
            .await
    }

    pub async fn settings(&self) -> Result<crate::settings::Settings> {
        self.read(crate::settings::read).await
    }

    /// Switches LAN-only mode; a running network restarts under the new rule at once.
    pub async fn set_lan_only(&self, enabled: bool) -> Result<()> {
        self.call(move |e| e.set_setting(crate::settings::LAN_ONLY, &enabled.into()))
            .await?;
        self.restart_network().await
    }

    /// Turns "find family through the public internet" on or off; a running network restarts
    /// under it at once.
    pub async fn set_public_network(&self, on: bool) -> Result<()> {
        self.call(move |e| e.set_setting(crate::settings::PUBLIC_NETWORK, &on.into()))
            .await?;
        self.restart_network().await
    }

    /// Turns "leave messages in public mailboxes" (Nostr relays) on or off; a running network
    /// restarts under it at once.
    pub async fn set_nostr(&self, on: bool) -> Result<()> {
        self.call(move |e| e.set_setting(crate::settings::NOSTR, &on.into()))
            .await?;
        self.restart_network().await
    }

    /// Sets the Nostr relays used as mailboxes (`wss://…`); an empty list restores the bundled
    /// one. A running network restarts to use them.
    pub async fn set_nostr_relays(&self, relays: &[String]) -> Result<()> {
        let mut relays = crate::nostr::check_relays(relays)?;
        if relays.is_empty() {
            relays = crate::settings::Settings::default().nostr_relays;
        }
        self.call(move |e| e.set_setting(crate::settings::NOSTR_RELAYS, &relays.into()))
            .await?;
        self.restart_network().await
    }

    /// Looks in the public mailboxes now (the app came back to the foreground, the network
    /// changed) rather than at the next periodic fetch.
    pub fn check_mailboxes(&self) {
        if let Some(n) = self.inner.nostr.lock().ok().and_then(|n| n.clone()) {
            n.fetch_now();
        }
    }

    /// The Nostr mailbox relays and how each is doing; None when they are not used.
    pub async fn mailbox_relays(&self) -> Option<crate::nostr::Status> {
        let h = self.inner.nostr.lock().ok().and_then(|n| n.clone())?;
        Some(h.status().await)
    }

    /// Sets the family's relays (multiaddrs); a running network restarts to use them.
    pub async fn set_relays(&self, relays: &[String]) -> Result<()> {
        let relays = crate::settings::check_relays(relays)?;
        self.call(move |e| e.set_setting(crate::settings::RELAYS, &relays.into()))
            .await?;
        self.restart_network().await
    }

    /// Serves (or stops serving) as a relay and mailbox for the family; a running network
    /// restarts to apply it.
    pub async fn set_relay_for_family(&self, on: bool) -> Result<()> {
        self.call(move |e| e.set_setting(crate::settings::RELAY_FOR_FAMILY, &on.into()))
            .await?;
        self.restart_network().await
    }

    /// The network configuration the settings ask for: LAN-only or not, relays dialled.
    pub async fn network_config(&self) -> Result<crate::net::Config> {
        let s = self.settings().await?;
        Ok(crate::net::Config {
            lan_only: s.lan_only,
            public_network: s.public_network,
            nostr_relays: if s.nostr { s.nostr_relays } else { Vec::new() },
            relays: s.relays.iter().filter_map(|r| r.parse().ok()).collect(),
            serve_relay: s
                .relay_for_family
                .then(crate::net::Config::default_relay_listen),
            ..crate::net::Config::default()
        })
    }
}
