//! Who may write: registry-style bearer tokens (as notary-server's `auth.type: token`), client
//! certificates (mTLS), or anonymous — the last only on loopback unless asked for explicitly.
//!
//! Reads (metadata, a GUN's changefeed) are anonymous in every mode. Writes are the update
//! (`POST .../_trust/tuf/`) and `GET *.key` (it creates the key), which need the `push` action,
//! and `DELETE` and `POST *.key` (rotation), which need `*`, as in notary-server's router. With
//! tokens, `GET /v2/` needs a valid token (any access) and otherwise answers 401 with the
//! challenge, so clients discover the token server as they do with notary-server and
//! registries; metadata reads stay anonymous. The changefeed of every GUN (`/v2/_trust/changefeed`) needs `*`
//! on the empty repository name, as in notary-server.
//!
//! Tokens are JWTs (ES256 or RS256) as docker/distribution's token server issues them: the
//! header's `x5c` chain must lead to a certificate of the root bundle (or, without `x5c`, one
//! of the bundle's certificates must have signed the token); `iss` must be the issuer, `aud`
//! the service, `exp`/`nbf` must hold (60 s leeway), and an `access` entry
//! `{"type":"repository","name":<gun>,"actions":[..]}` must grant the action.

use crate::errors::{Code, NotaryError};
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use hallmark_tuf::{KeyType, TufKey};
use rustls_pki_types::{CertificateDer, UnixTime};
use serde::Deserialize;
use serde_json::json;
use std::time::Duration;
use webpki::{EndEntityCert, ExtendedKeyUsageValidator, KeyPurposeIdIter};

const LEEWAY_SECS: u64 = 60;

/// docker/distribution verifies token chains with `x509.ExtKeyUsageAny`: any extended key usage
/// (or none) is accepted on the token signing certificate.
struct AnyExtendedKeyUsage;

impl ExtendedKeyUsageValidator for AnyExtendedKeyUsage {
    fn validate(&self, iter: KeyPurposeIdIter<'_, '_>) -> Result<(), webpki::Error> {
        // Only a malformed EKU extension is refused.
        for purpose in iter {
            purpose?;
        }
        Ok(())
    }
}

/// The marker that anonymous writes on a non-loopback address were asked for (`--auth
/// none`): the only way to build [`Auth::AnonymousAnywhere`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExplicitlyUnauthenticated(());

impl ExplicitlyUnauthenticated {
    /// The operator asked for anonymous writes on every address.
    pub fn asked_for_by_operator() -> Self {
        Self(())
    }
}

/// How writes are authorised.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum Auth {
    /// Anonymous writes; the server refuses to listen on anything but a loopback address.
    LoopbackOnly,
    /// Anonymous writes on any address (`--auth none`).
    AnonymousAnywhere(ExplicitlyUnauthenticated),
    /// Bearer tokens (`--auth token`).
    Token(TokenAuth),
    /// Client certificates (`--auth mtls --client-ca FILE`; needs TLS).
    Mtls {
        /// The CA certificates (DER) client certificates must chain to.
        client_ca: Vec<Vec<u8>>,
    },
}

/// Settings of token authentication.
#[derive(Debug, Clone)]
pub struct TokenAuth {
    /// The token server URL for the challenge's `realm`.
    pub realm: String,
    /// The `service` (the token's `aud`).
    pub service: String,
    /// The token `iss`.
    pub issuer: String,
    /// The root certificates (DER) of the token signing chain.
    pub root_certs: Vec<Vec<u8>>,
}

/// The action a request needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// `push` (update, get-or-create key).
    Push,
    /// `*` (delete, rotate key).
    All,
    /// No access entry, only a valid token: `GET /v2/` (the ping clients use to discover the
    /// token server, as notary-server's `authWrapper` without scopes).
    Ping,
}

impl Action {
    fn scope_actions(self) -> &'static str {
        match self {
            Action::Push => "pull,push",
            Action::All => "*",
            Action::Ping => "",
        }
    }
}

#[derive(Deserialize)]
struct Header {
    alg: String,
    #[serde(default)]
    x5c: Vec<String>,
}

#[derive(Deserialize)]
struct Claims {
    iss: String,
    #[serde(default)]
    aud: Audience,
    exp: u64,
    #[serde(default)]
    nbf: Option<u64>,
    #[serde(default)]
    access: Vec<Access>,
}

#[derive(Deserialize, Default)]
#[serde(untagged)]
enum Audience {
    One(String),
    Many(Vec<String>),
    #[default]
    None,
}

#[derive(Deserialize)]
struct Access {
    #[serde(rename = "type")]
    kind: String,
    name: String,
    #[serde(default)]
    actions: Vec<String>,
}

fn cert_key(der: &[u8]) -> Result<TufKey, String> {
    let pem = pem_rfc7468::encode_string("CERTIFICATE", pem_rfc7468::LineEnding::LF, der)
        .map_err(|e| e.to_string())?;
    TufKey::new(KeyType::EcdsaX509, pem.clone().into_bytes())
        .or_else(|_| TufKey::new(KeyType::RsaX509, pem.into_bytes()))
        .map_err(|e| format!("token signing certificate: {e}"))
}

impl TokenAuth {
    /// The challenge for `gun` and `action`.
    pub fn challenge(&self, gun: &str, action: Action) -> String {
        if action == Action::Ping {
            return format!(
                "Bearer realm=\"{}\",service=\"{}\"",
                self.realm, self.service
            );
        }
        format!(
            "Bearer realm=\"{}\",service=\"{}\",scope=\"repository:{gun}:{}\"",
            self.realm,
            self.service,
            action.scope_actions()
        )
    }

    /// Checks a bearer token for `gun` and `action` at `now` (Unix seconds).
    pub fn check(&self, token: &str, gun: &str, action: Action, now: u64) -> Result<(), String> {
        let mut parts = token.split('.');
        let (Some(h), Some(p), Some(s), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err("expected a JWT with three parts".into());
        };
        let header: Header = serde_json::from_slice(
            &URL_SAFE_NO_PAD
                .decode(h)
                .map_err(|e| format!("header: {e}"))?,
        )
        .map_err(|e| format!("header: {e}"))?;
        let method = match header.alg.as_str() {
            "ES256" => "ecdsa",
            "RS256" => "rsapkcs1v15",
            other => return Err(format!("expected alg ES256 or RS256, found {other:?}")),
        };
        let sig = URL_SAFE_NO_PAD
            .decode(s)
            .map_err(|e| format!("signature: {e}"))?;
        let signing_input = format!("{h}.{p}");

        // The signing certificate: x5c[0] chained to the bundle, else a bundle certificate.
        let candidates: Vec<Vec<u8>> = if header.x5c.is_empty() {
            self.root_certs.clone()
        } else {
            let chain: Vec<Vec<u8>> = header
                .x5c
                .iter()
                .map(|c| STANDARD.decode(c).map_err(|e| format!("x5c: {e}")))
                .collect::<Result<_, _>>()?;
            let leaf = &chain[0];
            if !self.root_certs.iter().any(|r| r == leaf) {
                let anchors = self
                    .root_certs
                    .iter()
                    .map(|d| {
                        webpki::anchor_from_trusted_cert(&CertificateDer::from(d.as_slice()))
                            .map(|a| a.to_owned())
                    })
                    .collect::<Result<Vec<_>, _>>()
                    .map_err(|e| format!("root certificate: {e}"))?;
                let intermediates: Vec<CertificateDer<'_>> = chain[1..]
                    .iter()
                    .map(|c| CertificateDer::from(c.as_slice()))
                    .collect();
                let leaf_der = CertificateDer::from(leaf.as_slice());
                let ee =
                    EndEntityCert::try_from(&leaf_der).map_err(|e| format!("x5c leaf: {e}"))?;
                ee.verify_for_usage(
                    webpki::ALL_VERIFICATION_ALGS,
                    &anchors,
                    &intermediates,
                    UnixTime::since_unix_epoch(Duration::from_secs(now)),
                    AnyExtendedKeyUsage,
                    None,
                    None,
                )
                .map_err(|e| format!("x5c chain does not lead to the root bundle: {e}"))?;
            }
            vec![leaf.clone()]
        };
        let verified = candidates.iter().any(|der| {
            cert_key(der).is_ok_and(|k| {
                k.verify("token", method, signing_input.as_bytes(), &sig)
                    .is_ok()
            })
        });
        if !verified {
            return Err("the token signature does not verify with a trusted certificate".into());
        }

        let claims: Claims = serde_json::from_slice(
            &URL_SAFE_NO_PAD
                .decode(p)
                .map_err(|e| format!("claims: {e}"))?,
        )
        .map_err(|e| format!("claims: {e}"))?;
        if claims.iss != self.issuer {
            return Err(format!(
                "expected issuer {:?}, found {:?}",
                self.issuer, claims.iss
            ));
        }
        let aud_ok = match &claims.aud {
            Audience::One(a) => a == &self.service,
            Audience::Many(v) => v.contains(&self.service),
            Audience::None => false,
        };
        if !aud_ok {
            return Err(format!("expected audience {:?}", self.service));
        }
        if claims.exp + LEEWAY_SECS < now {
            return Err(format!("token expired at {}", claims.exp));
        }
        if claims.nbf.is_some_and(|nbf| nbf > now + LEEWAY_SECS) {
            return Err("token not valid yet".into());
        }
        if action == Action::Ping {
            return Ok(());
        }
        let granted = claims.access.iter().any(|a| {
            a.kind == "repository"
                && a.name == gun
                && match action {
                    Action::Push => a.actions.iter().any(|x| x == "push" || x == "*"),
                    Action::All => a.actions.iter().any(|x| x == "*"),
                    Action::Ping => true,
                }
        });
        if !granted {
            return Err(format!(
                "the token does not grant {} on repository {gun}",
                action.scope_actions()
            ));
        }
        Ok(())
    }
}

/// The 401 answer for a write without valid credentials.
pub fn unauthorized(
    challenge: Option<String>,
    gun: &str,
    action: Action,
    reason: &str,
) -> NotaryError {
    let mut e = NotaryError::new(
        Code::Unauthorized,
        json!([{"Type": "repository", "Name": gun, "Action": action.scope_actions(), "Reason": reason}]),
    );
    e.challenge = challenge;
    e
}
