//! Resolving a group's operations into who is a member, the same way on every device.
//!
//! The input is a set: whatever order operations arrived in, the result is the same. Steps:
//!
//! 1. **Order.** Starting from the Create whose id is the conversation id, operations are
//!    taken in a topological order of the parent graph; among operations ready at the same
//!    time, the smallest `(at, author, id)` goes first. An operation whose parents are not all
//!    here waits (it is not part of the order yet). Any other Create is ignored.
//! 2. **Removals win.** A Remove counts if its author was a member, and its target still one,
//!    in the state of the Remove's own causal past (its ancestors). So a member who is being
//!    removed cannot undo that by claiming to have removed the remover "first": concurrent
//!    removals of each other remove both.
//! 3. **Late operations do not count.** An operation of a removed member's device that the
//!    remover had not seen (not an ancestor of the Remove, not after it) and whose seq is past
//!    the Remove's cut for that device is void: a removed member cannot slip in an accomplice
//!    or a rename by backdating. (A Remove void this way against a Remove that is itself void
//!    against it — two members removing each other — still counts: see 2.)
//! 4. **The fold.** Operations are applied in order; an Add or Rename counts if its author's
//!    device belongs to a current member at that point. A Remove that counts (2, 3) removes
//!    its target with its cut, whatever else happened concurrently.
//!
//! Concurrent Add and Remove of the same person resolve by the order of step 1. Every rule
//! depends only on the set of operations, so devices that hold the same operations agree.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap, HashMap};

use super::{Change, Verified, MAX_OPS, MAX_OPS_PER_DEVICE};
use crate::identity::DeviceBundle;
use crate::ids::{AccountId, ChatId, DeviceId, OpId, TopicId};

/// A member as resolved.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Member {
    pub name: String,
    pub bundles: Vec<DeviceBundle>,
    /// Set once removed (or left): per device, the last seq still accepted.
    pub removed: Option<BTreeMap<DeviceId, u64>>,
}

/// A group as its operations say it is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct State {
    pub topic: TopicId,
    pub title: String,
    /// Everyone who has ever been a member; removed members keep their record and cut.
    pub members: BTreeMap<AccountId, Member>,
    /// Operations nothing else names as a parent: the parents of this device's next one.
    pub heads: Vec<OpId>,
    /// The latest `at` of any operation, so a new one sorts after everything seen.
    pub max_at: u64,
    /// Operations held that wait for a parent this device does not have yet.
    pub waiting: usize,
}

impl State {
    /// The current (not removed) member a device belongs to.
    pub fn current_account_of(&self, device: &DeviceId) -> Option<AccountId> {
        current_account_of(&self.members, device)
    }

    pub fn is_current(&self, account: &AccountId) -> bool {
        self.members
            .get(account)
            .is_some_and(|m| m.removed.is_none())
    }
}

/// Resolves the operations of conversation `chat`; None if its Create is not among them.
pub fn resolve(chat: &ChatId, ops: &[Verified]) -> Option<State> {
    Graph::build(chat, ops).map(|g| g.state())
}

fn current_account_of(
    members: &BTreeMap<AccountId, Member>,
    device: &DeviceId,
) -> Option<AccountId> {
    members
        .iter()
        .find(|(_, m)| m.removed.is_none() && m.bundles.iter().any(|b| b.device == *device))
        .map(|(a, _)| *a)
}

/// A fixed-size set of positions in the order.
#[derive(Clone)]
struct Bits(Vec<u64>);

impl Bits {
    fn new(n: usize) -> Bits {
        Bits(vec![0; n.div_ceil(64)])
    }
    fn has(&self, i: usize) -> bool {
        self.0[i / 64] & (1 << (i % 64)) != 0
    }
    fn set(&mut self, i: usize) {
        self.0[i / 64] |= 1 << (i % 64);
    }
    fn union(&mut self, other: &Bits) {
        for (a, b) in self.0.iter_mut().zip(&other.0) {
            *a |= b;
        }
    }
}

struct Graph<'a> {
    /// Operations in resolution order; position 0 is the Create.
    order: Vec<&'a Verified>,
    /// Per position, the positions of its ancestors.
    anc: Vec<Bits>,
    /// Per position, the account its author's device belongs to (from any record).
    author_account: Vec<Option<AccountId>>,
    /// Per position: a Remove whose author and target were members in its causal past.
    causal_ok: Vec<bool>,
    /// Per position: past its author device's quota.
    over_quota: Vec<bool>,
    waiting: usize,
}

/// What a fold produces.
struct Folded {
    title: String,
    members: BTreeMap<AccountId, Member>,
}

impl<'a> Graph<'a> {
    fn build(chat: &ChatId, ops: &'a [Verified]) -> Option<Graph<'a>> {
        let mut by_id: HashMap<OpId, usize> = HashMap::new();
        for (i, v) in ops.iter().enumerate() {
            by_id.entry(v.id).or_insert(i);
        }
        let genesis = *by_id.get(&OpId(chat.0))?;
        if !matches!(ops[genesis].op.change, Change::Create { .. }) {
            return None;
        }
        // Kahn's algorithm over the operations whose parents are all here.
        let mut indegree = vec![0usize; ops.len()];
        let mut children: Vec<Vec<usize>> = vec![Vec::new(); ops.len()];
        let mut candidate = vec![false; ops.len()];
        for (i, v) in ops.iter().enumerate() {
            if by_id.get(&v.id) != Some(&i) || matches!(v.op.change, Change::Create { .. }) {
                continue;
            }
            if v.op.parents.iter().all(|p| by_id.contains_key(p)) {
                candidate[i] = true;
                indegree[i] = v.op.parents.len();
                for p in &v.op.parents {
                    children[by_id[p]].push(i);
                }
            }
        }
        let key = |i: usize| Reverse((ops[i].op.at, ops[i].op.author, ops[i].id, i));
        let mut ready = BinaryHeap::from([key(genesis)]);
        let mut order = Vec::new();
        let mut pos = vec![usize::MAX; ops.len()];
        while let Some(Reverse((_, _, _, i))) = ready.pop() {
            if order.len() == MAX_OPS {
                break;
            }
            pos[i] = order.len();
            order.push(&ops[i]);
            for &c in &children[i] {
                if candidate[c] {
                    indegree[c] -= 1;
                    if indegree[c] == 0 {
                        ready.push(key(c));
                    }
                }
            }
        }
        let n = order.len();
        let mut anc = Vec::with_capacity(n);
        for v in &order {
            let mut bits = Bits::new(n);
            for p in &v.op.parents {
                let pp = pos[by_id[p]];
                bits.union(&anc[pp]);
                bits.set(pp);
            }
            anc.push(bits);
        }
        // Devices belong to the account whose record lists them (both signed the bundle).
        let mut device_account: HashMap<DeviceId, AccountId> = HashMap::new();
        for v in &order {
            let records: Vec<(&AccountId, &super::Record)> = match &v.op.change {
                Change::Create { members, .. } => members.iter().map(|(a, r)| (a, r)).collect(),
                Change::Add { account, record } => vec![(account, record)],
                _ => Vec::new(),
            };
            for (a, r) in records {
                for b in &r.bundles {
                    device_account.entry(b.device).or_insert(*a);
                }
            }
        }
        let author_account = order
            .iter()
            .map(|v| device_account.get(&v.op.author).copied())
            .collect();
        let mut per_device: HashMap<DeviceId, usize> = HashMap::new();
        let over_quota = order
            .iter()
            .map(|v| {
                let c = per_device.entry(v.op.author).or_default();
                *c += 1;
                *c > MAX_OPS_PER_DEVICE
            })
            .collect();
        let distinct = by_id.len();
        let creates = ops
            .iter()
            .enumerate()
            .filter(|(i, v)| {
                by_id.get(&v.id) == Some(i) && matches!(v.op.change, Change::Create { .. })
            })
            .count();
        let mut g = Graph {
            order,
            anc,
            author_account,
            causal_ok: vec![false; n],
            over_quota,
            waiting: distinct - creates + 1 - n,
        };
        for r in 1..n {
            if let Change::Remove { account, .. } = &g.order[r].op.change {
                if g.over_quota[r] {
                    continue;
                }
                let past = g.fold(Some(&g.anc[r]), r);
                let author = current_account_of(&past.members, &g.order[r].op.author);
                let target_current = past
                    .members
                    .get(account)
                    .is_some_and(|m| m.removed.is_none());
                g.causal_ok[r] = author.is_some() && target_current;
            }
        }
        Some(g)
    }

    /// The removal target and cut of a Remove at position `r`.
    fn removal(&self, r: usize) -> Option<(&AccountId, &[(DeviceId, u64)])> {
        match &self.order[r].op.change {
            Change::Remove { account, cut } => Some((account, cut)),
            _ => None,
        }
    }

    /// Is the operation at `k` late for the Remove at `r` (rule 3)?
    fn late(&self, k: usize, r: usize) -> bool {
        let Some((target, cut)) = self.removal(r) else {
            return false;
        };
        if self.author_account[k].as_ref() != Some(target) || k == r {
            return false;
        }
        if self.anc[r].has(k) || self.anc[k].has(r) {
            return false;
        }
        let op = &self.order[k].op;
        let cut = cut
            .iter()
            .find(|(d, _)| *d == op.author)
            .map(|(_, c)| *c)
            .unwrap_or(0);
        op.seq > cut
    }

    /// Folds the operations at positions below `upto` that are in `within` (all if None).
    fn fold(&self, within: Option<&Bits>, upto: usize) -> Folded {
        let in_set = |k: usize| within.is_none_or(|b| b.has(k));
        let removes: Vec<usize> = (1..upto)
            .filter(|&k| in_set(k) && self.causal_ok[k])
            .collect();
        let counted: Vec<usize> = removes
            .iter()
            .copied()
            .filter(|&r| {
                !removes
                    .iter()
                    .any(|&r2| self.late(r, r2) && !self.late(r2, r))
            })
            .collect();
        let Change::Create { title, members, .. } = &self.order[0].op.change else {
            return Folded {
                title: String::new(),
                members: BTreeMap::new(),
            };
        };
        let mut st = Folded {
            title: title.clone(),
            members: members
                .iter()
                .map(|(a, r)| {
                    let m = Member {
                        name: r.name.clone(),
                        bundles: r.bundles.clone(),
                        removed: None,
                    };
                    (*a, m)
                })
                .collect(),
        };
        for k in 1..upto {
            if !in_set(k) || self.over_quota[k] {
                continue;
            }
            let op = &self.order[k].op;
            match &op.change {
                Change::Remove { account, cut } => {
                    if counted.contains(&k) {
                        if let Some(m) = st.members.get_mut(account) {
                            if m.removed.is_none() {
                                m.removed = Some(Change::cut_map(cut));
                            }
                        }
                    }
                }
                change => {
                    if current_account_of(&st.members, &op.author).is_none()
                        || counted.iter().any(|&r| self.late(k, r))
                    {
                        continue;
                    }
                    match change {
                        Change::Add { account, record } => {
                            let current =
                                st.members.get(account).is_some_and(|m| m.removed.is_none());
                            if !current {
                                st.members.insert(
                                    *account,
                                    Member {
                                        name: record.name.clone(),
                                        bundles: record.bundles.clone(),
                                        removed: None,
                                    },
                                );
                            }
                        }
                        Change::Rename { title } => st.title = title.clone(),
                        _ => {}
                    }
                }
            }
        }
        st
    }

    fn state(&self) -> State {
        let folded = self.fold(None, self.order.len());
        let mut named = Bits::new(self.order.len());
        for a in &self.anc {
            // Parents are ancestors; a head is nobody's ancestor.
            named.union(a);
        }
        let heads = (0..self.order.len())
            .filter(|&k| !named.has(k))
            .map(|k| self.order[k].id)
            .collect();
        let topic = match &self.order[0].op.change {
            Change::Create { topic, .. } => *topic,
            _ => TopicId([0; 16]),
        };
        State {
            topic,
            title: folded.title,
            members: folded.members,
            heads,
            max_at: self.order.iter().map(|v| v.op.at).max().unwrap_or(0),
            waiting: self.waiting,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::{chat_id, Change, Op, Record, SignedOp, Verified};
    use super::*;
    use crate::identity::{DeviceBundle, Identity};
    use proptest::prelude::*;

    struct Person {
        id: Identity,
    }

    impl Person {
        fn new(name: &str) -> Person {
            Person {
                id: Identity::generate(name.into()),
            }
        }
        fn account(&self) -> AccountId {
            self.id.account_id()
        }
        fn device(&self) -> DeviceId {
            self.id.device_id()
        }
        fn record(&self) -> Record {
            Record {
                name: self.id.name.clone(),
                bundles: vec![DeviceBundle::new(&self.id, [7; 32], [8; 32])],
            }
        }
        fn op(&self, seq: u64, at: u64, parents: &[&Verified], change: Change) -> Verified {
            let mut parents: Vec<OpId> = parents.iter().map(|p| p.id).collect();
            parents.sort();
            let op = Op {
                author: self.device(),
                seq,
                at,
                parents,
                change,
            };
            SignedOp::sign(&op, &self.id.device).verify().unwrap()
        }
        fn create(&self, others: &[&Person]) -> Verified {
            let mut members = vec![(self.account(), self.record())];
            members.extend(others.iter().map(|p| (p.account(), p.record())));
            self.op(
                0,
                1,
                &[],
                Change::Create {
                    topic: TopicId::random(),
                    title: "family".into(),
                    members,
                    nonce: rand::random(),
                },
            )
        }
        fn add(&self, seq: u64, at: u64, parents: &[&Verified], who: &Person) -> Verified {
            self.op(
                seq,
                at,
                parents,
                Change::Add {
                    account: who.account(),
                    record: who.record(),
                },
            )
        }
        fn remove(
            &self,
            seq: u64,
            at: u64,
            parents: &[&Verified],
            who: &Person,
            cut: u64,
        ) -> Verified {
            self.op(
                seq,
                at,
                parents,
                Change::Remove {
                    account: who.account(),
                    cut: vec![(who.device(), cut)],
                },
            )
        }
    }

    fn chat(create: &Verified) -> ChatId {
        chat_id(&create.signed)
    }

    fn current(st: &State) -> Vec<AccountId> {
        st.members
            .iter()
            .filter(|(_, m)| m.removed.is_none())
            .map(|(a, _)| *a)
            .collect()
    }

    fn sorted(mut v: Vec<AccountId>) -> Vec<AccountId> {
        v.sort();
        v
    }

    #[test]
    fn add_rename_remove_and_leave() {
        let (mom, dad, kid, aunt) = (
            Person::new("Mom"),
            Person::new("Dad"),
            Person::new("Kid"),
            Person::new("Aunt"),
        );
        let c = mom.create(&[&dad, &kid]);
        let add = mom.add(1, 2, &[&c], &aunt);
        let rename = dad.op(
            1,
            3,
            &[&add],
            Change::Rename {
                title: "우리 가족".into(),
            },
        );
        let remove = aunt.remove(1, 4, &[&rename], &kid, 0);
        let leave = dad.remove(2, 5, &[&remove], &dad, 2);
        let ops = vec![c.clone(), add, rename, remove, leave.clone()];
        let st = resolve(&chat(&c), &ops).unwrap();
        assert_eq!(st.title, "우리 가족");
        assert_eq!(
            sorted(current(&st)),
            sorted(vec![mom.account(), aunt.account()])
        );
        assert_eq!(
            st.members[&dad.account()].removed,
            Some(BTreeMap::from([(dad.device(), 2)]))
        );
        assert_eq!(st.heads, vec![leave.id]);
        assert_eq!(st.waiting, 0);
    }

    #[test]
    fn nobody_outside_the_group_changes_it() {
        let (mom, dad, stranger) = (Person::new("Mom"), Person::new("Dad"), Person::new("X"));
        let c = mom.create(&[&dad]);
        // A stranger adds themselves and removes Dad; a second Create for the same id is
        // impossible, and another Create is ignored.
        let add = stranger.add(1, 2, &[&c], &stranger);
        let rm = stranger.remove(2, 3, &[&add], &dad, 0);
        let other = stranger.create(&[&mom]);
        let st = resolve(&chat(&c), &[c.clone(), add, rm, other]).unwrap();
        assert_eq!(
            sorted(current(&st)),
            sorted(vec![mom.account(), dad.account()])
        );
    }

    #[test]
    fn an_operation_waits_for_its_parents() {
        let (mom, dad, kid) = (Person::new("Mom"), Person::new("Dad"), Person::new("Kid"));
        let c = mom.create(&[&dad]);
        let add = mom.add(1, 2, &[&c], &kid);
        let rename = kid.op(1, 3, &[&add], Change::Rename { title: "k".into() });
        let st = resolve(&chat(&c), &[c.clone(), rename.clone()]).unwrap();
        assert_eq!((st.title.as_str(), st.waiting), ("family", 1));
        let st = resolve(&chat(&c), &[c.clone(), rename, add]).unwrap();
        assert_eq!((st.title.as_str(), st.waiting), ("k", 0));
    }

    #[test]
    fn members_who_remove_each_other_are_both_removed() {
        let (a, b, c3) = (Person::new("A"), Person::new("B"), Person::new("C"));
        let c = a.create(&[&b, &c3]);
        // Concurrent: neither saw the other's. B even claims to have acted much earlier.
        let a_removes_b = a.remove(1, 100, &[&c], &b, 0);
        let b_removes_a = b.remove(1, 2, &[&c], &a, 0);
        let st = resolve(&chat(&c), &[c.clone(), a_removes_b, b_removes_a]).unwrap();
        assert_eq!(current(&st), vec![c3.account()]);
    }

    #[test]
    fn a_removed_member_cannot_backdate_an_add_or_a_rename() {
        let (mom, dad, ex, accomplice) = (
            Person::new("Mom"),
            Person::new("Dad"),
            Person::new("Ex"),
            Person::new("Acc"),
        );
        let c = mom.create(&[&dad, &ex]);
        let ex_msg_seen = ex.op(1, 2, &[&c], Change::Rename { title: "ok".into() });
        let removal = mom.remove(1, 100, &[&ex_msg_seen], &ex, 1);
        // After the removal the ex-member pretends not to have seen it, with an early time.
        let backdated = ex.add(2, 3, &[&ex_msg_seen], &accomplice);
        let rename = ex.op(
            3,
            4,
            &[&backdated],
            Change::Rename {
                title: "mine".into(),
            },
        );
        // ... or admits seeing it: not a member any more.
        let after = ex.add(4, 101, &[&removal], &accomplice);
        let ops = vec![c.clone(), ex_msg_seen, removal, backdated, rename, after];
        let st = resolve(&chat(&c), &ops).unwrap();
        assert_eq!(
            sorted(current(&st)),
            sorted(vec![mom.account(), dad.account()])
        );
        assert_eq!(st.title, "ok", "the rename before the removal stays");
    }

    #[test]
    fn a_cut_of_zero_does_not_undo_what_the_remover_saw() {
        let (mom, dad, kid, aunt) = (
            Person::new("Mom"),
            Person::new("Dad"),
            Person::new("Kid"),
            Person::new("Aunt"),
        );
        let c = mom.create(&[&dad]);
        let dad_adds_kid = dad.add(5, 2, &[&c], &kid);
        // Mom removes Dad with a cut of 0, after seeing Dad add Kid.
        let removal = mom.remove(1, 3, &[&dad_adds_kid], &dad, 0);
        // Dad's concurrent add of Aunt (not seen by Mom, past the cut) does not count.
        let concurrent = dad.add(6, 4, &[&dad_adds_kid], &aunt);
        let st = resolve(&chat(&c), &[c.clone(), dad_adds_kid, removal, concurrent]).unwrap();
        assert_eq!(
            sorted(current(&st)),
            sorted(vec![mom.account(), kid.account()])
        );
    }

    #[test]
    fn concurrent_add_and_remove_of_one_person_resolve_by_order() {
        let (mom, dad, kid) = (Person::new("Mom"), Person::new("Dad"), Person::new("Kid"));
        let c = mom.create(&[&dad, &kid]);
        let rm = mom.remove(1, 10, &[&c], &kid, 0);
        let readd_late = dad.add(1, 20, &[&rm], &kid);
        let st = resolve(&chat(&c), &[c.clone(), rm.clone(), readd_late]).unwrap();
        assert!(st.is_current(&kid.account()), "a re-add after the removal");
        // Concurrent with the removal, Dad's add goes before or after it by time: before, it
        // is a no-op (Kid was still a member) and the removal stands; after, it re-adds Kid.
        let before = dad.add(1, 5, &[&c], &kid);
        let st = resolve(&chat(&c), &[c.clone(), rm.clone(), before]).unwrap();
        assert!(!st.is_current(&kid.account()));
        let after = dad.add(1, 20, &[&c], &kid);
        let st = resolve(&chat(&c), &[c.clone(), rm, after]).unwrap();
        assert!(st.is_current(&kid.account()));
    }

    #[test]
    fn a_device_past_its_quota_is_ignored() {
        let (mom, dad) = (Person::new("Mom"), Person::new("Dad"));
        let c = mom.create(&[&dad]);
        let mut ops = vec![c.clone()];
        let mut last = c.clone();
        for i in 1..=(MAX_OPS_PER_DEVICE as u64 + 1) {
            let title = format!("t{i}");
            last = dad.op(i, i + 1, &[&last], Change::Rename { title });
            ops.push(last.clone());
        }
        let st = resolve(&chat(&c), &ops).unwrap();
        assert_eq!(st.title, format!("t{MAX_OPS_PER_DEVICE}"));
        // Mom can still remove Dad.
        let rm = mom.remove(1, 10_000, &[&last], &dad, 0);
        ops.push(rm);
        let st = resolve(&chat(&c), &ops).unwrap();
        assert!(!st.is_current(&dad.account()));
    }

    #[test]
    fn forged_and_malformed_operations_fail_verification() {
        let (mom, dad) = (Person::new("Mom"), Person::new("Dad"));
        let c = mom.create(&[&dad]);
        let mut forged = c.signed.clone();
        forged.signature = dad.id.device.sign(&forged.op);
        assert!(forged.verify().is_err());
        let mut flipped = c.signed.clone();
        let last = flipped.op.len() - 1;
        flipped.op[last] ^= 1;
        assert!(flipped.verify().is_err());
        // A Create whose author is not among its members.
        let op = Op {
            author: dad.device(),
            seq: 0,
            at: 1,
            parents: vec![],
            change: Change::Create {
                topic: TopicId::random(),
                title: "x".into(),
                members: vec![(mom.account(), mom.record())],
                nonce: [0; 16],
            },
        };
        assert!(SignedOp::sign(&op, &dad.id.device).verify().is_err());
        // A record listing someone else's device under an account.
        let mut rec = dad.record();
        rec.bundles[0].account = mom.account();
        let op = Op {
            author: mom.device(),
            seq: 1,
            at: 2,
            parents: vec![c.id],
            change: Change::Add {
                account: mom.account(),
                record: rec,
            },
        };
        assert!(SignedOp::sign(&op, &mom.id.device).verify().is_err());
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]
        /// Any arrival order, with duplicates, gives the same state.
        #[test]
        fn the_order_of_arrival_does_not_matter(seed in any::<u64>()) {
            use rand::{seq::SliceRandom, SeedableRng};
            let p: Vec<Person> = ["A", "B", "C", "D", "E"].iter().map(|n| Person::new(n)).collect();
            let c = p[0].create(&[&p[1], &p[2]]);
            let x1 = p[0].add(1, 5, &[&c], &p[3]);
            let x2 = p[1].remove(1, 5, &[&c], &p[2], 0);
            let x3 = p[2].remove(1, 4, &[&c], &p[1], 0);
            let x4 = p[3].add(1, 9, &[&x1], &p[4]);
            let x5 = p[2].op(2, 6, &[&x3], Change::Rename { title: "c".into() });
            let x6 = p[0].op(2, 6, &[&x1, &x2], Change::Rename { title: "a".into() });
            let mut ops = vec![c.clone(), x1, x2, x3, x4, x5, x6];
            let reference = resolve(&chat(&c), &ops).unwrap();
            let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
            ops.push(ops[seed as usize % ops.len()].clone());
            ops.shuffle(&mut rng);
            prop_assert_eq!(resolve(&chat(&c), &ops).unwrap(), reference);
        }
    }
}
