//! Hints for common mistakes: one `hint:` line after an error, said once, naming what to do.
//! The error says what went wrong; the hint says what the user most likely meant.

use crate::secrets::PASSPHRASE_VARS;
use hallmark_core::KeyError;
use hallmark_flows::SigstoreError;
use hallmark_oci::OciError;

/// The hint for `e`, if it is one of the common mistakes.
pub(crate) fn hint(e: &anyhow::Error) -> Option<String> {
    e.chain().find_map(|cause| {
        key_error(cause)
            .and_then(key_hint)
            .or_else(|| oci_error(cause).and_then(oci_hint))
    })
}

/// A [`KeyError`] in the chain, also behind `SigstoreError`'s transparent wrapper (which
/// forwards `source()` past it).
fn key_error<'a>(cause: &'a (dyn std::error::Error + 'static)) -> Option<&'a KeyError> {
    cause
        .downcast_ref::<KeyError>()
        .or_else(|| match cause.downcast_ref::<SigstoreError>()? {
            SigstoreError::Key(k) => Some(k),
            SigstoreError::Signer(hallmark_keys::KeysError::Key { source, .. }) => Some(source),
            _ => None,
        })
}

/// An [`OciError`] in the chain, also behind `SigstoreError::Oci`.
fn oci_error<'a>(cause: &'a (dyn std::error::Error + 'static)) -> Option<&'a OciError> {
    cause
        .downcast_ref::<OciError>()
        .or_else(|| match cause.downcast_ref::<SigstoreError>()? {
            SigstoreError::Oci(o) => Some(o),
            _ => None,
        })
}

fn key_hint(e: &KeyError) -> Option<String> {
    match e {
        KeyError::UnexpectedLabel {
            found, expected, ..
        } if found == "PUBLIC KEY" && expected.contains("PRIVATE KEY") => Some(
            "that is a public key, and signing needs a private key: give the private key \
             (the .key file `hallmark key generate` wrote next to the .pub), or a pkcs11:, \
             awskms://, awssm:// or hashivault:// reference"
                .to_owned(),
        ),
        KeyError::UnexpectedLabel {
            found, expected, ..
        } if found.contains("PRIVATE KEY") && *expected == "PUBLIC KEY" => Some(
            "that is a private key, and verification takes a public key: give the .pub file, \
             or print the public key with `hallmark key public-key --key KEY`"
                .to_owned(),
        ),
        KeyError::WrongPassphrase { .. } => Some(passphrase_hint()),
        _ => None,
    }
}

/// Which variable the passphrase came from, and what to set.
fn passphrase_hint() -> String {
    let set: Vec<&str> = PASSPHRASE_VARS
        .into_iter()
        .filter(|v| std::env::var_os(v).is_some())
        .collect();
    let [first, second] = PASSPHRASE_VARS;
    match set.as_slice() {
        [] => format!(
            "hallmark reads the passphrase from {first}, else {second}, else a terminal prompt; \
             give the passphrase the key was created with"
        ),
        [var] if *var == first => format!(
            "the passphrase came from {first}: set it to the passphrase the key was created with \
             (an empty value is a passphrase too)"
        ),
        [var] => format!(
            "the passphrase came from {var} ({first} is read first when set): set it to the \
             passphrase the key was created with"
        ),
        _ => format!(
            "the passphrase came from {first}, which is read before {second}: set {first} to \
             the key's passphrase, or unset it to use {second}"
        ),
    }
}

fn oci_hint(e: &OciError) -> Option<String> {
    match e {
        // rustls's answer when the server speaks plain HTTP on a port hallmark asked over TLS.
        OciError::Transport { url, reason, .. }
            if url.starts_with("https://")
                && (reason.contains("InvalidContentType")
                    || reason.contains("corrupt message")) =>
        {
            Some(
                "the registry seems to speak plain HTTP: hallmark uses HTTPS except for \
                 loopback registries; --allow-http-registry allows plain HTTP (unencrypted)"
                    .to_owned(),
            )
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn label(found: &str, expected: &'static str) -> anyhow::Error {
        anyhow::Error::new(hallmark_keys::KeysError::Key {
            reference: "k".into(),
            source: KeyError::UnexpectedLabel {
                what: "private key".into(),
                found: found.into(),
                expected,
            },
        })
    }

    #[test]
    fn public_key_for_signing_and_private_key_for_verifying_get_a_hint() {
        let h = hint(&label(
            "PUBLIC KEY",
            "ENCRYPTED SIGSTORE PRIVATE KEY, PRIVATE KEY",
        ))
        .expect("a hint for a public key given to sign");
        assert!(h.contains("signing needs a private key"), "{h}");
        let h = hint(&label("ENCRYPTED COSIGN PRIVATE KEY", "PUBLIC KEY"))
            .expect("a hint for a private key given to verify");
        assert!(h.contains("hallmark key public-key"), "{h}");
        assert!(hint(&label("CERTIFICATE", "PUBLIC KEY")).is_none());
    }

    #[test]
    fn a_key_error_behind_sigstore_errors_is_found() {
        let e = anyhow::Error::new(SigstoreError::Key(KeyError::WrongPassphrase {
            what: "private key".into(),
        }));
        let h = hint(&e).expect("a hint for a wrong passphrase");
        assert!(h.contains("HALLMARK_PASSWORD"), "{h}");
    }
}
