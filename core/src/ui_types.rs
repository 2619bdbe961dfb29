//! The TypeScript types of everything the UI receives, generated from the Rust types into
//! `ui/src/lib/types.gen.ts` (checked in), so the UI, the shell and the core share one
//! vocabulary and a change here that the UI has not taken fails the build.
//!
//! ts-rs derives each declaration from the type's serde attributes, so the generated types
//! describe the JSON as it is. The names are the Rust names, with the module added where the
//! name alone would be unclear in the UI's one namespace (`board::Entry` is `BoardEntry`).
//! Ids are strings (see `ids`), integers numbers: HLC values exceed JavaScript's safe integers,
//! which is why the UI orders by them but shows the `*_ms` fields.
//!
//! A test compares the file with what the types say now; to write it anew:
//! `UPDATE_UI_TYPES=1 cargo test -p hearth-core --lib ui_types`.

use ts_rs::{Config, TS};

/// Where the generated file lives, from the workspace's directory.
const FILE: &str = "ui/src/lib/types.gen.ts";
const REGENERATE: &str = "UPDATE_UI_TYPES=1 cargo test -p hearth-core --lib ui_types";

/// The file being written: declarations in the order added.
struct Declarations {
    cfg: Config,
    out: String,
    /// The TypeScript names declared so far.
    names: Vec<String>,
    /// The TypeScript names the declarations refer to: each must be declared too.
    needed: Vec<String>,
}

impl Declarations {
    fn add<T: TS + 'static>(&mut self) -> &mut Self {
        if let Some(docs) = T::docs() {
            self.out.push_str(&docs);
        }
        self.out
            .push_str(&format!("export {}\n\n", T::decl(&self.cfg)));
        self.names.push(T::name(&self.cfg));
        self.needed
            .extend(T::dependencies(&self.cfg).into_iter().map(|d| d.ts_name));
        self
    }
}

/// The whole file: every type the UI receives, and the types they are made of.
fn typescript() -> (String, Vec<String>) {
    use crate::{board, contacts, conversation, events, invite, message, net, reach, settings};
    let mut d = Declarations {
        cfg: Config::new().with_large_int("number"),
        out: format!(
            "// Generated from the Rust types by core/src/ui_types.rs: do not edit.\n\
             // Regenerate with `{REGENERATE}`.\n\n"
        ),
        names: Vec::new(),
        needed: Vec::new(),
    };
    d.add::<crate::node::Profile>()
        .add::<conversation::Chat>()
        .add::<conversation::Kind>()
        .add::<conversation::LastMessage>()
        .add::<conversation::Member>()
        .add::<message::Message>()
        .add::<message::Kind>()
        .add::<message::DeliveryState>()
        .add::<message::MemberState>()
        .add::<crate::blob::store::Attachment>()
        .add::<crate::blob::Kind>()
        .add::<crate::blob::store::BlobState>()
        .add::<contacts::Contact>()
        .add::<contacts::State>()
        .add::<invite::Code>()
        .add::<board::Board>()
        .add::<board::Entry>()
        .add::<reach::Path>()
        .add::<settings::Settings>()
        .add::<net::Status>()
        .add::<net::RelayStatus>()
        .add::<net::PublicStatus>()
        .add::<crate::nostr::Status>()
        .add::<crate::nostr::RelayStatus>()
        .add::<events::Event>();
    let missing: Vec<String> = d
        .needed
        .iter()
        .filter(|n| !d.names.contains(n))
        .cloned()
        .collect();
    (d.out.trim_end().to_string() + "\n", missing)
}

#[test]
fn ui_types_are_generated_from_the_rust_types() {
    let (now, missing) = typescript();
    assert!(
        missing.is_empty(),
        "declare these in ui_types.rs too: {missing:?}"
    );
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join(FILE);
    if std::env::var_os("UPDATE_UI_TYPES").is_some() {
        std::fs::write(&path, &now).unwrap();
        return;
    }
    let kept = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        kept == now,
        "{FILE} is not what the Rust types say: run `{REGENERATE}` and commit it"
    );
}

/// The text the CLI prints and the SQL stores is the name the UI gets in JSON.
#[test]
fn text_names_are_the_json_names() {
    use crate::contacts::State as C;
    use crate::message::{DeliveryState as D, Kind as K, MemberState as M};
    use crate::reach::Path as P;
    fn json(v: impl serde::Serialize) -> String {
        serde_json::to_string(&v).unwrap()
    }
    let quoted = |s: &str| format!("\"{s}\"");
    for s in [D::Queued, D::HandedOn, D::InMailbox, D::Delivered, D::Read] {
        assert_eq!(json(s), quoted(s.as_str()));
    }
    for s in [M::Queued, M::Delivered, M::Read] {
        assert_eq!(json(s), quoted(s.as_str()));
    }
    for k in [K::Text, K::CheckIn] {
        assert_eq!(json(k), quoted(k.as_str()));
        assert_eq!(K::parse(k.as_str()), k);
    }
    for s in [C::Pending, C::Connected, C::Refused] {
        assert_eq!(json(s), quoted(s.as_str()));
    }
    for p in [P::Lan, P::Direct, P::Relayed, P::Mesh, P::Mailbox, P::None] {
        assert_eq!(json(p), quoted(p.as_str()));
        // The CLI pads it in columns.
        assert_eq!(format!("{p:<8}|"), format!("{:<8}|", p.as_str()));
    }
}
