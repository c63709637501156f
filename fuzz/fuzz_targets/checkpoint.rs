//! The signed-note parser on arbitrary text. A note it opens under the
//! fixture's key is one that key signed: opening it with any other key
//! fails, and what it opened signs and opens back to the same checkpoint.
#![no_main]

use agentward::audit::checkpoint::{Checkpoint, NoteError};
use agentward::audit::keys::NoteVerifier;
use agentward_fuzz::{audit_keys, verifier};
use libfuzzer_sys::fuzz_target;
use std::sync::OnceLock;

/// Another key under the fixture key's name. (The same key under another
/// name is not an impostor: a signed note's signature covers the text, not
/// the key's name.)
fn impostor() -> &'static NoteVerifier {
    static KEY: OnceLock<NoteVerifier> = OnceLock::new();
    KEY.get_or_init(|| agentward::audit::keys::NoteSigner::generate(&verifier().name).verifier())
}

fuzz_target!(|data: &[u8]| {
    let Ok(note) = std::str::from_utf8(data) else {
        return;
    };
    let opened = Checkpoint::open(note, verifier());
    let other = Checkpoint::open(note, impostor());
    assert!(other.is_err(), "opened under a key that did not sign it");
    match opened {
        Ok(checkpoint) => {
            assert_eq!(checkpoint.root.len(), 64);
            let signed = checkpoint.sign(audit_keys());
            assert_eq!(Checkpoint::open(&signed, verifier()), Ok(checkpoint));
        }
        Err(error) => {
            let _ = error.to_string();
            if let NoteError::WrongKey { expected, .. } = &error {
                assert_eq!(*expected, verifier().name);
            }
        }
    }
});
