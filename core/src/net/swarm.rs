//! Building the swarm: transports and behaviours for the chosen mode.
//!
//! LAN-only mode has no DNS and no relay transport at all, so nothing could leave the LAN
//! whatever the rest of the code did; otherwise TCP, QUIC, DNS and the circuit relay client.

use libp2p::{noise, tcp, yamux, Swarm};

use super::behaviour::Behaviour;
use super::{Config, IDLE_TIMEOUT};
use crate::error::{Error, Result};

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// The swarm for `cfg`, listening on its addresses.
pub(super) fn build(cfg: &Config, keypair: libp2p::identity::Keypair) -> Result<Swarm<Behaviour>> {
    let use_mdns = cfg.mdns;
    let public = cfg.public_network;
    let transport_err =
        |e: &dyn std::fmt::Display| Error::Invalid(format!("network transport: {e}"));
    let behaviour_err =
        |e: &dyn std::fmt::Display| Error::Invalid(format!("network behaviour: {e}"));
    let tcp_config = tcp::Config::default().nodelay(true);
    let mut swarm = if cfg.lan_only {
        libp2p::SwarmBuilder::with_existing_identity(keypair)
            .with_tokio()
            .with_tcp(tcp_config, noise::Config::new, yamux::Config::default)
            .map_err(|e| transport_err(&e))?
            .with_quic()
            .with_behaviour(|key| -> std::result::Result<Behaviour, BoxError> {
                Ok(Behaviour::new(key, use_mdns, None, false)?)
            })
            .map_err(|e| behaviour_err(&e))?
            .with_swarm_config(|c| c.with_idle_connection_timeout(IDLE_TIMEOUT))
            .build()
    } else {
        libp2p::SwarmBuilder::with_existing_identity(keypair)
            .with_tokio()
            .with_tcp(tcp_config, noise::Config::new, yamux::Config::default)
            .map_err(|e| transport_err(&e))?
            .with_quic()
            .with_dns()
            .map_err(|e| transport_err(&e))?
            .with_relay_client(noise::Config::new, yamux::Config::default)
            .map_err(|e| transport_err(&e))?
            .with_behaviour(|key, relay| -> std::result::Result<Behaviour, BoxError> {
                Ok(Behaviour::new(key, use_mdns, Some(relay), public)?)
            })
            .map_err(|e| behaviour_err(&e))?
            .with_swarm_config(|c| c.with_idle_connection_timeout(IDLE_TIMEOUT))
            .build()
    };
    for addr in &cfg.listen {
        swarm
            .listen_on(addr.clone())
            .map_err(|e| Error::Invalid(format!("cannot listen on {addr}: {e}")))?;
    }
    Ok(swarm)
}
