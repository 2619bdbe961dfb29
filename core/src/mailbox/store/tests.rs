//! The mailbox store against a real SQLite file: membership by proof, deposits, quotas,
//! retention, upgrades.

use super::*;
use crate::envelope::Header;
use crate::mailbox::access::TopicSecret;
use libp2p_identity::ed25519;

struct Device {
    key: ed25519::Keypair,
}

impl Device {
    fn new() -> Device {
        Device {
            key: ed25519::Keypair::generate(),
        }
    }
    fn id(&self) -> DeviceId {
        DeviceId(self.key.public().to_bytes())
    }
    fn envelope(&self, topic: TopicId, seq: u64, len: usize) -> Vec<u8> {
        let header = Header {
            version: crate::envelope::VERSION,
            topic,
            author: self.id(),
            seq,
            key: 1,
        };
        Envelope::seal(header, vec![0xAB; len], &self.key).encode()
    }
}

/// One household's network source.
const HOME: &[u8] = &[198, 51, 100, 7];

fn db() -> (tempfile::TempDir, Connection) {
    let dir = tempfile::tempdir().unwrap();
    let c = open(&dir.path().join("mailbox.db")).unwrap();
    (dir, c)
}

fn secret(n: u8) -> TopicSecret {
    TopicSecret::for_group(&[n; 16])
}

/// The family's topic in most tests.
fn t() -> TopicId {
    secret(7).topic()
}

/// What `d` sends to keep the topic of `s`.
fn asks(d: &Device, s: &TopicSecret) -> (TopicId, KeepProof) {
    (s.topic(), s.proof(&d.id()))
}

#[test]
fn members_deposit_and_fetch_strangers_get_nothing() {
    let (_d, mut c) = db();
    let (mom, son, stranger) = (Device::new(), Device::new(), Device::new());
    let l = Limits::default();
    let kept = keep(&mut c, &mom.id(), HOME, &[asks(&mom, &secret(7))], 1, &l).unwrap();
    assert_eq!(kept, vec![t()]);
    let kept = keep(&mut c, &son.id(), HOME, &[asks(&son, &secret(7))], 1, &l).unwrap();
    assert_eq!(kept, vec![t()]);
    let envs: Vec<Vec<u8>> = (1..=3).map(|s| mom.envelope(t(), s, 100)).collect();
    let r = deposit(&mut c, &mom.id(), &envs, 2, &l).unwrap();
    assert_eq!((r.new, r.duplicate, r.refused), (3, 0, 0));
    // Again: nothing new.
    let r = deposit(&mut c, &son.id(), &envs, 3, &l).unwrap();
    assert_eq!((r.new, r.duplicate, r.refused), (0, 3, 0));

    assert_eq!(topics_for(&c, &son.id()).unwrap(), vec![t()]);
    assert_eq!(have(&c, &[t()]).unwrap().get(&t(), &mom.id()), 3);
    let wants = [Want {
        topic: t(),
        author: mom.id(),
        after: 1,
    }];
    let (got, more) = envelopes(&c, &wants).unwrap();
    assert_eq!(got, envs[1..].to_vec());
    assert!(!more);

    // A stranger: no topics, cannot deposit (even its own envelopes), cannot join.
    assert!(topics_for(&c, &stranger.id()).unwrap().is_empty());
    let r = deposit(
        &mut c,
        &stranger.id(),
        &[stranger.envelope(t(), 1, 10)],
        4,
        &l,
    )
    .unwrap();
    assert_eq!(r.refused, 1);
    let r = deposit(&mut c, &stranger.id(), &[mom.envelope(t(), 4, 10)], 4, &l).unwrap();
    assert_eq!(r.refused, 1);
    // Without the secret: its own topic key, or Mom's proof replayed, opens nothing.
    let own = (t(), secret(9).proof(&stranger.id()));
    let replayed = asks(&mom, &secret(7));
    for ask in [own, replayed] {
        let kept = keep(&mut c, &stranger.id(), HOME, &[ask], 5, &l).unwrap();
        assert!(kept.is_empty());
    }
    assert!(!is_member(&c, &t(), &stranger.id()).unwrap());
    // A member may forward what others wrote (the mailbox does not know who the members
    // are); it counts against the member's own quota.
    let r = deposit(&mut c, &son.id(), &[stranger.envelope(t(), 1, 10)], 6, &l).unwrap();
    assert_eq!(r.new, 1);
}

#[test]
fn a_stranger_cannot_tell_an_existing_topic_from_a_missing_one() {
    let (_d, mut c) = db();
    let (mom, stranger) = (Device::new(), Device::new());
    let l = Limits::default();
    keep(&mut c, &mom.id(), HOME, &[asks(&mom, &secret(7))], 1, &l).unwrap();
    let other = TopicId([8; 16]);
    // Deposits into the family's topic and into a topic nobody keeps look the same.
    let a = deposit(&mut c, &stranger.id(), &[mom.envelope(t(), 1, 10)], 2, &l).unwrap();
    let b = deposit(&mut c, &stranger.id(), &[mom.envelope(other, 1, 10)], 2, &l).unwrap();
    assert_eq!(a, b);
    assert_eq!(
        have(&c, &topics_for(&c, &stranger.id()).unwrap()).unwrap(),
        VersionVectors::default()
    );
}

#[test]
fn forged_and_damaged_envelopes_are_refused() {
    let (_d, mut c) = db();
    let mom = Device::new();
    let l = Limits::default();
    keep(&mut c, &mom.id(), HOME, &[asks(&mom, &secret(7))], 1, &l).unwrap();
    let mut forged = mom.envelope(t(), 1, 50);
    let n = forged.len();
    forged[n - 70] ^= 1;
    let r = deposit(&mut c, &mom.id(), &[forged, vec![1, 2, 3], vec![]], 2, &l).unwrap();
    assert_eq!(r.refused, 3);
    assert_eq!(usage(&c).unwrap().envelopes, 0);
}

#[test]
fn out_of_order_deposits_advance_the_head_when_the_gap_fills() {
    let (_d, mut c) = db();
    let mom = Device::new();
    let l = Limits::default();
    keep(&mut c, &mom.id(), HOME, &[asks(&mom, &secret(7))], 1, &l).unwrap();
    let e: Vec<Vec<u8>> = (1..=4).map(|s| mom.envelope(t(), s, 10)).collect();
    deposit(&mut c, &mom.id(), &[e[2].clone(), e[3].clone()], 2, &l).unwrap();
    assert_eq!(have(&c, &[t()]).unwrap().get(&t(), &mom.id()), 0);
    deposit(&mut c, &mom.id(), &[e[1].clone()], 2, &l).unwrap();
    assert_eq!(have(&c, &[t()]).unwrap().get(&t(), &mom.id()), 0);
    deposit(&mut c, &mom.id(), &[e[0].clone()], 2, &l).unwrap();
    assert_eq!(have(&c, &[t()]).unwrap().get(&t(), &mom.id()), 4);
}

#[test]
fn limits_refuse_rather_than_evict() {
    let (_d, mut c) = db();
    let (mom, dad) = (Device::new(), Device::new());
    let l = Limits {
        topic_bytes: 1000,
        device_bytes: 1500,
        topics_per_device: 2,
        ..Limits::default()
    };
    let t2 = secret(2).topic();
    let kept = keep(
        &mut c,
        &mom.id(),
        HOME,
        &[
            asks(&mom, &secret(7)),
            asks(&mom, &secret(2)),
            asks(&mom, &secret(3)),
        ],
        1,
        &l,
    )
    .unwrap();
    assert_eq!(
        kept,
        vec![t(), t2],
        "a third topic is over the per-device bound"
    );
    // Per topic: the first ~1000 bytes fit, the rest is refused and nothing is evicted.
    let envs: Vec<Vec<u8>> = (1..=10).map(|s| mom.envelope(t(), s, 150)).collect();
    let r = deposit(&mut c, &mom.id(), &envs, 2, &l).unwrap();
    assert!(r.new >= 3 && r.refused >= 1, "{r:?}");
    let first = have(&c, &[t()]).unwrap().get(&t(), &mom.id());
    assert_eq!(first as u32, r.new);
    // Per depositor: the same device cannot spill into its other topic past its bound.
    let envs: Vec<Vec<u8>> = (1..=10).map(|s| mom.envelope(t2, s, 150)).collect();
    let r2 = deposit(&mut c, &mom.id(), &envs, 3, &l).unwrap();
    assert!(r2.refused > 0);
    assert!(usage(&c).unwrap().bytes <= 1500);
    // Dad, a member, still has his own allowance.
    keep(&mut c, &dad.id(), HOME, &[asks(&dad, &secret(2))], 4, &l).unwrap();
    let before = usage(&c).unwrap().bytes;
    let envs = vec![dad.envelope(t2, 1, 10)];
    assert_eq!(deposit(&mut c, &dad.id(), &envs, 4, &l).unwrap().new, 1);
    assert!(usage(&c).unwrap().bytes > before);
}

#[test]
fn member_lists_stay_bounded_however_many_devices_ask() {
    let (_d, mut c) = db();
    let l = Limits {
        members_per_topic: 5,
        ..Limits::default()
    };
    let devices: Vec<Device> = (0..10).map(|_| Device::new()).collect();
    let mut kept = 0;
    for d in &devices {
        kept += keep(&mut c, &d.id(), HOME, &[asks(d, &secret(7))], 1, &l)
            .unwrap()
            .len();
    }
    assert_eq!(kept, 5);
    let n: i64 = c
        .query_row(
            "SELECT COUNT(*) FROM members WHERE topic = ?1",
            [t().as_bytes()],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(n, 5);
    // A member asking again (every hour) is still kept.
    assert_eq!(
        keep(
            &mut c,
            &devices[0].id(),
            HOME,
            &[asks(&devices[0], &secret(7))],
            2,
            &l
        )
        .unwrap(),
        vec![t()]
    );
}

/// A member signing with ever new keys cannot grow the topic's version vector (sent in
/// every answer) past its bound; authors already held go on.
#[test]
fn authors_per_topic_stay_bounded() {
    let (_d, mut c) = db();
    let mom = Device::new();
    let l = Limits {
        authors_per_topic: 3,
        ..Limits::default()
    };
    keep(&mut c, &mom.id(), HOME, &[asks(&mom, &secret(7))], 1, &l).unwrap();
    let keys: Vec<Device> = (0..6).map(|_| Device::new()).collect();
    let envs: Vec<Vec<u8>> = keys.iter().map(|k| k.envelope(t(), 1, 10)).collect();
    let r = deposit(&mut c, &mom.id(), &envs, 2, &l).unwrap();
    assert_eq!((r.new, r.refused), (3, 3));
    assert_eq!(have(&c, &[t()]).unwrap().0[&t()].len(), 3);
    let r = deposit(&mut c, &mom.id(), &[keys[0].envelope(t(), 2, 10)], 3, &l).unwrap();
    assert_eq!(r.new, 1);
}

#[test]
fn retention_drops_old_mail_but_not_the_heads() {
    let (_d, mut c) = db();
    let mom = Device::new();
    let l = Limits {
        retention: std::time::Duration::from_secs(60),
        ..Limits::default()
    };
    keep(&mut c, &mom.id(), HOME, &[asks(&mom, &secret(7))], 0, &l).unwrap();
    deposit(&mut c, &mom.id(), &[mom.envelope(t(), 1, 10)], 1_000, &l).unwrap();
    deposit(&mut c, &mom.id(), &[mom.envelope(t(), 2, 10)], 50_000, &l).unwrap();
    assert_eq!(purge(&mut c, 70_000, &l).unwrap(), 1);
    assert_eq!(usage(&c).unwrap().envelopes, 1);
    assert_eq!(have(&c, &[t()]).unwrap().get(&t(), &mom.id()), 2);
    // Re-depositing the expired one is a duplicate, not a new copy.
    let r = deposit(&mut c, &mom.id(), &[mom.envelope(t(), 1, 10)], 70_001, &l).unwrap();
    assert_eq!(r.duplicate, 1);
    // Later, with nothing left and nobody keeping it, the topic itself goes.
    assert_eq!(purge(&mut c, 200_000, &l).unwrap(), 1);
    assert_eq!(usage(&c).unwrap(), Usage::default());
}

/// Fresh device keys from one household's address get no more room than the household:
/// topics and bytes are bounded per network source, so one machine cannot fill the
/// mailbox (or lock families out of it) by making up identities.
#[test]
fn many_identities_from_one_source_share_its_quota() {
    let (_d, mut c) = db();
    let l = Limits {
        topics_per_source: 3,
        source_bytes: 2_000,
        ..Limits::default()
    };
    let mut kept = 0;
    let sybils: Vec<Device> = (0..6).map(|_| Device::new()).collect();
    for (i, d) in sybils.iter().enumerate() {
        kept += keep(
            &mut c,
            &d.id(),
            HOME,
            &[asks(d, &secret(100 + i as u8))],
            1,
            &l,
        )
        .unwrap()
        .len();
    }
    assert_eq!(kept, 3, "only three topics from one source");
    let mut stored = 0u32;
    for (i, d) in sybils.iter().enumerate().take(3) {
        let t = secret(100 + i as u8).topic();
        for seq in 1..=4 {
            stored += deposit(&mut c, &d.id(), &[d.envelope(t, seq, 300)], 2, &l)
                .unwrap()
                .new;
        }
    }
    let held = usage(&c).unwrap().bytes;
    assert!(
        held <= 2_000,
        "the source's bytes stay in its bound: {held}"
    );
    assert!(
        (3..12).contains(&stored),
        "some stored, the rest refused: {stored}"
    );
    // Another household still gets in.
    let family = Device::new();
    let elsewhere: &[u8] = &[203, 0, 113, 9];
    let t = secret(42).topic();
    assert_eq!(
        keep(
            &mut c,
            &family.id(),
            elsewhere,
            &[asks(&family, &secret(42))],
            3,
            &l
        )
        .unwrap(),
        vec![t]
    );
    assert_eq!(
        deposit(&mut c, &family.id(), &[family.envelope(t, 1, 300)], 3, &l)
            .unwrap()
            .new,
        1
    );
}

/// Topics from before sources were kept (an upgraded mailbox) are bounded by no source's
/// quota, and take the source of the first member who keeps them again.
#[test]
fn topics_of_unknown_source_are_not_one_shared_bucket() {
    let (_d, mut c) = db();
    let l = Limits {
        topics_per_source: 1,
        ..Limits::default()
    };
    let mom = Device::new();
    let old: Vec<(TopicId, KeepProof)> = (0..3).map(|i| asks(&mom, &secret(50 + i))).collect();
    assert_eq!(keep(&mut c, &mom.id(), b"", &old, 1, &l).unwrap().len(), 3);
    let source_of = |c: &Connection, t: &TopicId| -> Vec<u8> {
        c.query_row(
            "SELECT source FROM topics WHERE topic = ?1",
            [t.as_bytes()],
            |r| r.get(0),
        )
        .unwrap()
    };
    assert_eq!(source_of(&c, &old[0].0), Vec::<u8>::new());
    keep(&mut c, &mom.id(), HOME, &old[..1], 2, &l).unwrap();
    assert_eq!(
        source_of(&c, &old[0].0),
        HOME.to_vec(),
        "the topic took its keeper's source"
    );
    let fresh = asks(&mom, &secret(60));
    assert!(
        keep(&mut c, &mom.id(), HOME, &[fresh], 3, &l)
            .unwrap()
            .is_empty(),
        "that source's one topic is used"
    );
}

/// A database made by the first schema and upgraded is the same as a fresh one.
#[test]
fn an_upgraded_mailbox_has_the_fresh_schema() {
    let dir = tempfile::tempdir().unwrap();
    let old = dir.path().join("old.db");
    {
        let c = crate::storage::open(&old, false).unwrap();
        c.execute_batch(SCHEMA).unwrap();
        c.pragma_update(None, "user_version", 1).unwrap();
    }
    let schema = |c: &Connection| -> Vec<String> {
        let mut st = c
            .prepare("SELECT sql FROM sqlite_schema WHERE sql IS NOT NULL ORDER BY name")
            .unwrap();
        st.query_map([], |r| r.get(0))
            .unwrap()
            .map(|r| r.unwrap())
            .collect()
    };
    let upgraded = open(&old).unwrap();
    let fresh = open(&dir.path().join("fresh.db")).unwrap();
    assert_eq!(schema(&upgraded), schema(&fresh));
    let v: i64 = upgraded
        .pragma_query_value(None, "user_version", |r| r.get(0))
        .unwrap();
    assert_eq!(v, SCHEMA_VERSION);
}
