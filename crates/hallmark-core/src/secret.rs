//! Passphrases, held in zeroizing memory.

use zeroize::Zeroizing;

/// A passphrase. Its bytes are wiped when it is dropped, and `Debug` never shows them.
/// An empty passphrase is valid (cosign accepts it).
#[derive(Clone)]
pub struct Passphrase(Zeroizing<Vec<u8>>);

impl Passphrase {
    /// Wrap bytes as a passphrase.
    pub fn new(bytes: Vec<u8>) -> Self {
        Self(Zeroizing::new(bytes))
    }
    /// The passphrase bytes.
    pub fn expose(&self) -> &[u8] {
        &self.0
    }
}

impl std::fmt::Debug for Passphrase {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Passphrase(<redacted>)")
    }
}

#[cfg(test)]
mod tests {
    use super::Passphrase;

    #[test]
    fn debug_never_shows_the_passphrase() {
        let p = Passphrase::new(b"pass-7f3e-secret".to_vec());
        let shown = format!("{p:?} {p:#?}");
        assert!(!shown.contains("pass-7f3e-secret"), "{shown}");
        assert!(!shown.contains(&format!("{:?}", p.expose())), "{shown}");
        assert!(shown.contains("<redacted>"), "{shown}");
    }
}
