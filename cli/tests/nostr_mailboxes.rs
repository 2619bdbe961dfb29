//! Public mailboxes, for real: stock `nostr-rs-relay` instances on a simulated internet and two
//! homes behind NAT with no libp2p path between them (`support::mailboxes`). Each scenario of
//! the Nostr mailbox issue, against relays this project did not write.

mod support;

use support::mailboxes::*;
use support::*;

/// (a) Mom sends while Son's home is offline and no libp2p path exists; Son comes back later,
/// gets the message, and Mom sees "delivered" (his receipt came back through the mailboxes).
/// (b) Two of the three relays are killed in between: still delivered. (e) Every relay's
/// database afterwards: no message text, no name, no Hearth id, and nothing that stays the
/// same from one event to the next but the day's tag.
#[test]
fn a_message_waits_in_public_mailboxes_while_a_home_is_offline() {
    let mut w = Mailboxes::new("nma", false, false);
    // The invite's answer and the handshake travel through the mailboxes: there is no other
    // way between the homes.
    let (mom, _, ra, son, son_ns, rb) = w.homes();
    let args = w.args();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let st = hearth_json(&mom, &["status"]).remove(0);
    assert!(
        st["network"]["peers"]
            .as_array()
            .into_iter()
            .flatten()
            .all(|p| p["path"] == "none" || p["path"] == "mailbox"),
        "no libp2p path between the homes: {st}"
    );
    for r in st["mailbox_relays"]["relays"].as_array().unwrap() {
        assert_eq!(r["connected"], true, "{r}");
    }

    // Son's home goes offline.
    rb.stop();
    let id = hearth(
        &mom,
        &["send", "--to", "Son", "dinner at 7, bring the kimchi"],
    );
    let id = id.trim().to_string();
    eventually("handed to three mailboxes", 30, || {
        let m = message(&mom, &id);
        m["status"] == "in_mailbox" && m["mailboxes"].as_array().map_or(0, |a| a.len()) == 3
    });

    // (b) Two operators go away while Son is offline.
    w.kill_relay(1);
    w.kill_relay(2);

    let rb = Running::start(&son, Some(&son_ns), None, &args);
    rb.wait_for("Son gets the message", 60, |v| {
        v["event"] == "message_received" && v["body"] == "dinner at 7, bring the kimchi"
    });
    ra.wait_for("Mom sees it delivered", 60, |v| {
        v["event"] == "delivered" && v["message"] == id.as_str()
    });
    assert_eq!(message(&mom, &id)["status"], "delivered");
    assert_eq!(
        message(&mom, &id)["mailboxes"].as_array().map(|a| a.len()),
        Some(0),
        "a delivered message no longer waits anywhere"
    );

    // And the other way, while both are online: the reply arrives through the one relay left.
    let reply = hearth(&son, &["send", "--to", "Mom", "ok! 🥬"]);
    ra.wait_for("Mom gets the reply", 60, |v| {
        v["event"] == "message_received" && v["body"] == "ok! 🥬"
    });
    rb.wait_for("Son sees it delivered", 60, |v| {
        v["event"] == "delivered" && v["message"] == reply.trim()
    });

    // (e) What the relays hold.
    // (Names of three letters would turn up by chance in kilobytes of base64: the
    // sentences, and ids of 26 characters and more, cannot.)
    let mut secrets: Vec<String> = vec!["dinner at 7".into(), "bring the kimchi".into()];
    for d in [&mom, &son] {
        let me = hearth_json(d, &["whoami"]).remove(0);
        for k in ["account", "device"] {
            secrets.push(me[k].as_str().unwrap().to_string());
        }
        for c in hearth_json(d, &["chats"]) {
            secrets.push(c["chat"].as_str().unwrap().to_string());
        }
    }
    let mut events = 0;
    for i in 0..RELAYS {
        let bytes = String::from_utf8_lossy(&w.relay_bytes(i)).to_string();
        for s in &secrets {
            assert!(
                !bytes.contains(s.as_str()),
                "relay {i}'s database holds {s:?}"
            );
        }
        let evs = w.relay_events(i);
        assert!(!evs.is_empty(), "relay {i} held the deposits");
        let mut authors = std::collections::HashSet::new();
        for e in &evs {
            assert!(authors.insert(e["pubkey"].as_str().unwrap().to_string()));
            let tags = e["tags"].as_array().unwrap();
            assert!(tags.iter().any(|t| t[0] == "expiration"), "NIP-40: {e}");
            assert_eq!(tags.iter().filter(|t| t[0] == "p").count(), 1);
        }
        events += evs.len();
    }
    assert!(events >= 3);
}

/// (c) Both homes behind symmetric NAT (no hole punch could get through) and no family relay:
/// messages flow both ways through the mailboxes, each acknowledged by the other's receipt.
#[test]
fn both_homes_behind_symmetric_nat_talk_through_the_mailboxes() {
    let mut w = Mailboxes::new("nmc", true, true);
    let (mom, _, ra, son, _, rb) = w.homes();
    for i in 0..5 {
        let (from, to, rf, rt, name) = if i % 2 == 0 {
            (&mom, "Son", &ra, &rb, "Mom")
        } else {
            (&son, "Mom", &rb, &ra, "Son")
        };
        let body = format!("{name} says {i}: 잘 지내?");
        let id = hearth(from, &["send", "--to", to, &body]);
        rt.wait_for("the message arrives", 60, |v| {
            v["event"] == "message_received" && v["body"] == body.as_str()
        });
        rf.wait_for("delivered", 60, |v| {
            v["event"] == "delivered" && v["message"] == id.trim()
        });
    }
}
