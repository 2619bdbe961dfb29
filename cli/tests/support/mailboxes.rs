//! Public mailboxes for the Nostr scenarios: stock `nostr-rs-relay` instances (crates.io, not
//! written by this project) on a simulated public internet, and two homes behind NAT routers,
//! all in network namespaces with no route anywhere else. No Hearth relay, no public libp2p
//! network: between the homes there is no libp2p path at all, only the mailboxes.

use std::path::{Path, PathBuf};

use super::*;

pub const RELAYS: usize = 3;
pub const PORT: u16 = 7777;

pub fn relay_ip(i: usize) -> String {
    format!("11.{}.0.1", 50 + i)
}

pub struct Mailboxes {
    pub net: Net,
    pub root: tempfile::TempDir,
    pub relays: Vec<Option<Running>>,
    pub urls: Vec<String>,
}

impl Mailboxes {
    /// `RELAYS` relays (each its own operator: its own address, namespace and database) and
    /// two homes; a home's NAT is symmetric if asked (no hole punching gets through it).
    pub fn new(tag: &str, symmetric_a: bool, symmetric_b: bool) -> Mailboxes {
        let mut net = Net::new(tag);
        two_homes(&mut net, symmetric_a, symmetric_b);
        for i in 0..RELAYS {
            net.host(&format!("n{i}"), &[("inet", &format!("{}/8", relay_ip(i)))]);
        }
        let root = tempfile::tempdir().unwrap();
        let mut w = Mailboxes {
            net,
            root,
            relays: Vec::new(),
            urls: Vec::new(),
        };
        for i in 0..RELAYS {
            let r = Running::nostr_relay(
                &w.relay_dir(i),
                &w.net.ns(&format!("n{i}")),
                &relay_ip(i),
                PORT,
            );
            w.relays.push(Some(r));
            w.urls.push(format!("ws://{}:{PORT}", relay_ip(i)));
        }
        w
    }

    pub fn relay_dir(&self, i: usize) -> PathBuf {
        self.root.path().join(format!("relay{i}"))
    }

    /// Stops relay `i` (its operator went away); its database stays for reading.
    pub fn kill_relay(&mut self, i: usize) {
        self.relays[i] = None;
    }

    /// A device in home `a` or `b`.
    pub fn device(&mut self, home: &str, name: &str) -> (PathBuf, String) {
        home_device(&mut self.net, self.root.path(), home, name)
    }

    /// Mom in home A and Son in home B, running with every relay as their mailbox, made
    /// contacts through the mailboxes only (the invite's answer and the handshake).
    pub fn homes(&mut self) -> (PathBuf, String, Running, PathBuf, String, Running) {
        let (mom, mom_ns) = self.device("a", "Mom");
        let (son, son_ns) = self.device("b", "Son");
        let args = self.args();
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let ra = Running::start(&mom, Some(&mom_ns), None, &args);
        let rb = Running::start(&son, Some(&son_ns), None, &args);
        let code = hearth(&mom, &["invite"]);
        hearth(&son, &["accept", code.trim()]);
        eventually("contact connected through the mailboxes", 60, || {
            [&mom, &son].iter().all(|d| {
                hearth_json(d, &["contacts"])
                    .iter()
                    .any(|c| c["state"] == "connected")
            })
        });
        (mom, mom_ns, ra, son, son_ns, rb)
    }

    /// `hearth run` arguments for a device using every relay as a mailbox.
    pub fn args(&self) -> Vec<String> {
        let mut a = vec!["--no-mdns".to_string()];
        for u in &self.urls {
            a.push("--nostr-relay".into());
            a.push(u.clone());
        }
        a
    }

    /// Every byte of relay `i`'s database (the SQLite files, WAL included).
    pub fn relay_bytes(&self, i: usize) -> Vec<u8> {
        let mut out = Vec::new();
        for e in std::fs::read_dir(self.relay_dir(i)).unwrap().flatten() {
            let name = e.file_name().to_string_lossy().to_string();
            if name.starts_with("nostr.db") {
                out.extend(std::fs::read(e.path()).unwrap_or_default());
            }
        }
        out
    }

    /// Relay `i`'s events as (author pubkey, p tag, content length), read with sqlite3's JSON
    /// from the stock schema.
    pub fn relay_events(&self, i: usize) -> Vec<serde_json::Value> {
        let db = self.relay_dir(i).join("nostr.db");
        let conn =
            rusqlite::Connection::open_with_flags(&db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
                .unwrap();
        let mut st = conn.prepare("SELECT content FROM event").unwrap();
        st.query_map([], |r| r.get::<_, String>(0))
            .unwrap()
            .filter_map(|r| r.ok())
            .filter_map(|j| serde_json::from_str(&j).ok())
            .collect()
    }
}

/// The message `id`'s line in `hearth messages` of the first chat.
pub fn message(dir: &Path, id: &str) -> serde_json::Value {
    let chat = hearth_json(dir, &["chats"])[0]["chat"]
        .as_str()
        .unwrap()
        .to_string();
    hearth_json(dir, &["messages", "--chat", &chat])
        .into_iter()
        .find(|m| m["id"] == id)
        .unwrap_or_default()
}
