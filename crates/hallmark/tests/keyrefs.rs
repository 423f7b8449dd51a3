//! Keys that never sit on disk (issue 5): `--key` references to a SoftHSM2 token (PKCS#11),
//! AWS KMS and Secrets Manager (moto 5.2.5), and Vault transit (a FIXTURE, no real Vault).
//! Every signature is checked with `hallmark verify --key <exported PEM>`; faults must fail
//! with the reference named, no secret shown, exit 1 and the registry unchanged.

use crate::util::{Image, World, state};
use hallmark_testutil::{
    moto::{self, MotoServer},
    softhsm::{self, SoftHsm},
    tools,
    vault::VaultFixture,
};
use std::{
    io::{Read as _, Write as _},
    net::{TcpListener, TcpStream},
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, Ordering},
    },
    thread,
    time::Duration,
};

// ---- helpers ------------------------------------------------------------------------------

fn hsm_with_key(label: &str) -> SoftHsm {
    let hsm = SoftHsm::new(label);
    hsm.keygen_p256("signer", "01");
    hsm
}

impl World {
    /// `hallmark ARGS` with SOFTHSM2_CONF of `hsm`.
    fn hm_hsm(&self, hsm: &SoftHsm, args: &[&str]) -> crate::util::Hallmark {
        self.hm(args)
            .env("SOFTHSM2_CONF", hsm.conf().to_str().unwrap())
    }

    /// `hallmark ARGS` talking to `moto` (or to `endpoint` instead).
    fn hm_aws(
        &self,
        moto: &MotoServer,
        endpoint: Option<&str>,
        args: &[&str],
    ) -> crate::util::Hallmark {
        let mut h = self.hm(args);
        for (k, v) in moto.aws_env() {
            h = h.env(k, &v);
        }
        if let Some(e) = endpoint {
            h = h.env("AWS_ENDPOINT_URL", e);
        }
        h
    }

    /// Export the public key of REF to NAME.pem with `key public-key` and return the path.
    fn export(&self, h: crate::util::Hallmark, name: &str) -> String {
        let out = h.run();
        out.success();
        assert!(
            out.stdout.starts_with("-----BEGIN PUBLIC KEY-----"),
            "key public-key: expected a PEM public key, found:\n{out}"
        );
        let path = format!("{name}.pem");
        std::fs::write(self.path(&path), &out.stdout).unwrap();
        path
    }

    /// `verify --key PEM IMAGE` must succeed.
    fn verify_pem(&self, pem: &str, image: &Image) {
        self.hm(["verify", "--key", pem, &image.by_tag()])
            .run()
            .success();
    }
}

/// skopeo 1.18's policy engine accepts the signature too (when skopeo is installed).
fn skopeo_accepts(w: &World, pem: &str, image: &Image) {
    if !tools::skopeo_available() {
        return;
    }
    let verdict = tools::skopeo_verify(
        crate::util::registry(),
        &image.path_tag(),
        &w.path(pem),
        tools::SignedIdentity::MatchRepository,
    );
    verdict.assert_success();
}

fn moto() -> Option<&'static MotoServer> {
    if !moto::available() {
        let ci = std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "false" && v != "0");
        assert!(
            !ci,
            "CI is set but moto_server is missing: set {} or put it on PATH",
            moto::SERVER_ENV
        );
        eprintln!("moto_server not found: AWS tests skipped");
        return None;
    }
    Some(moto::shared())
}

fn softhsm_available() -> bool {
    if softhsm::module().is_some() {
        return true;
    }
    let ci = std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "false" && v != "0");
    assert!(
        !ci,
        "CI is set but SoftHSM2 is missing (Debian softhsm2, opensc)"
    );
    eprintln!("SoftHSM2 not installed: PKCS#11 tests skipped");
    false
}

fn unique_alias(name: &str) -> String {
    format!("alias/{}", crate::util::unique(name).replace('/', "-"))
}

/// A tiny HTTP/1.1 proxy in front of moto that can answer a request itself: throttle it
/// (`ThrottlingException`, as KMS does) or drop the connection (the network failing).
#[derive(Clone, Copy, PartialEq, Debug)]
enum Action {
    Forward,
    Throttle,
    Drop,
}

struct AwsProxy {
    addr: String,
    stop: Arc<AtomicBool>,
    seen: Arc<Mutex<Vec<(String, Action)>>>,
}

type Policy = Arc<dyn Fn(&str, usize) -> Action + Send + Sync>;

impl AwsProxy {
    /// `policy(target, n)`: what to do with the n-th (0-based) request of `X-Amz-Target`.
    fn start(
        upstream: u16,
        policy: impl Fn(&str, usize) -> Action + Send + Sync + 'static,
    ) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        let stop = Arc::new(AtomicBool::new(false));
        let seen: Arc<Mutex<Vec<(String, Action)>>> = Arc::default();
        let policy: Policy = Arc::new(policy);
        listener.set_nonblocking(true).unwrap();
        let (stop2, seen2) = (stop.clone(), seen.clone());
        thread::spawn(move || {
            while !stop2.load(Ordering::Relaxed) {
                match listener.accept() {
                    Ok((stream, _)) => {
                        let (seen, policy) = (seen2.clone(), policy.clone());
                        thread::spawn(move || serve(stream, upstream, &seen, &policy));
                    }
                    Err(_) => thread::sleep(Duration::from_millis(10)),
                }
            }
        });
        Self { addr, stop, seen }
    }

    fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    fn seen(&self, target: &str) -> Vec<Action> {
        self.seen
            .lock()
            .unwrap()
            .iter()
            .filter(|(t, _)| t == target)
            .map(|(_, a)| *a)
            .collect()
    }
}

impl Drop for AwsProxy {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

/// Read one HTTP message (head + Content-Length body) from `s`.
fn read_message(s: &mut TcpStream) -> Option<(String, Vec<u8>)> {
    let mut buf = Vec::new();
    let mut byte = [0u8; 1];
    while !buf.ends_with(b"\r\n\r\n") {
        if s.read(&mut byte).ok()? == 0 {
            return None;
        }
        buf.push(byte[0]);
    }
    let head = String::from_utf8_lossy(&buf).into_owned();
    let len = head
        .lines()
        .find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.eq_ignore_ascii_case("content-length")
                .then(|| v.trim().parse::<usize>().ok())
                .flatten()
        })
        .unwrap_or(0);
    let mut body = vec![0u8; len];
    s.read_exact(&mut body).ok()?;
    Some((head, body))
}

fn serve(
    mut client: TcpStream,
    upstream: u16,
    seen: &Mutex<Vec<(String, Action)>>,
    policy: &Policy,
) {
    let _ = client.set_read_timeout(Some(Duration::from_secs(30)));
    while let Some((head, body)) = read_message(&mut client) {
        let target = head
            .lines()
            .find_map(|l| {
                let (k, v) = l.split_once(':')?;
                k.eq_ignore_ascii_case("x-amz-target")
                    .then(|| v.trim().to_owned())
            })
            .unwrap_or_default();
        let action = {
            let mut seen = seen.lock().unwrap();
            let n = seen.iter().filter(|(t, _)| *t == target).count();
            let a = policy(&target, n);
            seen.push((target.clone(), a));
            a
        };
        match action {
            Action::Drop => return,
            Action::Throttle => {
                let body = br#"{"__type":"ThrottlingException","message":"Rate exceeded"}"#;
                let resp = format!(
                    "HTTP/1.1 400 Bad Request\r\nContent-Type: application/x-amz-json-1.1\r\nx-amzn-ErrorType: ThrottlingException\r\nContent-Length: {}\r\n\r\n",
                    body.len()
                );
                if client.write_all(resp.as_bytes()).is_err() || client.write_all(body).is_err() {
                    return;
                }
            }
            Action::Forward => {
                let Ok(mut up) = TcpStream::connect(("127.0.0.1", upstream)) else {
                    return;
                };
                let _ = up.set_read_timeout(Some(Duration::from_secs(30)));
                if up.write_all(head.as_bytes()).is_err() || up.write_all(&body).is_err() {
                    return;
                }
                let Some((rhead, rbody)) = read_message(&mut up) else {
                    return;
                };
                if client.write_all(rhead.as_bytes()).is_err() || client.write_all(&rbody).is_err()
                {
                    return;
                }
            }
        }
    }
}

// ---- PKCS#11 (SoftHSM2) ----------------------------------------------------------------------

#[test]
fn pkcs11_sign_then_verify_with_the_exported_public_key_and_skopeo() {
    if !softhsm_available() {
        return;
    }
    let w = World::new();
    let hsm = hsm_with_key("release");
    let image = &w.seed("p11-sign", 1)[0];
    // The public key is read from the token without a PIN.
    let pem = w.export(
        w.hm_hsm(
            &hsm,
            &["key", "public-key", "--key", &hsm.uri("signer", false)],
        ),
        "p11",
    );
    let out = w
        .hm_hsm(
            &hsm,
            &[
                "sign",
                "-o",
                "json",
                "--key",
                &hsm.uri("signer", true),
                &image.by_tag(),
            ],
        )
        .run();
    out.success();
    let v = out.json();
    assert_eq!(v[0]["signed"][0]["digest"], image.digest.as_str(), "{out}");
    let key = v[0]["key"].as_str().unwrap_or_default();
    assert!(
        key.starts_with("pkcs11:token=release;object=signer")
            && key.contains("pin-value=<redacted>"),
        "sign -o json: expected the redacted reference, found {key:?}"
    );
    assert!(!out.stdout.contains(softhsm::PIN) && !out.stderr.contains(softhsm::PIN));
    w.verify_pem(&pem, image);
    // The token's own key as a verification reference (public key read from the token).
    w.hm_hsm(
        &hsm,
        &[
            "verify",
            "--key",
            &hsm.uri("signer", false),
            &image.by_tag(),
        ],
    )
    .run()
    .success();
    skopeo_accepts(&w, &pem, image);
    // sign-blob / verify-blob with the token, PIN from the environment.
    std::fs::write(w.path("blob.txt"), b"release notes").unwrap();
    let out = w
        .hm_hsm(
            &hsm,
            &["sign-blob", "--key", &hsm.uri("signer", false), "blob.txt"],
        )
        .env(hallmark_keys::pkcs11::PIN_VAR, softhsm::PIN)
        .run();
    out.success();
    w.hm([
        "verify-blob",
        "--key",
        &pem,
        "--signature",
        out.stdout.trim(),
        "blob.txt",
    ])
    .run()
    .success();
}

#[test]
fn pkcs11_key_signs_notation_signatures_under_a_certificate_made_for_it() {
    if !softhsm_available() {
        return;
    }
    let w = World::new();
    let hsm = hsm_with_key("notation");
    let image = &w.seed("p11-notation", 1)[0];
    // The token's key is certified; no key leaves the token and no key file is written.
    w.hm_hsm(
        &hsm,
        &[
            "notation",
            "cert",
            "generate-test",
            "acme",
            "--key",
            &hsm.uri("signer", false),
            "--key-dir",
            "keys",
            "--trust-store",
            "store",
        ],
    )
    .run()
    .success();
    assert!(!w.path("keys/acme.key").exists());
    let out = w
        .hm_hsm(
            &hsm,
            &[
                "sign",
                "--format",
                "notation",
                "--envelope",
                "cose",
                "--key",
                &hsm.uri("signer", true),
                "--cert",
                "keys/acme.crt",
                &image.by_tag(),
            ],
        )
        .run();
    out.success();
    crate::notation::trust_policy(
        &w,
        "tp.json",
        &[&image.repo],
        "strict",
        &[crate::notation::identity("acme")],
    );
    let (code, d, out) = crate::notation::verify(&w, "tp.json", &image.by_tag());
    assert_eq!(
        code,
        Some(0),
        "expected the token-signed image allowed:\n{out}"
    );
    assert_eq!(d["digest"], image.digest.as_str());
    // A certificate for another key is refused before anything is written.
    let other = World::new();
    let before = state(&image.path);
    std::fs::create_dir_all(other.path("keys")).unwrap();
    other
        .hm([
            "notation",
            "cert",
            "generate-test",
            "acme",
            "--key-dir",
            "keys",
            "--trust-store",
            "store",
        ])
        .pw("pw")
        .run()
        .success();
    let cert = other.path("keys/acme.crt");
    w.hm_hsm(
        &hsm,
        &[
            "sign",
            "--format",
            "notation",
            "--key",
            &hsm.uri("signer", true),
            "--cert",
            cert.to_str().unwrap(),
            &image.by_tag(),
        ],
    )
    .run()
    .failure(&["certify the signing key"]);
    assert_eq!(state(&image.path), before, "nothing may be written");
}

#[test]
fn pkcs11_key_generate_creates_the_key_on_the_token() {
    if !softhsm_available() {
        return;
    }
    let w = World::new();
    let hsm = SoftHsm::new("gen");
    let uri = format!(
        "pkcs11:token=gen;object=made-by-hallmark?module-path={}",
        hsm.module().display()
    );
    let out = w
        .hm_hsm(
            &hsm,
            &[
                "key",
                "generate",
                "--kms",
                &uri,
                "--output-prefix",
                "made",
                "-o",
                "json",
            ],
        )
        .env(hallmark_keys::pkcs11::PIN_VAR, softhsm::PIN)
        .run();
    out.success();
    assert_eq!(out.json()["algorithm"], "ecdsa-p256", "{out}");
    assert!(w.path("made.pub").is_file());
    assert!(
        !w.path("made.key").exists(),
        "no private key file may be written"
    );
    let listed = hsm.pkcs11_tool().arg("--list-objects").output().unwrap();
    let listed = String::from_utf8_lossy(&listed.stdout);
    assert!(
        listed.contains("Private Key Object; EC") && listed.contains("made-by-hallmark"),
        "pkcs11-tool --list-objects: expected the new EC key, found:\n{listed}"
    );
    let image = &w.seed("p11-gen", 1)[0];
    w.hm_hsm(&hsm, &["sign", "--key", &uri, &image.by_tag()])
        .env(hallmark_keys::pkcs11::PIN_VAR, softhsm::PIN)
        .run()
        .success();
    w.verify_pem("made.pub", image);
    // A second generate with the same label is refused.
    w.hm_hsm(
        &hsm,
        &["key", "generate", "--kms", &uri, "--output-prefix", "again"],
    )
    .env(hallmark_keys::pkcs11::PIN_VAR, softhsm::PIN)
    .run()
    .failure(&["already exists on the token"]);
}

#[test]
fn pkcs11_wrong_pin_fails_without_showing_it_and_pushes_nothing() {
    if !softhsm_available() {
        return;
    }
    let w = World::new();
    let hsm = hsm_with_key("pin");
    let image = &w.seed("p11-pin", 1)[0];
    let before = state(&image.path);
    let wrong = "9876-not-the-pin";
    let uri = format!(
        "pkcs11:token=pin;object=signer?module-path={}&pin-value={wrong}",
        hsm.module().display()
    );
    let out = w
        .hm_hsm(&hsm, &["sign", "--key", &uri, &image.by_tag()])
        .run();
    out.failure(&[
        "pkcs11:token=pin;object=signer",
        "wrong PIN",
        "CKR_PIN_INCORRECT",
    ]);
    assert!(
        !out.stderr.contains(wrong) && !out.stdout.contains(wrong),
        "PIN shown:\n{out}"
    );
    assert_eq!(
        state(&image.path),
        before,
        "a refused sign changed the registry"
    );
}

#[test]
fn pkcs11_missing_token_and_missing_key() {
    if !softhsm_available() {
        return;
    }
    let w = World::new();
    let hsm = hsm_with_key("present");
    let image = &w.seed("p11-missing", 1)[0];
    let before = state(&image.path);
    let m = hsm.module().display().to_string();
    w.hm_hsm(
        &hsm,
        &[
            "sign",
            "--key",
            &format!(
                "pkcs11:token=absent;object=signer?module-path={m}&pin-value={}",
                softhsm::PIN
            ),
            &image.by_tag(),
        ],
    )
    .run()
    .failure(&["no token matches token=absent", "\"present\""]);
    w.hm_hsm(
        &hsm,
        &[
            "sign",
            "--key",
            &format!(
                "pkcs11:token=present;object=nokey?module-path={m}&pin-value={}",
                softhsm::PIN
            ),
            &image.by_tag(),
        ],
    )
    .run()
    .failure(&["pkcs11:token=present;object=nokey", "no private key"]);
    w.hm_hsm(
        &hsm,
        &[
            "sign",
            "--key",
            "pkcs11:token=present;object=signer?module-path=/nonexistent/libpkcs11.so",
            &image.by_tag(),
        ],
    )
    .env(hallmark_keys::pkcs11::PIN_VAR, softhsm::PIN)
    .run()
    .failure(&["cannot load the PKCS#11 module"]);
    // No PIN in the URI or the environment: an error naming the variable, never a prompt.
    w.hm_hsm(
        &hsm,
        &["sign", "--key", &hsm.uri("signer", false), &image.by_tag()],
    )
    .run()
    .failure(&["HALLMARK_PKCS11_PIN", "pin-value"]);
    assert_eq!(state(&image.path), before);
}

// ---- AWS KMS (moto) ---------------------------------------------------------------------------

#[test]
fn awskms_sign_then_verify_with_the_kms_public_key() {
    let Some(moto) = moto() else { return };
    let w = World::new();
    let id = moto.create_kms_key("ECC_NIST_P256", "SIGN_VERIFY");
    let alias = unique_alias("kms");
    moto.create_alias(&alias, &id);
    let reference = format!("awskms:///{alias}");
    let image = &w.seed("kms-sign", 1)[0];
    let pem = w.export(
        w.hm_aws(moto, None, &["key", "public-key", "--key", &reference]),
        "kms",
    );
    let out = w
        .hm_aws(
            moto,
            None,
            &["sign", "-o", "json", "--key", &reference, &image.by_tag()],
        )
        .run();
    out.success();
    assert_eq!(out.json()[0]["key"], reference.as_str());
    w.verify_pem(&pem, image);
    // by key ID too, and the KMS key itself as the verification reference
    w.hm_aws(
        moto,
        None,
        &[
            "verify",
            "--key",
            &format!("awskms:///{id}"),
            &image.by_tag(),
        ],
    )
    .run()
    .success();
    skopeo_accepts(&w, &pem, image);
    // attest: a DSSE envelope over PAE, signed in KMS
    std::fs::write(w.path("pred.json"), br#"{"builder":"ci"}"#).unwrap();
    w.hm_aws(
        moto,
        None,
        &[
            "attest",
            "--key",
            &reference,
            "--predicate",
            "pred.json",
            &image.by_tag(),
        ],
    )
    .run()
    .success();
    w.hm(["verify-attestation", "--key", &pem, &image.by_tag()])
        .run()
        .success();
}

#[test]
fn awskms_messages_over_4096_bytes_go_as_digest_and_moto_is_caught() {
    let Some(moto) = moto() else { return };
    let w = World::new();
    let id = moto.create_kms_key("ECC_NIST_P256", "SIGN_VERIFY");
    let reference = format!("awskms:///{id}");
    let pem = w.export(
        w.hm_aws(moto, None, &["key", "public-key", "--key", &reference]),
        "k",
    );
    std::fs::write(w.path("small.txt"), vec![b'a'; 4096]).unwrap();
    let out = w
        .hm_aws(moto, None, &["sign-blob", "--key", &reference, "small.txt"])
        .run();
    out.success();
    w.hm([
        "verify-blob",
        "--key",
        &pem,
        "--signature",
        out.stdout.trim(),
        "small.txt",
    ])
    .run()
    .success();
    // Over 4096 bytes KMS needs MessageType=DIGEST, which moto 5.2.5 signs as sha256(digest):
    // hallmark checks every KMS signature against the public key and refuses it.
    std::fs::write(w.path("big.txt"), vec![b'a'; 4097]).unwrap();
    w.hm_aws(moto, None, &["sign-blob", "--key", &reference, "big.txt"])
        .run()
        .failure(&[
            &reference,
            "does not verify with the key's public key",
            "MessageType=DIGEST",
        ]);
}

#[test]
fn awskms_key_generate_creates_key_and_alias() {
    let Some(moto) = moto() else { return };
    let w = World::new();
    let alias = unique_alias("gen");
    let reference = format!("awskms:///{alias}");
    let out = w
        .hm_aws(
            moto,
            None,
            &[
                "key",
                "generate",
                "--kms",
                &reference,
                "--output-prefix",
                "kms",
                "-o",
                "json",
            ],
        )
        .run();
    out.success();
    assert_eq!(out.json()["algorithm"], "ecdsa-p256");
    let image = &w.seed("kms-gen", 1)[0];
    w.hm_aws(moto, None, &["sign", "--key", &reference, &image.by_tag()])
        .run()
        .success();
    w.verify_pem("kms.pub", image);
}

#[test]
fn awskms_unknown_key_and_wrong_usage_or_spec() {
    let Some(moto) = moto() else { return };
    let w = World::new();
    let image = &w.seed("kms-bad", 1)[0];
    let before = state(&image.path);
    w.hm_aws(
        moto,
        None,
        &[
            "sign",
            "--key",
            "awskms:///alias/no-such-key",
            &image.by_tag(),
        ],
    )
    .run()
    .failure(&[
        "awskms:///alias/no-such-key",
        "AWS KMS",
        "DescribeKey",
        "NotFoundException",
    ]);
    let enc = moto.create_kms_key("SYMMETRIC_DEFAULT", "ENCRYPT_DECRYPT");
    w.hm_aws(
        moto,
        None,
        &[
            "sign",
            "--key",
            &format!("awskms:///{enc}"),
            &image.by_tag(),
        ],
    )
    .run()
    .failure(&["expected a key with KeyUsage SIGN_VERIFY, found ENCRYPT_DECRYPT"]);
    let hmac = moto.create_kms_key("HMAC_256", "GENERATE_VERIFY_MAC");
    w.hm_aws(
        moto,
        None,
        &[
            "sign",
            "--key",
            &format!("awskms:///{hmac}"),
            &image.by_tag(),
        ],
    )
    .run()
    .failure(&["expected a key with KeyUsage SIGN_VERIFY, found GENERATE_VERIFY_MAC"]);
    assert_eq!(state(&image.path), before);
}

#[test]
fn awskms_throttling_is_retried_with_a_bound() {
    let Some(moto) = moto() else { return };
    let w = World::new();
    let id = moto.create_kms_key("ECC_NIST_P256", "SIGN_VERIFY");
    let reference = format!("awskms:///{id}");
    let pem = w.export(
        w.hm_aws(moto, None, &["key", "public-key", "--key", &reference]),
        "k",
    );
    let image = &w.seed("kms-throttle", 2);
    // Two throttled Sign calls, then through: the SDK's bounded retry gets it signed.
    let proxy = AwsProxy::start(moto.port(), |target, n| {
        if target == "TrentService.Sign" && n < 2 {
            Action::Throttle
        } else {
            Action::Forward
        }
    });
    w.hm_aws(
        moto,
        Some(&proxy.url()),
        &["sign", "--key", &reference, &image[0].by_tag()],
    )
    .run()
    .success();
    assert_eq!(
        proxy.seen("TrentService.Sign"),
        vec![Action::Throttle, Action::Throttle, Action::Forward]
    );
    w.verify_pem(&pem, &image[0]);
    // Always throttled: gives up after 5 attempts, nothing pushed.
    let before = state(&image[1].path);
    let proxy = AwsProxy::start(moto.port(), |target, _| {
        if target == "TrentService.Sign" {
            Action::Throttle
        } else {
            Action::Forward
        }
    });
    w.hm_aws(
        moto,
        Some(&proxy.url()),
        &["sign", "--key", &reference, &image[1].by_tag()],
    )
    .run()
    .failure(&[&reference, "ThrottlingException"]);
    assert_eq!(
        proxy.seen("TrentService.Sign").len(),
        5,
        "expected exactly 5 attempts"
    );
    assert_eq!(state(&image[1].path), before);
}

#[test]
fn awskms_network_failing_mid_sign_pushes_nothing() {
    let Some(moto) = moto() else { return };
    let w = World::new();
    let id = moto.create_kms_key("ECC_NIST_P256", "SIGN_VERIFY");
    let reference = format!("awskms:///{id}");
    let image = &w.seed("kms-net", 1)[0];
    let before = state(&image.path);
    // DescribeKey and GetPublicKey get through; every Sign connection is cut.
    let proxy = AwsProxy::start(moto.port(), |target, _| {
        if target == "TrentService.Sign" {
            Action::Drop
        } else {
            Action::Forward
        }
    });
    w.hm_aws(
        moto,
        Some(&proxy.url()),
        &["sign", "--key", &reference, &image.by_tag()],
    )
    .run()
    .failure(&[&reference, "Sign"]);
    assert!(
        !proxy.seen("TrentService.Sign").is_empty() && proxy.seen("TrentService.Sign").len() <= 5
    );
    // A closed port from the start.
    w.hm_aws(
        moto,
        Some(&format!("http://{}", crate::util::dead_addr())),
        &["sign", "--key", &reference, &image.by_tag()],
    )
    .run()
    .failure(&[&reference, "DescribeKey"]);
    assert_eq!(state(&image.path), before);
}

// ---- AWS Secrets Manager ------------------------------------------------------------------

#[test]
fn awssm_release_flow_signs_with_a_key_fetched_into_memory() {
    let Some(moto) = moto() else { return };
    let w = World::new();
    let k = w.key("release", "sm-passphrase-77a1");
    let pem = std::fs::read_to_string(&k.private).unwrap();
    let name = crate::util::unique("sm-key").replace('/', "-");
    moto.create_secret(&name, &pem);
    moto.create_secret(&format!("{name}-pass"), "sm-passphrase-77a1");
    // The key files are gone: only Secrets Manager has the key now.
    std::fs::remove_file(&k.private).unwrap();
    let images = w.seed("sm", 2);
    let reference = format!("awssm://{name}?passphrase-secret={name}-pass");
    let out = w
        .hm_aws(
            moto,
            None,
            &[
                "sign",
                "-o",
                "json",
                "--key",
                &reference,
                &images[0].by_tag(),
            ],
        )
        .run();
    out.success();
    assert_eq!(out.json()[0]["key"], reference.as_str());
    w.verify(&k, &[], &images[0].by_tag()).success();
    // Passphrase from the environment instead of a second secret.
    w.hm_aws(
        moto,
        None,
        &[
            "sign",
            "--key",
            &format!("awssm://{name}"),
            &images[1].by_tag(),
        ],
    )
    .env("COSIGN_PASSWORD", "sm-passphrase-77a1")
    .run()
    .success();
    w.verify(&k, &[], &images[1].by_tag()).success();
    let listed: Vec<_> = std::fs::read_dir(w.dir())
        .unwrap()
        .flatten()
        .map(|e| e.file_name())
        .collect();
    assert!(
        !listed.iter().any(|n| n.to_string_lossy().ends_with(".key")),
        "a key file appeared in the working directory: {listed:?}"
    );
}

#[test]
fn awssm_missing_secret_and_wrong_passphrase() {
    let Some(moto) = moto() else { return };
    let w = World::new();
    let k = w.key("k", "right-sm-pass-1");
    let name = crate::util::unique("sm-bad").replace('/', "-");
    moto.create_secret(&name, &std::fs::read_to_string(&k.private).unwrap());
    moto.create_secret(&format!("{name}-wrong"), "wrong-sm-pass-2");
    let image = &w.seed("sm-bad", 1)[0];
    let before = state(&image.path);
    w.hm_aws(
        moto,
        None,
        &["sign", "--key", "awssm://no-such-secret", &image.by_tag()],
    )
    .run()
    .failure(&["awssm://no-such-secret", "ResourceNotFoundException"]);
    let out = w
        .hm_aws(
            moto,
            None,
            &[
                "sign",
                "--key",
                &format!("awssm://{name}?passphrase-secret={name}-wrong"),
                &image.by_tag(),
            ],
        )
        .run();
    out.failure(&[&format!("awssm://{name}"), "passphrase"]);
    assert!(!out.stderr.contains("wrong-sm-pass-2") && !out.stderr.contains("right-sm-pass-1"));
    // No passphrase anywhere, CI set: a clear error naming the variables, no prompt.
    w.hm_aws(
        moto,
        None,
        &["sign", "--key", &format!("awssm://{name}"), &image.by_tag()],
    )
    .run()
    .failure(&["HALLMARK_PASSWORD", "COSIGN_PASSWORD"]);
    assert_eq!(state(&image.path), before);
}

// ---- Vault transit (FIXTURE) --------------------------------------------------------------

#[test]
fn vault_fixture_sign_then_verify_with_the_transit_public_key() {
    let w = World::new();
    let vault = VaultFixture::start("hvs.cli-fixture-token");
    vault.add_p256_key("release");
    let image = &w.seed("vault", 1)[0];
    let with_vault = |args: &[&str]| {
        w.hm(args)
            .env("VAULT_ADDR", &vault.url())
            .env("VAULT_TOKEN", vault.token())
    };
    let pem = w.export(
        with_vault(&["key", "public-key", "--key", "hashivault://release"]),
        "vault",
    );
    with_vault(&["sign", "--key", "hashivault://release", &image.by_tag()])
        .run()
        .success();
    w.verify_pem(&pem, image);
    with_vault(&["verify", "--key", "hashivault://release", &image.by_tag()])
        .run()
        .success();
    skopeo_accepts(&w, &pem, image);
    assert_eq!(vault.sign_requests(), 1);
}

// ---- release pipelines and hygiene ----------------------------------------------------------

/// One run of the hygiene tests: the command, whether it must succeed (else exit 1), and the
/// debug lines its output must hold (so the test fails if logging silently stops).
struct LoggedRun {
    what: &'static str,
    h: crate::util::Hallmark,
    ok: bool,
    expect: Vec<String>,
}

/// Run every `LoggedRun`; return each one's stdout + stderr after checking exit code and lines.
fn run_logged(runs: Vec<LoggedRun>) -> Vec<String> {
    let mut outputs = Vec::new();
    for run in runs {
        let out = run.h.run();
        if run.ok {
            out.success();
        } else {
            assert_eq!(out.code, Some(1), "{}: {out}", run.what);
        }
        let text = format!("{}\n{}", out.stdout, out.stderr);
        for line in &run.expect {
            assert!(
                text.contains(line.as_str()),
                "{}: expected the debug output to contain {line:?}, found:\n{out}",
                run.what
            );
        }
        outputs.push(text);
    }
    outputs
}

/// No run's output holds any of `secrets`.
fn assert_no_secret(outputs: &[String], secrets: &[String]) {
    for (i, text) in outputs.iter().enumerate() {
        for s in secrets {
            assert!(
                !text.contains(s.as_str()),
                "run {i} printed a secret ({s:?}):\n{text}"
            );
        }
    }
}

fn lines(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| (*s).to_owned()).collect()
}

const AWS_SECRET: &str = "aws-secret-access-key-hygiene-0b7e";
const AWS_SESSION: &str = "aws-session-token-hygiene-55c1";

#[test]
fn no_secret_reaches_the_output_even_with_trace_logging() {
    if !softhsm_available() {
        return;
    }
    let w = World::new();
    let hsm = hsm_with_key("hygiene");
    let image = &w.seed("hygiene", 1)[0];
    let pass = "hygiene-passphrase-31f7";
    let k = w.key("k", pass);
    let encrypted_pem = std::fs::read_to_string(&k.private).unwrap();
    // A plain PEM private key in an environment variable.
    let out = w
        .hm([
            "key",
            "import",
            "--key",
            "k.key",
            "--output-prefix",
            "plain",
        ])
        .pw(pass)
        .run();
    out.success();
    let plain = hallmark_core::keyfile::decrypt_cosign_key(
        &encrypted_pem,
        &hallmark_core::Passphrase::new(pass.as_bytes().to_vec()),
        "k",
    )
    .unwrap()
    .to_pkcs8_pem();
    let body_lines = |pem: &str| -> Vec<String> {
        pem.lines()
            .filter(|l| !l.starts_with("-----") && l.len() > 16)
            .map(str::to_owned)
            .collect()
    };
    let vault_token = "hvs.hygiene-token-a9e3";
    let wrong_token = "hvs.wrong-token-71b2";
    let mut secrets = vec![
        pass.to_owned(),
        softhsm::PIN.to_owned(),
        "4242-wrong-pin".to_owned(),
        vault_token.to_owned(),
        wrong_token.to_owned(),
    ];
    secrets.extend(body_lines(&encrypted_pem));
    secrets.extend(body_lines(&plain));
    let pin_uri = |pin: &str| {
        format!(
            "pkcs11:token=hygiene;object=signer?module-path={}&pin-value={pin}",
            hsm.module().display()
        )
    };
    // Everything at trace level, hallmark's crates and every dependency (HTTP, TLS, the AWS
    // SDK, cryptoki), plus -vv.
    let trace = |h: crate::util::Hallmark| {
        h.env("RUST_LOG", "trace")
            .env("HALLMARK_TLOG_TRACE", "1")
            .env("RUST_BACKTRACE", "1")
            .env("SOFTHSM2_CONF", hsm.conf().to_str().unwrap())
            .env("HM_PLAIN_KEY", &plain)
    };
    let hm = |args: &[&str]| trace(w.hm(args).args(["-vv"]));
    let by_tag = image.by_tag();
    let (good_uri, bad_uri) = (pin_uri(softhsm::PIN), pin_uri("4242-wrong-pin"));
    let mut runs = vec![
        LoggedRun {
            what: "file key",
            h: hm(&["sign", "--key", "k.key", &by_tag]).pw(pass),
            ok: true,
            expect: lines(&[
                "opening signing key",
                "reference=k.key",
                "passphrase from environment variable",
                "HALLMARK_PASSWORD",
                "signing key opened",
                "registry request",
                "signature written",
            ]),
        },
        LoggedRun {
            what: "file key, wrong passphrase",
            h: hm(&["sign", "--key", "k.key", &by_tag]).pw("not-it"),
            ok: false,
            expect: lines(&[
                "opening signing key",
                "decoding private key",
                "encrypted=true",
            ]),
        },
        LoggedRun {
            what: "PKCS#11",
            h: hm(&["sign", "-o", "json", "--key", &good_uri, &by_tag]),
            ok: true,
            expect: lines(&[
                "pin-value=<redacted>",
                "PKCS#11 PIN",
                "PKCS#11 C_Login: logged in",
                "PKCS#11 private key found",
                "PKCS#11 C_Sign",
            ]),
        },
        LoggedRun {
            what: "PKCS#11, wrong PIN",
            h: hm(&["sign", "--key", &bad_uri, &by_tag]),
            ok: false,
            expect: lines(&["PKCS#11 C_Login failed", "CKR_PIN_INCORRECT"]),
        },
        LoggedRun {
            what: "env:// key",
            h: hm(&["sign", "-o", "json", "--key", "env://HM_PLAIN_KEY", &by_tag]),
            ok: true,
            expect: lines(&[
                "key from environment variable",
                "HM_PLAIN_KEY",
                "encrypted=false",
            ]),
        },
        LoggedRun {
            what: "env:// public key",
            h: hm(&["key", "public-key", "--key", "env://HM_PLAIN_KEY"]),
            ok: true,
            expect: lines(&["reading public key", "key from environment variable"]),
        },
        LoggedRun {
            what: "sign-blob of a missing file",
            h: hm(&["sign-blob", "--key", "k.key", "missing-file.txt"]).pw(pass),
            ok: false,
            expect: lines(&["hallmark debug logging on"]),
        },
    ];
    // Vault transit (FIXTURE): the right token, then a wrong one (403 permission denied).
    let vault = VaultFixture::start(vault_token);
    vault.add_p256_key("hygiene");
    for (token, ok, expect) in [
        (
            vault_token,
            true,
            lines(&[
                "Vault transit request",
                "status=200",
                "Vault transit key found",
                "reference=hashivault://hygiene",
            ]),
        ),
        (
            wrong_token,
            false,
            lines(&["Vault transit request", "status=403"]),
        ),
    ] {
        runs.push(LoggedRun {
            what: "Vault transit",
            h: hm(&["sign", "--key", "hashivault://hygiene", &by_tag])
                .env("VAULT_ADDR", &vault.url())
                .env("VAULT_TOKEN", token),
            ok,
            expect,
        });
    }
    // The same key and passphrase held in Secrets Manager (moto): right and wrong passphrase
    // secret, and a passphrase secret that does not exist.
    if let Some(moto) = moto() {
        let name = crate::util::unique("hygiene").replace('/', "-");
        moto.create_secret(&name, &encrypted_pem);
        moto.create_secret(&format!("{name}-pass"), pass);
        moto.create_secret(&format!("{name}-bad"), "hygiene-wrong-4e2a");
        secrets.push("hygiene-wrong-4e2a".to_owned());
        secrets.extend([AWS_SECRET.to_owned(), AWS_SESSION.to_owned()]);
        for (suffix, ok, expect) in [
            (
                "pass",
                true,
                lines(&[
                    "AWS Secrets Manager GetSecretValue",
                    "AWS request",
                    "key secret fetched",
                    "passphrase secret",
                    "signing key opened",
                ]),
            ),
            (
                "bad",
                false,
                lines(&["AWS Secrets Manager GetSecretValue", "decoding private key"]),
            ),
            (
                "missing",
                false,
                lines(&["AWS request attempt failed", "ResourceNotFoundException"]),
            ),
        ] {
            let reference = format!("awssm://{name}?passphrase-secret={name}-{suffix}");
            let mut h = w.hm(["-vv", "sign", "-o", "json", "--key", &reference, &by_tag]);
            for (k, v) in moto.aws_env() {
                h = h.env(k, &v);
            }
            // Distinctive AWS credentials (moto does not check signatures): they must not
            // show either, though the SDK signs every request with them.
            h = h
                .env("AWS_SECRET_ACCESS_KEY", AWS_SECRET)
                .env("AWS_SESSION_TOKEN", AWS_SESSION);
            runs.push(LoggedRun {
                what: "awssm://",
                h: trace(h),
                ok,
                expect,
            });
        }
    }
    let outputs = run_logged(runs);
    assert_no_secret(&outputs, &secrets);
}

/// How [`RefusingRegistry`] asks for credentials.
#[derive(Clone, Copy, PartialEq)]
enum AuthMode {
    /// Every request: 401 with `WWW-Authenticate: Basic`.
    Basic,
    /// Registry requests: 401 with a Bearer challenge naming `/token`; `/token` (GET or POST)
    /// hands out [`REFUSED_TOKEN`], which the registry then refuses too.
    Bearer,
}

const REFUSED_TOKEN: &str = "bearer-token-hygiene-6d0c";

/// A registry that lets nobody in (401 to everything), recording what it was sent: request
/// line, `Authorization` header, and any body (an identity-token refresh).
struct RefusingRegistry {
    addr: String,
    stop: Arc<AtomicBool>,
    seen: Arc<Mutex<Vec<String>>>,
}

impl RefusingRegistry {
    fn start(mode: AuthMode) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        let stop = Arc::new(AtomicBool::new(false));
        let seen: Arc<Mutex<Vec<String>>> = Arc::default();
        listener.set_nonblocking(true).unwrap();
        let (stop2, seen2, addr2) = (stop.clone(), seen.clone(), addr.clone());
        thread::spawn(move || {
            while !stop2.load(Ordering::Relaxed) {
                match listener.accept() {
                    Ok((stream, _)) => {
                        let (seen, addr) = (seen2.clone(), addr2.clone());
                        thread::spawn(move || refuse(stream, &addr, mode, &seen));
                    }
                    Err(_) => thread::sleep(Duration::from_millis(10)),
                }
            }
        });
        Self { addr, stop, seen }
    }

    fn seen(&self) -> String {
        self.seen.lock().unwrap().join("\n")
    }
}

impl Drop for RefusingRegistry {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

fn refuse(mut client: TcpStream, addr: &str, mode: AuthMode, seen: &Mutex<Vec<String>>) {
    let _ = client.set_read_timeout(Some(Duration::from_secs(30)));
    let _ = client.set_nonblocking(false);
    while let Some((head, body)) = read_message(&mut client) {
        let request_line = head.lines().next().unwrap_or_default().to_owned();
        let path = request_line
            .split_whitespace()
            .nth(1)
            .unwrap_or_default()
            .to_owned();
        let auth = head
            .lines()
            .find_map(|l| {
                let (k, v) = l.split_once(':')?;
                k.eq_ignore_ascii_case("authorization")
                    .then(|| v.trim().to_owned())
            })
            .unwrap_or_default();
        seen.lock().unwrap().push(format!(
            "{request_line} | {auth} | {}",
            String::from_utf8_lossy(&body)
        ));
        let unauthorized =
            br#"{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}"#;
        let (status, challenge, body): (&str, String, Vec<u8>) = match mode {
            AuthMode::Bearer if path.starts_with("/token") => (
                "200 OK",
                String::new(),
                format!(r#"{{"token":"{REFUSED_TOKEN}","expires_in":300}}"#).into_bytes(),
            ),
            AuthMode::Bearer => (
                "401 Unauthorized",
                format!(
                    "WWW-Authenticate: Bearer realm=\"http://{addr}/token\",service=\"hygiene\"\r\n"
                ),
                unauthorized.to_vec(),
            ),
            AuthMode::Basic => (
                "401 Unauthorized",
                "WWW-Authenticate: Basic realm=\"hygiene\"\r\n".to_owned(),
                unauthorized.to_vec(),
            ),
        };
        let head = format!(
            "HTTP/1.1 {status}\r\n{challenge}Docker-Distribution-API-Version: registry/2.0\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
            body.len()
        );
        if client.write_all(head.as_bytes()).is_err() || client.write_all(&body).is_err() {
            return;
        }
    }
}

#[test]
fn registry_credentials_never_reach_the_output_even_with_trace_logging() {
    use base64::Engine as _;
    let w = World::new();
    let k = w.key("k", "unused-here");
    let user = "hygiene-bot";
    let password = "registry-password-hygiene-93be";
    let config_password = "config-password-hygiene-27aa";
    let identity_token = "identity-token-hygiene-f401";
    let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
    let secrets = vec![
        password.to_owned(),
        config_password.to_owned(),
        identity_token.to_owned(),
        REFUSED_TOKEN.to_owned(),
        b64(&format!("{user}:{password}")),
        b64(&format!("{user}:{config_password}")),
    ];
    let mut outputs = Vec::new();
    // (challenge, where the credentials come from, what the registry must have been sent)
    for (mode, source) in [
        (AuthMode::Basic, "env"),
        (AuthMode::Basic, "config auth"),
        (AuthMode::Bearer, "env"),
        (AuthMode::Bearer, "config identitytoken"),
    ] {
        let registry = RefusingRegistry::start(mode);
        let image = format!("{}/hygiene/app:v1", registry.addr);
        let pub_key = k.public.to_str().unwrap();
        let mut h = w
            .hm(["-vv", "verify", "--key", pub_key, &image])
            .env("RUST_LOG", "trace")
            .env("RUST_BACKTRACE", "1");
        let config_dir = w.path(&format!(
            "docker-config-{}",
            crate::util::unique("c").replace('/', "-")
        ));
        let expected_sent = match source {
            "env" => {
                h = h
                    .env("HALLMARK_REGISTRY_USERNAME", user)
                    .env("HALLMARK_REGISTRY_PASSWORD", password);
                format!("Basic {}", b64(&format!("{user}:{password}")))
            }
            "config auth" => {
                std::fs::create_dir_all(&config_dir).unwrap();
                let auth = b64(&format!("{user}:{config_password}"));
                std::fs::write(
                    config_dir.join("config.json"),
                    format!(r#"{{"auths":{{"{}":{{"auth":"{auth}"}}}}}}"#, registry.addr),
                )
                .unwrap();
                h = h.env("DOCKER_CONFIG", config_dir.to_str().unwrap());
                format!("Basic {auth}")
            }
            _ => {
                std::fs::create_dir_all(&config_dir).unwrap();
                std::fs::write(
                    config_dir.join("config.json"),
                    format!(
                        r#"{{"auths":{{"{}":{{"auth":"{}","identitytoken":"{identity_token}"}}}}}}"#,
                        registry.addr,
                        b64("<token>:")
                    ),
                )
                .unwrap();
                h = h.env("DOCKER_CONFIG", config_dir.to_str().unwrap());
                format!("refresh_token={identity_token}")
            }
        };
        let out = h.run();
        assert_eq!(out.code, Some(1), "{out}");
        let seen = registry.seen();
        // The secret was really in play: the registry (or its token endpoint) received it.
        assert!(
            seen.contains(&expected_sent),
            "{source}: expected the registry to receive {expected_sent:?}, it saw:\n{seen}"
        );
        if mode == AuthMode::Bearer {
            assert!(
                seen.contains(&format!("Bearer {REFUSED_TOKEN}")),
                "expected the token to be tried, the registry saw:\n{seen}"
            );
        }
        let text = format!("{}\n{}", out.stdout, out.stderr);
        for line in [
            "registry request",
            "status=401",
            "registry answered 401; authorising",
            "negotiating registry authorisation",
            "registry refused the credentials",
        ] {
            assert!(
                text.contains(line),
                "{source}: expected the debug output to contain {line:?}, found:\n{out}"
            );
        }
        if mode == AuthMode::Bearer {
            assert!(text.contains("registry token endpoint"), "{out}");
            assert!(text.contains("auth=\"Bearer\""), "{out}");
        } else {
            assert!(text.contains("auth=\"Basic\""), "{out}");
        }
        outputs.push(text);
    }
    assert_no_secret(&outputs, &secrets);
}

#[test]
fn debug_logging_is_off_by_default_and_levelled_by_v() {
    let w = World::new();
    let image = &w.seed("verbosity", 1)[0];
    let pass = "verbosity-pass";
    w.key("k", pass);
    let sign = |extra: &[&str]| {
        let by_tag = image.by_tag();
        let mut args = extra.to_vec();
        args.extend(["sign", "--key", "k.key", &by_tag]);
        let out = w.hm(&args).pw(pass).run();
        out.success();
        out.stderr.clone()
    };
    let quiet = sign(&[]);
    assert!(
        !quiet.contains("hallmark_keys") && !quiet.contains("DEBUG"),
        "no -v, no RUST_LOG: expected no log lines, found:\n{quiet}"
    );
    let debug = sign(&["-v"]);
    assert!(debug.contains("DEBUG hallmark_keys"), "-v:\n{debug}");
    assert!(debug.contains("signing key opened"), "-v:\n{debug}");
    assert!(
        !debug.contains("TRACE"),
        "-v must not show trace events:\n{debug}"
    );
    let trace = sign(&["-vv"]);
    assert!(
        trace.contains("TRACE hallmark_keys") && trace.contains("signing"),
        "-vv:\n{trace}"
    );
    // -vv is hallmark's crates only: no dependency (reqwest, hyper, rustls) events.
    for line in trace
        .lines()
        .filter(|l| l.contains("TRACE") || l.contains("DEBUG"))
    {
        assert!(
            line.contains(" hallmark"),
            "-vv: a line of another crate:\n{line}"
        );
    }
}

#[test]
fn awskms_p384_and_rsa_keys_sign_and_verify() {
    let Some(moto) = moto() else { return };
    let w = World::new();
    std::fs::write(w.path("artifact.tar"), b"release artifact").unwrap();
    for (spec, algorithm) in [("ECC_NIST_P384", "ecdsa-p384"), ("RSA_2048", "rsa")] {
        let id = moto.create_kms_key(spec, "SIGN_VERIFY");
        let reference = format!("awskms:///{id}");
        let pem = w.export(
            w.hm_aws(moto, None, &["key", "public-key", "--key", &reference]),
            spec,
        );
        let out = w
            .hm_aws(
                moto,
                None,
                &[
                    "sign-blob",
                    "-o",
                    "json",
                    "--key",
                    &reference,
                    "artifact.tar",
                ],
            )
            .run();
        out.success();
        let sig = out.json()["signature"].as_str().unwrap().to_owned();
        let verified = w
            .hm([
                "verify-blob",
                "-o",
                "json",
                "--key",
                &pem,
                "--signature",
                &sig,
                "artifact.tar",
            ])
            .run();
        verified.success();
        let public = hallmark_core::PublicKey::from_pem(
            &std::fs::read_to_string(w.path(&pem)).unwrap(),
            spec,
        )
        .unwrap();
        assert_eq!(public.algorithm().name(), algorithm, "{spec}");
        // The signature is over this artifact only.
        std::fs::write(w.path("other.tar"), b"another artifact").unwrap();
        w.hm([
            "verify-blob",
            "--key",
            &pem,
            "--signature",
            &sig,
            "other.tar",
        ])
        .run()
        .failure(&["other.tar"]);
    }
    // A signing key of a spec cosign does not verify (secp256k1) is refused by name.
    let k1 = moto.create_kms_key("ECC_SECG_P256K1", "SIGN_VERIFY");
    w.hm_aws(moto, None, &["sign-blob", "--key", &format!("awskms:///{k1}"), "artifact.tar"])
        .run()
        .failure(&["expected KeySpec ECC_NIST_P256, ECC_NIST_P384 or RSA_2048/3072/4096, found ECC_SECG_P256K1"]);
}

#[test]
fn pkcs11_p384_key_signs_with_sha384() {
    if !softhsm_available() {
        return;
    }
    let w = World::new();
    let hsm = SoftHsm::new("p384");
    hsm.keygen("secp384r1", "big", "02");
    let uri = format!(
        "pkcs11:token=p384;id=%02?module-path={}&pin-value={}",
        hsm.module().display(),
        softhsm::PIN
    );
    let pem = w.export(
        w.hm_hsm(&hsm, &["key", "public-key", "--key", &uri]),
        "p384",
    );
    let public =
        hallmark_core::PublicKey::from_pem(&std::fs::read_to_string(w.path(&pem)).unwrap(), "p384")
            .unwrap();
    assert_eq!(public.algorithm().name(), "ecdsa-p384");
    let image = &w.seed("p11-p384", 1)[0];
    w.hm_hsm(&hsm, &["sign", "--key", &uri, &image.by_tag()])
        .run()
        .success();
    w.verify_pem(&pem, image);
}
