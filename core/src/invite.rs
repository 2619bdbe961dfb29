//! Invite codes: how two people become contacts.
//!
//! An invite is a text code (and the same text as a QR code) with the inviter's account and
//! device keys, the Olm keys a pairwise channel needs, a one-time secret, the random topic the
//! handshake travels on, an expiry, and the addresses where the inviter can be reached. The
//! inviter's account key signs all of it, so a truncated or altered code is refused before
//! anything is sent. Revocation and one-time use are enforced by the inviter, who alone can:
//! its device refuses a contact request whose secret is revoked, used or expired.
//!
//! The text is `HEARTH1-` followed by base32 (upper case, no padding): it survives
//! copy-paste, chat apps and reading aloud, and uses QR alphanumeric mode, the densest one.

use data_encoding::BASE32_NOPAD;
use libp2p_identity::ed25519;
use serde::{Deserialize, Serialize};
use ts_rs::TS;

use crate::identity::DeviceBundle;
use crate::ids::TopicId;
use crate::wire;

pub const PREFIX: &str = "HEARTH1-";
/// Default lifetime of an invite: long enough to send it to family, short enough to matter.
pub const DEFAULT_TTL_SECS: u64 = 7 * 24 * 3600;
/// Invites carry a handful of addresses; a code stays small enough for a QR code.
const MAX_INVITE_BYTES: usize = 2048;
const MAX_NAME_CHARS: usize = 64;
const SIGNING_CONTEXT: &[u8] = b"hearth-invite-v1";

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Invite {
    pub bundle: DeviceBundle,
    pub name: String,
    pub secret: [u8; 16],
    /// The topic the contact request and confirmation travel on; afterwards the contact's
    /// pairwise channel (invitations to new conversations use it).
    pub topic: TopicId,
    pub expires_at: u64,
    pub addrs: Vec<String>,
}

#[derive(Serialize, Deserialize)]
struct Signed {
    invite: Invite,
    sig: Vec<u8>,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum Error {
    #[error("this is not a Hearth invite code (it should start with {PREFIX})")]
    NotAnInvite,
    #[error("the invite code is incomplete or damaged; copy the whole code again")]
    Damaged,
    #[error("the invite code has been altered: its signature does not match")]
    Tampered,
    #[error("this invite has expired; ask for a new one")]
    Expired,
    #[error("this invite was revoked by the person who made it")]
    Revoked,
    #[error("this invite has already been used")]
    AlreadyUsed,
    #[error("this is your own invite; send it to the person you want to add")]
    OwnInvite,
    #[error("you are already connected with this person")]
    AlreadyContact,
}

impl Invite {
    pub fn encode(&self, account: &ed25519::Keypair) -> String {
        let sig = account.sign(&signed_bytes(self));
        let bytes = wire::encode(&Signed {
            invite: self.clone(),
            sig,
        });
        format!("{PREFIX}{}", BASE32_NOPAD.encode(&bytes))
    }

    /// Parses and checks a code: form, signature, device certificate, expiry.
    pub fn decode(code: &str, now_secs: u64) -> Result<Invite, Error> {
        let compact: String = code.chars().filter(|c| !c.is_whitespace()).collect();
        let upper = compact.to_ascii_uppercase();
        let body = upper.strip_prefix(PREFIX).ok_or(Error::NotAnInvite)?;
        let bytes = BASE32_NOPAD
            .decode(body.as_bytes())
            .map_err(|_| Error::Damaged)?;
        let signed: Signed = wire::decode(&bytes, MAX_INVITE_BYTES).map_err(|_| Error::Damaged)?;
        let inv = signed.invite;
        if !inv.bundle.account.verify(&signed_bytes(&inv), &signed.sig) || !inv.bundle.verify() {
            return Err(Error::Tampered);
        }
        if inv.name.chars().count() > MAX_NAME_CHARS {
            return Err(Error::Damaged);
        }
        if inv.expires_at <= now_secs {
            return Err(Error::Expired);
        }
        Ok(inv)
    }

    /// The code as a QR code drawn with Unicode half blocks, for a terminal.
    pub fn qr_for_terminal(code: &str) -> Option<String> {
        let qr = qrcode::QrCode::with_error_correction_level(code.as_bytes(), qrcode::EcLevel::L)
            .ok()?;
        Some(
            qr.render::<qrcode::render::unicode::Dense1x2>()
                .dark_color(qrcode::render::unicode::Dense1x2::Light)
                .light_color(qrcode::render::unicode::Dense1x2::Dark)
                .build(),
        )
    }

    /// The code as a QR code in an SVG document, for the app to show.
    pub fn qr_svg(code: &str) -> Option<String> {
        let qr = qrcode::QrCode::with_error_correction_level(code.as_bytes(), qrcode::EcLevel::L)
            .ok()?;
        Some(
            qr.render::<qrcode::render::svg::Color>()
                .min_dimensions(240, 240)
                .quiet_zone(true)
                .build(),
        )
    }
}

/// A code as the app shows it: the text, and the same text as a QR code.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, TS)]
#[ts(rename = "InviteCode")]
pub struct Code {
    pub code: String,
    /// A complete `<svg>` document.
    pub qr_svg: String,
}

impl Code {
    /// `None` if the code is too long for a QR code.
    pub fn new(code: String) -> Option<Code> {
        let qr_svg = Invite::qr_svg(&code)?;
        Some(Code { code, qr_svg })
    }
}

fn signed_bytes(inv: &Invite) -> Vec<u8> {
    [SIGNING_CONTEXT, &wire::encode(inv)].concat()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::identity::Identity;
    use proptest::prelude::*;

    fn make(expires_at: u64) -> (String, Invite) {
        let id = Identity::generate("엄마".into());
        let inv = Invite {
            bundle: DeviceBundle::new(&id, [3; 32], [4; 32]),
            name: id.name.clone(),
            secret: [5; 16],
            topic: TopicId::random(),
            expires_at,
            addrs: vec!["/ip4/192.168.1.20/tcp/4001".into()],
        };
        (inv.encode(&id.account), inv)
    }

    #[test]
    fn roundtrip() {
        let (code, inv) = make(1000);
        assert!(code.starts_with(PREFIX));
        assert_eq!(Invite::decode(&code, 10).unwrap(), inv);
        // Lower case and line breaks from a chat app are fine.
        let messy = format!("{}\n{}", &code[..20].to_lowercase(), &code[20..]);
        assert_eq!(Invite::decode(&messy, 10).unwrap(), inv);
        assert!(Invite::qr_for_terminal(&code).is_some());
        assert!(Invite::qr_svg(&code).is_some_and(|svg| svg.contains("<svg")));
    }

    #[test]
    fn rejects_bad_codes_with_clear_errors() {
        let (code, _) = make(1000);
        assert_eq!(Invite::decode(&code, 1000), Err(Error::Expired));
        assert_eq!(Invite::decode("hello", 0), Err(Error::NotAnInvite));
        assert_eq!(
            Invite::decode(&code[..code.len() - 10], 0),
            Err(Error::Damaged)
        );
        // Flip one character in the middle: either the base32 breaks or the signature does.
        let mut chars: Vec<char> = code.chars().collect();
        let i = chars.len() / 2;
        chars[i] = if chars[i] == 'A' { 'B' } else { 'A' };
        let tampered: String = chars.into_iter().collect();
        let err = Invite::decode(&tampered, 0).unwrap_err();
        assert!(matches!(err, Error::Tampered | Error::Damaged), "{err:?}");
    }

    proptest! {
        #[test]
        fn random_codes_never_panic(s in "HEARTH1-[A-Z2-7]{0,400}") {
            let _ = Invite::decode(&s, 0);
        }

        #[test]
        fn mutated_codes_never_accepted(pos in any::<usize>(), c in "[A-Z2-7]") {
            let (code, inv) = make(u64::MAX);
            let mut chars: Vec<char> = code.chars().collect();
            let i = PREFIX.len() + pos % (chars.len() - PREFIX.len());
            chars[i] = c.chars().next().unwrap();
            let mutated: String = chars.into_iter().collect();
            if let Ok(got) = Invite::decode(&mutated, 0) {
                // Only a no-op mutation (same character) may still decode, to the same invite.
                prop_assert_eq!(mutated, code);
                prop_assert_eq!(got, inv);
            }
        }
    }
}
