//! `hearth run` in the foreground; `hearth send` (and every other command) from another shell
//! on the same data directory is executed by the running node and goes out at once.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

const HEARTH: &str = env!("CARGO_BIN_EXE_hearth");

fn hearth(dir: &Path, args: &[&str]) -> String {
    let out = Command::new(HEARTH)
        .arg("--data-dir")
        .arg(dir)
        .args(args)
        .output()
        .expect("run hearth");
    assert!(
        out.status.success(),
        "hearth {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// A running node whose JSON event lines arrive on a channel.
struct Running {
    child: Child,
    lines: mpsc::Receiver<serde_json::Value>,
}

impl Running {
    fn start(dir: &Path) -> Running {
        let mut child = Command::new(HEARTH)
            .arg("--data-dir")
            .arg(dir)
            .args([
                "--json",
                "run",
                "--lan-only",
                "--no-mdns",
                "--listen",
                "/ip4/127.0.0.1/tcp/0",
            ])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let out = BufReader::new(child.stdout.take().unwrap());
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for l in out.lines().map_while(Result::ok) {
                if let Ok(v) = serde_json::from_str(&l) {
                    if tx.send(v).is_err() {
                        break;
                    }
                }
            }
        });
        Running { child, lines }
    }

    /// The next event line matching `pred` (waits up to 20 s).
    fn wait_for(&self, what: &str, pred: impl Fn(&serde_json::Value) -> bool) -> serde_json::Value {
        let deadline = std::time::Instant::now() + Duration::from_secs(20);
        while let Some(left) = deadline.checked_duration_since(std::time::Instant::now()) {
            match self.lines.recv_timeout(left) {
                Ok(v) if pred(&v) => return v,
                Ok(_) => {}
                Err(_) => break,
            }
        }
        panic!("timed out waiting for {what}");
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn send_from_another_shell_goes_out_at_once() {
    let a = tempfile::tempdir().unwrap();
    let b = tempfile::tempdir().unwrap();
    hearth(a.path(), &["init", "--name", "Alice"]);
    hearth(b.path(), &["init", "--name", "Bob"]);
    let ra = Running::start(a.path());
    ra.wait_for("alice listening", |v| v["event"] == "listening");
    let rb = Running::start(b.path());
    rb.wait_for("bob listening", |v| v["event"] == "listening");
    // These commands run while the nodes hold their data directories.
    let code = hearth(a.path(), &["invite"]);
    hearth(b.path(), &["accept", code.trim()]);
    ra.wait_for("alice sees bob", |v| v["event"] == "peer_reachable");
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while !hearth(a.path(), &["contacts"]).contains("connected") {
        assert!(
            std::time::Instant::now() < deadline,
            "contact never connected"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let id = hearth(
        b.path(),
        &["send", "--to", "Alice", "hello from another shell"],
    );
    let got = ra.wait_for("message received", |v| v["event"] == "message_received");
    assert_eq!(got["body"], "hello from another shell");
    assert_eq!(got["message"], id.trim());
    rb.wait_for("delivered", |v| {
        v["event"] == "delivered" && v["message"] == id.trim()
    });
    hearth(a.path(), &["read", "--chat", "Bob"]);
    rb.wait_for("read", |v| {
        v["event"] == "read" && v["message"] == id.trim()
    });
    let status: serde_json::Value =
        serde_json::from_str(&hearth(b.path(), &["--json", "status"])).unwrap();
    assert_eq!(status["contacts"][0]["path"], "lan", "{status}");
}
