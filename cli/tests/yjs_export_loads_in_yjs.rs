//! `hearth export --format yjs` writes a document the reference Yjs implementation (JavaScript)
//! loads, with the same messages the JSON export shows.

use std::path::Path;
use std::process::Command;

mod support;
use support::hearth;

#[test]
fn yjs_export_loads_in_reference_yjs() {
    let tools = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tools/yjs-check");
    assert!(
        tools.join("node_modules/yjs").exists(),
        "run `npm ci --prefix tools/yjs-check` first (scripts/test.sh does)"
    );
    let a = tempfile::tempdir().unwrap();
    let b = tempfile::tempdir().unwrap();
    hearth(a.path(), &["init", "--name", "Alice"]);
    hearth(b.path(), &["init", "--name", "Bob"]);
    let code = hearth(a.path(), &["invite"]);
    hearth(b.path(), &["accept", code.trim()]);
    let id = hearth(b.path(), &["send", "--to", "Alice", "안녕하세요 🙂"]);
    hearth(b.path(), &["react", id.trim(), "👍"]);
    let out = b.path().join("chat.yjs");
    hearth(
        b.path(),
        &[
            "export",
            "--chat",
            "Alice",
            "--format",
            "yjs",
            "--out",
            out.to_str().unwrap(),
        ],
    );
    let js = Command::new("node")
        .arg(tools.join("load.mjs"))
        .arg(&out)
        .output()
        .expect("node");
    assert!(
        js.status.success(),
        "{}",
        String::from_utf8_lossy(&js.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&js.stdout).unwrap();
    let msgs = v["messages"].as_array().unwrap();
    assert_eq!(msgs.len(), 1);
    assert_eq!(msgs[0]["body"], "안녕하세요 🙂");
    assert_eq!(msgs[0]["id"], id.trim());
    assert_eq!(
        msgs[0]["reactions"]
            .as_object()
            .unwrap()
            .values()
            .next()
            .unwrap(),
        "👍"
    );
    assert_eq!(v["meta"]["kind"], "direct");
}
