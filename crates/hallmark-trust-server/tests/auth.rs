//! TLS and write authentication: registry-style bearer tokens (minted here with a test issuer
//! certificate under a test CA) and client certificates; reads stay anonymous.

use crate::util::*;
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use hallmark_testutil::notary::Pki;
use hallmark_trust_server::{Auth, Config, TokenAuth};
use hallmark_tuf::PrivateKey;
use serde_json::{Value, json};
use std::path::Path;
use std::process::Command;

const GUN: &str = "example.com/secured";
const REALM: &str = "https://auth.example.test/token";
const SERVICE: &str = "hallmark-trust";
const ISSUER: &str = "test-issuer";

fn pem_to_der(path: &Path) -> Vec<u8> {
    let text = std::fs::read_to_string(path).expect("pem");
    pem_rfc7468::decode_vec(text.trim().as_bytes())
        .expect("pem")
        .1
}

/// The SEC1 DER of an openssl PKCS#8 EC key.
fn ec_key(path: &Path) -> PrivateKey {
    let out = Command::new("openssl")
        .args(["ec", "-in"])
        .arg(path)
        .args(["-outform", "DER"])
        .output()
        .expect("openssl");
    assert!(out.status.success());
    PrivateKey::from_ecdsa_sec1_der(&out.stdout).expect("ec key")
}

fn now() -> u64 {
    u64::try_from(time::OffsetDateTime::now_utc().unix_timestamp()).expect("time")
}

fn mint(key: &PrivateKey, cert_der: &[u8], claims: Value) -> String {
    let header = json!({"alg": "ES256", "typ": "JWT", "x5c": [STANDARD.encode(cert_der)]});
    let input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(claims.to_string())
    );
    let sig = key.sign(input.as_bytes()).expect("sign").sig;
    format!("{input}.{}", URL_SAFE_NO_PAD.encode(sig))
}

fn claims(gun: &str, actions: &[&str], exp: u64) -> Value {
    json!({
        "iss": ISSUER, "aud": SERVICE, "sub": "tester", "exp": exp, "nbf": now() - 10, "iat": now(),
        "access": [{"type": "repository", "name": gun, "actions": actions}],
    })
}

fn tls_client(pki: &Pki, bearer: Option<&str>, identity: bool) -> reqwest::Client {
    let ca = reqwest::Certificate::from_pem(&std::fs::read(&pki.ca_cert).expect("ca")).expect("ca");
    let mut b = reqwest::Client::builder()
        .add_root_certificate(ca)
        .timeout(std::time::Duration::from_secs(30));
    if let Some(t) = bearer {
        let mut h = reqwest::header::HeaderMap::new();
        h.insert(
            reqwest::header::AUTHORIZATION,
            format!("Bearer {t}").parse().expect("header"),
        );
        b = b.default_headers(h);
    }
    if identity {
        let (crt, key) = pki.issue("client", "publisher");
        let mut pem = std::fs::read(crt).expect("crt");
        pem.extend_from_slice(&std::fs::read(key).expect("key"));
        b = b.identity(reqwest::Identity::from_pem(&pem).expect("identity"));
    }
    b.build().expect("client")
}

async fn tls_server(pki: &Pki, auth: Auth) -> TestServer {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut config = Config::new(dir.path());
    config.tls = Some((pki.server_cert.clone(), pki.server_key.clone()));
    config.auth = auth;
    let server = start_with(config).await;
    TestServer {
        url: format!("https://127.0.0.1:{}", server.addr().port()),
        server: Some(server),
        dir,
        client: tls_client(pki, None, false),
    }
}

#[tokio::test]
async fn token_auth_guards_writes_and_leaves_reads_anonymous() {
    let pki_dir = tempfile::tempdir().expect("tempdir");
    let pki = Pki::new(pki_dir.path());
    let (issuer_crt, issuer_key) = pki.issue_signing("issuer", "token-issuer");
    let issuer = ec_key(&issuer_key);
    let issuer_der = pem_to_der(&issuer_crt);
    let auth = Auth::Token(TokenAuth {
        realm: REALM.into(),
        service: SERVICE.into(),
        issuer: ISSUER.into(),
        root_certs: vec![pem_to_der(&pki.ca_cert)],
    });
    let mut s = tls_server(&pki, auth).await;

    // Anonymous: the ping is challenged (no scope), metadata reads are not, writes are.
    let ping = s.get("/v2/").await;
    ping.assert_error(401, "UNAUTHORIZED");
    assert_eq!(
        ping.headers["www-authenticate"],
        format!("Bearer realm=\"{REALM}\",service=\"{SERVICE}\"")
    );
    s.get_file(GUN, "root.json")
        .await
        .assert_error(404, "METADATA_NOT_FOUND");
    let r = s.get_file(GUN, "timestamp.key").await;
    r.assert_error(401, "UNAUTHORIZED");
    assert_eq!(
        r.headers["www-authenticate"],
        format!(
            "Bearer realm=\"{REALM}\",service=\"{SERVICE}\",scope=\"repository:{GUN}:pull,push\""
        )
    );
    let r = send(s.client.delete(s.tuf(GUN, ""))).await;
    r.assert_error(401, "UNAUTHORIZED");
    assert!(
        r.headers["www-authenticate"]
            .to_str()
            .expect("ascii")
            .ends_with(&format!("scope=\"repository:{GUN}:*\""))
    );

    // Tokens that must not work.
    let exp = now() + 300;
    let bad = [
        (
            "other repository",
            mint(
                &issuer,
                &issuer_der,
                claims("example.com/other", &["push", "pull"], exp),
            ),
        ),
        (
            "pull only",
            mint(&issuer, &issuer_der, claims(GUN, &["pull"], exp)),
        ),
        (
            "expired",
            mint(
                &issuer,
                &issuer_der,
                claims(GUN, &["push", "pull"], now() - 3600),
            ),
        ),
        (
            "wrong audience",
            mint(&issuer, &issuer_der, {
                let mut c = claims(GUN, &["push"], exp);
                c["aud"] = json!("elsewhere");
                c
            }),
        ),
    ];
    for (what, token) in &bad {
        let c = tls_client(&pki, Some(token), false);
        let r = send(c.get(s.tuf(GUN, "timestamp.key"))).await;
        assert_eq!(
            r.status,
            401,
            "{what}: {}",
            String::from_utf8_lossy(&r.body)
        );
    }
    // Signed by a certificate outside the trusted chain.
    let rogue_dir = tempfile::tempdir().expect("tempdir");
    let rogue_pki = Pki::new(rogue_dir.path());
    let (rogue_crt, rogue_key) = rogue_pki.issue_signing("issuer", "token-issuer");
    let rogue = mint(
        &ec_key(&rogue_key),
        &pem_to_der(&rogue_crt),
        claims(GUN, &["push", "pull"], exp),
    );
    let r = send(tls_client(&pki, Some(&rogue), false).get(s.tuf(GUN, "timestamp.key"))).await;
    r.assert_error(401, "UNAUTHORIZED");
    // A good signature over changed claims.
    let good = mint(&issuer, &issuer_der, claims(GUN, &["push", "pull"], exp));
    let mut parts: Vec<&str> = good.split('.').collect();
    let forged_claims =
        URL_SAFE_NO_PAD.encode(claims("example.com/other", &["push", "pull"], exp).to_string());
    parts[1] = &forged_claims;
    let forged = parts.join(".");
    let r = send(
        tls_client(&pki, Some(&forged), false).get(s.tuf("example.com/other", "timestamp.key")),
    )
    .await;
    r.assert_error(401, "UNAUTHORIZED");

    // The changefeed of every GUN needs "*" on the empty repository name, as in notary-server.
    s.get("/v2/_trust/changefeed?records=10")
        .await
        .assert_error(401, "UNAUTHORIZED");
    let catalog = mint(&issuer, &issuer_der, claims("", &["*"], exp));
    let r = send(
        tls_client(&pki, Some(&catalog), false)
            .get(format!("{}/v2/_trust/changefeed?records=10", s.url)),
    )
    .await;
    r.assert_ok();
    s.get(&format!("/v2/{GUN}/_trust/changefeed?records=10"))
        .await
        .assert_ok();

    // A token signing certificate with another extended key usage (distribution accepts any).
    let d = pki.dir.clone();
    std::fs::write(
        d.join("codesign.cnf"),
        "[x]\nbasicConstraints=CA:FALSE\nextendedKeyUsage=codeSigning\n",
    )
    .expect("cnf");
    for args in [
        vec![
            "genpkey",
            "-algorithm",
            "EC",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-out",
            "cs.key",
        ],
        vec![
            "req",
            "-new",
            "-key",
            "cs.key",
            "-subj",
            "/CN=token-issuer-2",
            "-out",
            "cs.csr",
        ],
        vec![
            "x509",
            "-req",
            "-in",
            "cs.csr",
            "-CA",
            "ca.crt",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-days",
            "1",
            "-extfile",
            "codesign.cnf",
            "-extensions",
            "x",
            "-out",
            "cs.crt",
        ],
    ] {
        assert!(
            Command::new("openssl")
                .args(&args)
                .current_dir(&d)
                .output()
                .expect("openssl")
                .status
                .success(),
            "{args:?}"
        );
    }
    let cs = mint(
        &ec_key(&d.join("cs.key")),
        &pem_to_der(&d.join("cs.crt")),
        claims(GUN, &["push", "pull"], exp),
    );
    send(tls_client(&pki, Some(&cs), false).get(s.tuf(GUN, "timestamp.key")))
        .await
        .assert_ok();

    // A push token publishes; reads are anonymous.
    s.client = tls_client(&pki, Some(&good), false);
    s.get("/v2/").await.assert_ok();
    let repo = Repo::new(&s, GUN, true).await;
    repo.init(&s, &[("v1", b"one")]).await;
    s.client = tls_client(&pki, None, false);
    verify_served(&s, GUN, &[]).await;
    // DELETE needs "*".
    let r = send(tls_client(&pki, Some(&good), false).delete(s.tuf(GUN, ""))).await;
    r.assert_error(401, "UNAUTHORIZED");
    s.get_file(GUN, "root.json").await.assert_ok();
    let all = mint(&issuer, &issuer_der, claims(GUN, &["*"], exp));
    send(tls_client(&pki, Some(&all), false).delete(s.tuf(GUN, "")))
        .await
        .assert_ok();
    s.get_file(GUN, "root.json")
        .await
        .assert_error(404, "METADATA_NOT_FOUND");
}

#[tokio::test]
async fn mtls_needs_a_client_certificate_for_writes() {
    let pki_dir = tempfile::tempdir().expect("tempdir");
    let pki = Pki::new(pki_dir.path());
    let auth = Auth::Mtls {
        client_ca: vec![pem_to_der(&pki.ca_cert)],
    };
    let mut s = tls_server(&pki, auth).await;
    s.get("/v2/").await.assert_ok();
    s.get_file(GUN, "timestamp.key")
        .await
        .assert_error(401, "UNAUTHORIZED");
    let (ct, body) = multipart(&[("root", b"{}")]);
    send(
        s.client
            .post(s.tuf(GUN, ""))
            .header("content-type", ct)
            .body(body),
    )
    .await
    .assert_error(401, "UNAUTHORIZED");

    // A certificate from another CA does not even complete the handshake.
    let other_dir = tempfile::tempdir().expect("tempdir");
    let other = Pki::new(other_dir.path());
    let (crt, key) = other.issue("client", "intruder");
    let mut pem = std::fs::read(crt).expect("crt");
    pem.extend_from_slice(&std::fs::read(key).expect("key"));
    let intruder = reqwest::Client::builder()
        .add_root_certificate(
            reqwest::Certificate::from_pem(&std::fs::read(&pki.ca_cert).expect("ca")).expect("ca"),
        )
        .identity(reqwest::Identity::from_pem(&pem).expect("identity"))
        .build()
        .expect("client");
    let r = intruder.get(s.tuf(GUN, "timestamp.key")).send().await;
    assert!(r.is_err() || r.is_ok_and(|r| r.status() == 401));

    s.client = tls_client(&pki, None, true);
    let repo = Repo::new(&s, GUN, true).await;
    repo.init(&s, &[("v1", b"one")]).await;
    s.client = tls_client(&pki, None, false);
    verify_served(&s, GUN, &[]).await;
}

#[tokio::test]
async fn plain_http_client_cannot_talk_to_a_tls_server() {
    let pki_dir = tempfile::tempdir().expect("tempdir");
    let pki = Pki::new(pki_dir.path());
    let s = tls_server(&pki, Auth::LoopbackOnly).await;
    let http = s.url.replace("https://", "http://");
    let r = client().get(format!("{http}/v2/")).send().await;
    assert!(r.is_err() || r.is_ok_and(|r| !r.status().is_success()));
    s.get("/v2/").await.assert_ok();
}

/// A TLS client that completes its handshake, then dribbles its request headers a byte at a
/// time, is cut off at the header-read timeout (such connections used to stay open for good),
/// and a normal client is still served.
#[tokio::test]
async fn a_tls_client_dribbling_its_headers_is_cut_off() {
    use rustls_pki_types::{CertificateDer, ServerName, pem::PemObject as _};
    use tokio::io::AsyncWriteExt as _;
    let dir = tempfile::tempdir().expect("tempdir");
    let pki = Pki::new(&dir.path().join("pki"));
    let mut config = Config::new(dir.path().join("data"));
    config.tls = Some((pki.server_cert.clone(), pki.server_key.clone()));
    config.limits.header_read_timeout = std::time::Duration::from_secs(1);
    let server = start_with(config).await;
    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(CertificateDer::from_pem_file(&pki.ca_cert).expect("CA"))
        .expect("CA");
    let provider = std::sync::Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let client = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("versions")
        .with_root_certificates(roots)
        .with_no_client_auth();
    let tcp = tokio::net::TcpStream::connect(server.addr())
        .await
        .expect("connect");
    let mut tls = tokio_rustls::TlsConnector::from(std::sync::Arc::new(client))
        .connect(
            ServerName::IpAddress(std::net::Ipv4Addr::LOCALHOST.into()),
            tcp,
        )
        .await
        .expect("handshake");
    tls.write_all(b"GET /v2/ HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        .await
        .expect("write");
    let started = std::time::Instant::now();
    let mut cut = false;
    for _ in 0..50 {
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        if tls.write_all(b"X").await.is_err() || tls.flush().await.is_err() {
            cut = true;
            break;
        }
    }
    assert!(
        cut,
        "expected the server to cut a TLS client dribbling its headers, still open after {:?}",
        started.elapsed()
    );
    let health = tls_client(&pki, None, false)
        .get(format!(
            "https://127.0.0.1:{}/_notary_server/health",
            server.addr().port()
        ))
        .send()
        .await
        .expect("health");
    assert_eq!(health.status(), 200);
}
