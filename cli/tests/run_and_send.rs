//! `hearth run` in the foreground; `hearth send` (and every other command) from another shell
//! on the same data directory is executed by the running node and goes out at once.

use std::time::Duration;

mod support;
use support::{hearth, Running};

#[test]
fn send_from_another_shell_goes_out_at_once() {
    let a = tempfile::tempdir().unwrap();
    let b = tempfile::tempdir().unwrap();
    hearth(a.path(), &["init", "--name", "Alice"]);
    hearth(b.path(), &["init", "--name", "Bob"]);
    let local = [
        "--lan-only",
        "--no-mdns",
        "--listen",
        "/ip4/127.0.0.1/tcp/0",
    ];
    let ra = Running::start(a.path(), None, None, &local);
    let rb = Running::start(b.path(), None, None, &local);
    // These commands run while the nodes hold their data directories.
    let code = hearth(a.path(), &["invite"]);
    hearth(b.path(), &["accept", code.trim()]);
    ra.wait_for("alice sees bob", 20, |v| v["event"] == "peer_reachable");
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
    let got = ra.wait_for("message received", 20, |v| v["event"] == "message_received");
    assert_eq!(got["body"], "hello from another shell");
    assert_eq!(got["message"], id.trim());
    rb.wait_for("delivered", 20, |v| {
        v["event"] == "delivered" && v["message"] == id.trim()
    });
    hearth(a.path(), &["read", "--chat", "Bob"]);
    rb.wait_for("read", 20, |v| {
        v["event"] == "read" && v["message"] == id.trim()
    });
    let status: serde_json::Value =
        serde_json::from_str(&hearth(b.path(), &["--json", "status"])).unwrap();
    assert_eq!(status["contacts"][0]["path"], "lan", "{status}");
}
