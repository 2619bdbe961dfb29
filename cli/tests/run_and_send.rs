//! `hearth run` in the foreground; `hearth send` (and every other command) from another shell
//! on the same data directory is executed by the running node and goes out at once, for its
//! caller: with the caller's standard input and working directory, failing as it would alone.

use std::process::Output;
use std::time::Duration;

mod support;
use support::{bodies, eventually, hearth, hearth_from, Running};

/// The error line a failed command printed (under `--json`, one JSON object).
fn error_line(out: &Output) -> String {
    assert!(!out.status.success(), "the command did not fail");
    let stderr = String::from_utf8_lossy(&out.stderr);
    stderr.lines().last().unwrap_or_default().to_string()
}

#[test]
fn send_from_another_shell_goes_out_at_once() {
    let a = tempfile::tempdir().unwrap();
    let b = tempfile::tempdir().unwrap();
    hearth(a.path(), &["init", "--name", "Alice"]);
    hearth(b.path(), &["init", "--name", "Bob"]);
    // A command failing in its own process, to compare with the same failure forwarded.
    let nobody = ["--json", "messages", "--chat", "Nobody"];
    let direct = hearth_from(a.path(), a.path(), &nobody, "");
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

    // `send --stdin` forwarded: the caller's input, one message per line, blank lines skipped.
    let sent = hearth_from(
        b.path(),
        b.path(),
        &["--json", "send", "--to", "Alice", "--stdin"],
        "piped first\n\npiped second\n",
    );
    assert!(sent.status.success(), "{}", error_line(&sent));
    assert_eq!(String::from_utf8_lossy(&sent.stdout).lines().count(), 2);
    eventually("alice has the piped lines", 20, || {
        let got = bodies(a.path(), "Bob");
        got.iter().any(|b| b == "piped first") && got.iter().any(|b| b == "piped second")
    });

    // A relative path is the caller's: the export lands in the caller's directory.
    let caller = tempfile::tempdir().unwrap();
    std::fs::create_dir(caller.path().join("forwarded-export")).unwrap();
    let export = hearth_from(
        caller.path(),
        a.path(),
        &[
            "export",
            "--chat",
            "Bob",
            "--out",
            "forwarded-export/chat.json",
        ],
        "",
    );
    assert!(export.status.success(), "{}", error_line(&export));
    let chat = std::fs::read_to_string(caller.path().join("forwarded-export/chat.json")).unwrap();
    assert!(chat.contains("hello from another shell"), "{chat}");

    // A forwarded failure prints what the same failure prints in its own process.
    let forwarded = hearth_from(a.path(), a.path(), &nobody, "");
    assert_eq!(error_line(&forwarded), error_line(&direct));
    assert_eq!(forwarded.status.code(), direct.status.code());
    let error: serde_json::Value = serde_json::from_str(&error_line(&forwarded)).unwrap();
    assert_eq!(error["error"], "not_found", "{error}");
}
