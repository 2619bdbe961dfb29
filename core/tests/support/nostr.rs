//! A stock Nostr relay on loopback for the public-mailbox tests: `nostr-rs-relay` (crates.io,
//! not written by this project; `scripts/deps.sh` installs it), with its own SQLite database in
//! a temporary directory.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct NostrRelay {
    child: Child,
    pub dir: tempfile::TempDir,
    pub port: u16,
}

impl NostrRelay {
    pub fn start() -> NostrRelay {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("config.toml");
        std::fs::write(
            &config,
            format!(
                "[info]\nrelay_url = \"ws://127.0.0.1:{port}/\"\n\
                 [database]\ndata_directory = \"{}\"\n\
                 [network]\naddress = \"127.0.0.1\"\nport = {port}\n",
                dir.path().display()
            ),
        )
        .unwrap();
        let child = Command::new("nostr-rs-relay")
            .arg("--config")
            .arg(&config)
            .current_dir(dir.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("nostr-rs-relay (scripts/deps.sh installs it)");
        let deadline = Instant::now() + Duration::from_secs(30);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "nostr-rs-relay did not start");
            std::thread::sleep(Duration::from_millis(50));
        }
        NostrRelay { child, dir, port }
    }

    pub fn url(&self) -> String {
        format!("ws://127.0.0.1:{}", self.port)
    }
}

impl Drop for NostrRelay {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Networking on loopback with these Nostr relays as mailboxes for the run, and nothing else: no LAN
/// discovery, no public network, no address to dial. Two such nodes have no libp2p path.
pub fn with_mailboxes(urls: &[String]) -> hearth_core::net::Config {
    hearth_core::net::Config {
        listen: vec!["/ip4/127.0.0.1/tcp/0".parse().unwrap()],
        lan_only: false,
        mdns: false,
        public_network: false,
        nostr_relays: urls.to_vec(),
        // For the whole run, as `hearth run --nostr-relay` gives them: a settings change that
        // restarts the network keeps them.
        run: hearth_core::net::RunChoices {
            nostr_relays: urls.to_vec(),
            ..Default::default()
        },
        ..Default::default()
    }
}
