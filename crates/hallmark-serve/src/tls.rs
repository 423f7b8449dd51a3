//! TLS with rustls, set up once for every hallmark server: the server configuration
//! (certificate chain, key, optional client CA for mTLS). Connections are accepted and
//! handshaken by [`serve`](crate::serve), which tells the handlers whether a client
//! certificate was presented and verified ([`Peer`](crate::Peer)).

use rustls::RootCertStore;
use rustls::server::WebPkiClientVerifier;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use std::sync::Arc;

/// A TLS error at startup.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TlsError {
    /// A PEM file could not be read or holds nothing usable.
    #[error("{path}: {reason}")]
    Pem {
        /// The file.
        path: String,
        /// What was wrong.
        reason: String,
    },
    /// rustls refused the configuration.
    #[error("TLS configuration: {0}")]
    Config(String),
}

/// Reads every `CERTIFICATE` block of a PEM file.
pub fn read_certs(path: &std::path::Path) -> Result<Vec<Vec<u8>>, TlsError> {
    let err = |reason: String| TlsError::Pem {
        path: path.display().to_string(),
        reason,
    };
    let text = std::fs::read_to_string(path).map_err(|e| err(e.to_string()))?;
    hallmark_core::pem_certificates(&text, &path.display().to_string()).map_err(|e| match e {
        hallmark_core::KeyError::Pem { reason, .. } => err(reason),
        other => err(other.to_string()),
    })
}

fn read_key(path: &std::path::Path) -> Result<PrivateKeyDer<'static>, TlsError> {
    let err = |reason: String| TlsError::Pem {
        path: path.display().to_string(),
        reason,
    };
    let text =
        zeroize::Zeroizing::new(std::fs::read_to_string(path).map_err(|e| err(e.to_string()))?);
    let (label, der) =
        pem_rfc7468::decode_vec(text.trim().as_bytes()).map_err(|e| err(e.to_string()))?;
    match label {
        "PRIVATE KEY" => Ok(PrivateKeyDer::Pkcs8(der.into())),
        "EC PRIVATE KEY" => Ok(PrivateKeyDer::Sec1(der.into())),
        "RSA PRIVATE KEY" => Ok(PrivateKeyDer::Pkcs1(der.into())),
        other => Err(err(format!(
            "expected PRIVATE KEY, EC PRIVATE KEY or RSA PRIVATE KEY, found {other}"
        ))),
    }
}

/// The rustls server configuration: the certificate chain and key, HTTP/1.1, and when
/// `client_ca` is given, optional client certificates verified against it.
pub fn server_config(
    cert: &std::path::Path,
    key: &std::path::Path,
    client_ca: Option<&[Vec<u8>]>,
) -> Result<Arc<rustls::ServerConfig>, TlsError> {
    let chain: Vec<CertificateDer<'static>> = read_certs(cert)?
        .into_iter()
        .map(CertificateDer::from)
        .collect();
    let key = read_key(key)?;
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let builder = rustls::ServerConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| TlsError::Config(e.to_string()))?;
    let builder = match client_ca {
        Some(cas) => {
            let mut roots = RootCertStore::empty();
            for der in cas {
                roots
                    .add(CertificateDer::from(der.clone()))
                    .map_err(|e| TlsError::Config(format!("client CA: {e}")))?;
            }
            let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider)
                .allow_unauthenticated()
                .build()
                .map_err(|e| TlsError::Config(e.to_string()))?;
            builder.with_client_cert_verifier(verifier)
        }
        None => builder.with_no_client_auth(),
    };
    let mut config = builder
        .with_single_cert(chain, key)
        .map_err(|e| TlsError::Config(e.to_string()))?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}
