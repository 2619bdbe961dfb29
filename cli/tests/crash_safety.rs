//! Nothing acknowledged is ever lost: a `hearth send --stdin` process is killed with SIGKILL at
//! random moments while it sends thousands of messages; after each restart every message whose
//! id was printed (acknowledged) is present, the database passes `integrity_check`, and the
//! documents agree with the projection (`hearth check`).

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use rand::{RngExt, SeedableRng};

mod support;
use support::{hearth, HEARTH};

/// Alice and Bob, contacts (Alice's directory kept alive), and their chat as Bob has it.
fn contacts() -> (tempfile::TempDir, tempfile::TempDir, String) {
    let a = tempfile::tempdir().unwrap();
    let b = tempfile::tempdir().unwrap();
    hearth(a.path(), &["init", "--name", "Alice"]);
    hearth(b.path(), &["init", "--name", "Bob"]);
    let code = hearth(a.path(), &["invite"]);
    hearth(b.path(), &["accept", code.trim()]);
    let chat = hearth(b.path(), &["chats", "--json"]);
    let chat: serde_json::Value = serde_json::from_str(chat.lines().next().unwrap()).unwrap();
    let chat = chat["chat"].as_str().unwrap().to_string();
    (a, b, chat)
}

/// After a kill: the database passes `hearth check`; then every message of `chat`, as JSON
/// lines.
fn checked_messages(dir: &std::path::Path, chat: &str) -> String {
    let check = hearth(dir, &["check", "--json"]);
    let report: serde_json::Value = serde_json::from_str(check.trim()).unwrap();
    assert_eq!(report["integrity"], "ok");
    assert_eq!(report["problems"].as_array().unwrap().len(), 0, "{report}");
    hearth(
        dir,
        &["messages", "--chat", chat, "--limit", "1000000", "--json"],
    )
}

/// A random generator, its seed printed (set HEARTH_CRASH_SEED to replay a run).
fn seeded() -> (u64, rand::rngs::StdRng) {
    let seed: u64 = std::env::var("HEARTH_CRASH_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(rand::random);
    eprintln!("crash test seed {seed}");
    (seed, rand::rngs::StdRng::seed_from_u64(seed))
}

#[test]
fn sigkill_mid_burst_loses_nothing_acknowledged() {
    let (_a, b, chat) = contacts();
    let (_, mut rng) = seeded();
    let mut acked = BTreeSet::new();
    let rounds = 6;
    for round in 0..rounds {
        let mut child = Command::new(HEARTH)
            .arg("--data-dir")
            .arg(b.path())
            .args(["send", "--chat", &chat, "--stdin"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn");
        let mut stdin = child.stdin.take().unwrap();
        let writer = std::thread::spawn(move || {
            for i in 0..5000 {
                if writeln!(stdin, "round {round} message {i}: 가족 여러분 안녕하세요").is_err()
                {
                    break;
                }
            }
        });
        // Kill after a random number of acknowledgements (or a random time, whichever first).
        let kill_after = rng.random_range(50..1500);
        let deadline = Instant::now() + Duration::from_millis(rng.random_range(200..3000));
        let stdout = BufReader::new(child.stdout.take().unwrap());
        let mut n = 0;
        for l in stdout.lines() {
            let Ok(l) = l else { break };
            acked.insert(l.trim().to_string());
            n += 1;
            if n >= kill_after || Instant::now() > deadline {
                child.kill().expect("SIGKILL");
                break;
            }
        }
        let _ = child.wait();
        let _ = writer.join();
        eprintln!("round {round}: killed after {n} acknowledgements");

        let listed = checked_messages(b.path(), &chat);
        let present: BTreeSet<String> = listed
            .lines()
            .map(|l| {
                serde_json::from_str::<serde_json::Value>(l).unwrap()["id"]
                    .as_str()
                    .unwrap()
                    .to_string()
            })
            .collect();
        let missing: Vec<&String> = acked.iter().filter(|id| !present.contains(*id)).collect();
        assert!(
            missing.is_empty(),
            "round {round}: {} acknowledged messages lost",
            missing.len()
        );
    }
    assert!(
        acked.len() >= rounds,
        "the test must actually acknowledge messages"
    );
}

/// A photo or file acknowledged is never lost either: `hearth send --file` is killed with
/// SIGKILL at random moments (while sealing chunks, syncing them, committing the message, or
/// not at all); after each kill, every send whose id was printed has its message and its blob
/// whole (written out byte-equal to what was sent), the database passes `hearth check`, and the
/// chunks of sends cut off before their message committed are swept at the next open: what is
/// on disk is exactly the blobs messages name.
#[test]
fn sigkill_mid_file_send_loses_nothing_acknowledged_and_leaves_no_orphans() {
    let (_a, b, chat) = contacts();
    let (seed, mut rng) = seeded();
    // What each acknowledged send sent: blob id → the file's bytes.
    let mut acked: Vec<(String, String, Vec<u8>)> = Vec::new();
    let (mut killed, rounds) = (0, 24);
    let mut send_ms = 0;
    for round in 0..rounds {
        let bytes: Vec<u8> = (0..1_500_000u32)
            .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8 ^ round as u8)
            .collect();
        let file = b.path().join(format!("send-{round}.bin"));
        std::fs::write(&file, &bytes).unwrap();
        let mut child = Command::new(HEARTH)
            .arg("--data-dir")
            .arg(b.path())
            .args(["--json", "send", "--chat", &chat, "--file"])
            .arg(&file)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn");
        // The first send runs to its end, and says how long one takes on this machine now
        // (about 150 ms in a debug build, more when the machine is busy); every later one is
        // killed anywhere in that time or a little after it.
        let started = Instant::now();
        if round > 0 {
            let within = send_ms.max(1) * 3 / 2;
            std::thread::sleep(Duration::from_millis(rng.random_range(0..within)));
            let _ = child.kill();
        }
        let out = child.wait_with_output().unwrap();
        if round == 0 {
            send_ms = started.elapsed().as_millis() as u64;
        }
        let printed = String::from_utf8_lossy(&out.stdout).to_string();
        match printed.lines().next() {
            Some(l) => {
                let v: serde_json::Value = serde_json::from_str(l).unwrap();
                acked.push((
                    v["sent"].as_str().unwrap().to_string(),
                    v["blob"].as_str().unwrap().to_string(),
                    bytes,
                ));
            }
            None => killed += 1,
        }
        std::fs::remove_file(&file).unwrap();

        // Opening sweeps what a cut-off send left; then everything acknowledged is whole.
        let listed = checked_messages(b.path(), &chat);
        let named: BTreeSet<String> = listed
            .lines()
            .filter_map(|l| {
                let v: serde_json::Value = serde_json::from_str(l).unwrap();
                v["attachment"]["blob"].as_str().map(str::to_string)
            })
            .collect();
        let ids: BTreeSet<String> = listed
            .lines()
            .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()["id"].to_string())
            .collect();
        for (sent, blob, bytes) in &acked {
            assert!(
                ids.contains(&format!("\"{sent}\"")),
                "round {round}: an acknowledged send is lost"
            );
            let out = b.path().join("out.bin");
            hearth(
                b.path(),
                &["blob", "get", blob, "--out", out.to_str().unwrap()],
            );
            assert!(
                std::fs::read(&out).unwrap() == *bytes,
                "round {round}: blob {blob} is not what was sent"
            );
            std::fs::remove_file(&out).unwrap();
        }
        let on_disk: BTreeSet<String> = std::fs::read_dir(b.path().join("blobs"))
            .map(|d| {
                d.map(|e| e.unwrap().file_name().to_string_lossy().to_string())
                    .collect()
            })
            .unwrap_or_default();
        assert_eq!(
            on_disk, named,
            "round {round}: blobs on disk no message names"
        );
    }
    eprintln!("{} sends acknowledged, {killed} killed before", acked.len());
    assert!(
        !acked.is_empty() && killed > 0,
        "the test must see sends both finish and be cut off (seed {seed})"
    );
}
