//! Error messages say each thing once (issue 9): the CLI over a table of bad inputs, each of
//! which must exit 1 with exactly one `error:` line (and at most one `hint:` line), no cause
//! repeated, no SDK debug dump, and the phrase that makes it useful.
//!
//! The rule the libraries follow (`hallmark_core::error`): a variant with a cause says only its
//! context and leaves the cause to `source()`; the CLI prints the chain once (`{:#}`). A variant
//! that interpolates its source again makes the cause appear twice, which these checks catch.

use crate::util::{Hallmark, World, registry};
use hallmark_testutil::{
    moto,
    softhsm::{self, SoftHsm},
};
use std::net::TcpListener;

/// One bad input: what to run, and what its error must say.
struct Case {
    name: &'static str,
    cmd: Hallmark,
    /// A phrase the `error:` line must contain (so the message cannot become vague).
    phrase: String,
    /// A phrase the `hint:` line must contain; `None`: no hint line.
    hint: Option<&'static str>,
}

impl Case {
    fn new(name: &'static str, cmd: Hallmark, phrase: impl Into<String>) -> Self {
        Self {
            name,
            cmd,
            phrase: phrase.into(),
            hint: None,
        }
    }

    fn hint(mut self, phrase: &'static str) -> Self {
        self.hint = Some(phrase);
        self
    }
}

/// What the SDKs' `Debug` output (and `DisplayErrorContext`) looks like.
const DUMP_MARKERS: [&str; 6] = [
    "SdkBody",
    "request_id",
    "ErrorMetadata",
    "Some(",
    "ServiceError",
    "headers:",
];

/// A `Name { field:` struct-debug pattern anywhere in `text`.
fn struct_debug(text: &str) -> Option<&str> {
    text.match_indices(" { ").find_map(|(i, _)| {
        let before = text[..i].chars().next_back()?;
        let after: String = text[i + 3..]
            .chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_')
            .collect();
        let rest = &text[i + 3 + after.len()..];
        (before.is_alphanumeric() && !after.is_empty() && rest.starts_with(':'))
            .then(|| &text[i.saturating_sub(20)..(i + 30).min(text.len())])
    })
}

/// A substring of at least `len` characters that occurs twice in `text`.
fn repeated_substring(text: &str, len: usize) -> Option<String> {
    let chars: Vec<char> = text.chars().collect();
    if chars.len() < len {
        return None;
    }
    for i in 0..=chars.len() - len {
        let window: String = chars[i..i + len].iter().collect();
        let rest: String = chars[i + 1..].iter().collect();
        if rest.contains(&window) {
            return Some(window);
        }
    }
    None
}

/// Everything wrong with the standard error of a failed run (empty: it is fine).
fn problems(stderr: &str, phrase: &str, hint: Option<&str>) -> Vec<String> {
    let mut found = Vec::new();
    let lines: Vec<&str> = stderr.lines().filter(|l| !l.trim().is_empty()).collect();
    let errors: Vec<&str> = lines
        .iter()
        .filter_map(|l| l.strip_prefix("error: "))
        .collect();
    let hints: Vec<&str> = lines
        .iter()
        .filter_map(|l| l.strip_prefix("hint: "))
        .collect();
    if errors.len() != 1 {
        found.push(format!(
            "expected exactly one `error:` line, found {}",
            errors.len()
        ));
    }
    if hints.len() > 1 {
        found.push(format!(
            "expected at most one `hint:` line, found {}",
            hints.len()
        ));
    }
    if let Some(other) = lines
        .iter()
        .find(|l| !l.starts_with("error: ") && !l.starts_with("hint: "))
    {
        found.push(format!(
            "expected only `error:` and `hint:` lines, found {other:?}"
        ));
    }
    let Some(message) = errors.first().copied() else {
        return found;
    };
    let segments: Vec<&str> = message.split(": ").map(str::trim).collect();
    for (i, s) in segments.iter().enumerate() {
        if s.chars().count() >= 12 && segments[i + 1..].contains(s) {
            found.push(format!("the segment {s:?} appears twice"));
        }
    }
    if let Some(r) = repeated_substring(message, 24) {
        found.push(format!("the text {r:?} occurs twice"));
    }
    for text in errors.iter().chain(&hints) {
        for marker in DUMP_MARKERS {
            if text.contains(marker) {
                found.push(format!("an SDK debug dump ({marker:?})"));
            }
        }
        if let Some(s) = struct_debug(text) {
            found.push(format!("a struct debug rendering ({s:?})"));
        }
    }
    if !message.contains(phrase) {
        found.push(format!("expected the error to contain {phrase:?}"));
    }
    match (hint, hints.first()) {
        (Some(want), Some(got)) if !got.contains(want) => {
            found.push(format!("expected the hint to contain {want:?}"));
        }
        (Some(want), None) => found.push(format!("expected a hint containing {want:?}")),
        (None, Some(_)) => found.push("expected no hint".to_owned()),
        _ => {}
    }
    if let Some(h) = hints.first() {
        let chars: Vec<char> = h.chars().collect();
        if let Some(r) = chars
            .windows(24)
            .map(|w| w.iter().collect::<String>())
            .find(|w| message.contains(w.as_str()))
        {
            found.push(format!("the hint repeats the error ({r:?})"));
        }
    }
    found
}

/// Run every case; fail once, listing every case that broke a rule.
fn check(cases: Vec<Case>) {
    let mut failures = Vec::new();
    for case in cases {
        let out = case.cmd.run();
        let mut found = problems(&out.stderr, &case.phrase, case.hint);
        if out.code != Some(1) {
            found.insert(0, format!("expected exit code 1, found {:?}", out.code));
        }
        if !found.is_empty() {
            failures.push(format!("[{}] {}\n{out}", case.name, found.join("; ")));
        }
    }
    assert!(
        failures.is_empty(),
        "{} case(s) broke the error message rules:\n\n{}",
        failures.len(),
        failures.join("\n\n")
    );
}

/// `127.0.0.1:PORT` where nothing listens.
fn closed_port() -> String {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap().to_string();
    drop(l);
    addr
}

#[test]
fn checks_catch_a_repeated_cause_and_an_sdk_dump() {
    let cause = "quickstart.pub: unexpected PEM label \"PUBLIC KEY\"; expected a private key";
    let twice = format!("error: key reference quickstart.pub: {cause}: {cause}\n");
    assert!(!problems(&twice, "PEM label", None).is_empty());
    let url = "error sending request for url (http://127.0.0.1:1/v2/x/manifests/v1)";
    let reqwest = format!("error: registry 127.0.0.1:1 unreachable: {url}: {url}: refused\n");
    assert!(!problems(&reqwest, "unreachable", None).is_empty());
    let dump = "error: GetSecretValue: ServiceError(ServiceError { source: ResourceNotFoundException(..), raw: Response { status: 400, headers: Headers { .. }, body: SdkBody { .. } } })\n";
    assert!(!problems(dump, "GetSecretValue", None).is_empty());
    let meta = "error: GetSecretValue: unhandled error (Error { code: \"X\", message: \"y\" })\n";
    assert!(!problems(meta, "GetSecretValue", None).is_empty());
    let once = "error: key reference k.pub: private key: unexpected PEM label \"PUBLIC KEY\"\nhint: give the private key\n";
    assert_eq!(
        problems(once, "PEM label", Some("private key")),
        Vec::<String>::new()
    );
    assert!(!problems("error: a\nerror: b\n", "a", None).is_empty());
    assert!(
        !problems(once, "PEM label", None).is_empty(),
        "unexpected hint"
    );
}

/// Keys, passphrases, image references and registries: no external service but the shared
/// registry.
#[test]
fn keys_references_and_registries() {
    let w = World::new();
    let key = w.key("signer", "right-pass");
    let image = &w.seed("error-chains", 1)[0];
    let public = key.public.display().to_string();
    let private = key.private.display().to_string();
    std::fs::write(
        w.path("corrupt.key"),
        "-----BEGIN ENCRYPTED SIGSTORE PRIVATE KEY-----\nnot base64!!\n-----END ENCRYPTED SIGSTORE PRIVATE KEY-----\n",
    )
    .unwrap();
    std::fs::write(w.path("garbage.key"), "this is not a key\n").unwrap();
    let corrupt = w.path("corrupt.key").display().to_string();
    let garbage = w.path("garbage.key").display().to_string();
    let missing = w.path("missing.key").display().to_string();
    let closed = closed_port();
    let unreachable = format!("{closed}/error-chains/closed:v1");
    let port = registry().rsplit_once(':').unwrap().1;
    // 0.0.0.0 reaches the loopback registry but is not a loopback name: hallmark speaks TLS
    // to a plain HTTP registry.
    let http_only = format!("0.0.0.0:{port}/{}:{}", image.path, image.tag);
    let missing_tag = format!("{}:no-such-tag", image.repo);
    let other = w.key("other", "other-pass");

    check(vec![
        Case::new(
            "public key given to sign",
            w.hm(["sign", "--key", &public, &image.by_tag()])
                .pw(&key.pass),
            "unexpected PEM label \"PUBLIC KEY\"",
        )
        .hint("signing needs a private key"),
        Case::new(
            "private key given to verify",
            w.hm(["verify", "--key", &private, &image.by_tag()]),
            "expected one of PUBLIC KEY",
        )
        .hint("hallmark key public-key"),
        Case::new(
            "wrong passphrase",
            w.hm(["sign", "--key", &private, &image.by_tag()])
                .pw("wrong-pass"),
            "decryption failed",
        )
        .hint("HALLMARK_PASSWORD"),
        Case::new(
            "wrong passphrase from COSIGN_PASSWORD",
            w.hm(["sign", "--key", &private, &image.by_tag()])
                .env("COSIGN_PASSWORD", "wrong-pass"),
            "decryption failed",
        )
        .hint("came from COSIGN_PASSWORD"),
        Case::new(
            "no passphrase",
            w.hm(["sign", "--key", &private, &image.by_tag()]),
            "HALLMARK_PASSWORD or COSIGN_PASSWORD",
        ),
        Case::new(
            "missing key file",
            w.hm(["sign", "--key", &missing, &image.by_tag()]).pw("x"),
            "No such file or directory",
        ),
        Case::new(
            "corrupt key file",
            w.hm(["sign", "--key", &corrupt, &image.by_tag()]).pw("x"),
            "not valid base64",
        ),
        Case::new(
            "not a key file",
            w.hm(["sign", "--key", &garbage, &image.by_tag()]).pw("x"),
            "not a PEM file",
        ),
        Case::new(
            "unreachable registry (sign)",
            w.hm(["sign", "--key", &private, &unreachable])
                .pw(&key.pass),
            "Connection refused",
        ),
        Case::new(
            "unreachable registry (verify)",
            w.hm(["verify", "--key", &public, &unreachable]),
            "Connection refused",
        ),
        Case::new(
            "plain HTTP registry on a non-loopback name",
            w.hm(["verify", "--key", &public, &http_only]),
            "unreachable",
        )
        .hint("--allow-http-registry"),
        Case::new(
            "malformed image reference",
            w.hm(["verify", "--key", &public, "Example.com/UPPER::tag"]),
            "invalid image reference",
        ),
        Case::new(
            "malformed digest",
            w.hm([
                "verify",
                "--key",
                &public,
                &format!("{}@sha256:abc", image.repo),
            ]),
            "invalid digest",
        ),
        Case::new(
            "missing tag",
            w.hm(["sign", "--key", &private, &missing_tag])
                .pw(&key.pass),
            "not found",
        ),
        Case::new(
            "unsigned image",
            w.hm(["verify", "--key", &public, &image.by_tag()]),
            "no signatures found",
        ),
    ]);
    w.sign(&key, &[&image.by_tag()]);
    check(vec![Case::new(
        "signed by another key",
        w.hm([
            "verify",
            "--key",
            &other.public.display().to_string(),
            &image.by_tag(),
        ]),
        "does not verify with the given key",
    )]);
}

/// AWS Secrets Manager and KMS (moto 5.2.5): service errors are code and message, never the
/// SDK's debug structure.
#[test]
fn aws_errors_are_code_and_message() {
    if !moto::available() {
        let ci = std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "false" && v != "0");
        assert!(!ci, "CI is set but moto_server is missing");
        eprintln!("moto_server not found: AWS cases skipped");
        return;
    }
    let m = moto::shared();
    let w = World::new();
    let image = &w.seed("error-chains-aws", 1)[0];
    let aws = |args: &[&str], endpoint: Option<&str>| {
        let mut h = w.hm(args);
        for (k, v) in m.aws_env() {
            h = h.env(k, &v);
        }
        if let Some(e) = endpoint {
            h = h.env("AWS_ENDPOINT_URL", e);
        }
        h
    };
    let closed = format!("http://{}", closed_port());
    check(vec![
        Case::new(
            "missing awssm secret",
            aws(
                &["sign", "--key", "awssm://no-such-secret", &image.by_tag()],
                None,
            ),
            "ResourceNotFoundException",
        ),
        Case::new(
            "unknown awskms key",
            aws(
                &["sign", "--key", "awskms:///alias/nokey", &image.by_tag()],
                None,
            ),
            "NotFoundException",
        ),
        Case::new(
            "unknown awskms key (public-key)",
            aws(
                &["key", "public-key", "--key", "awskms:///alias/nokey"],
                None,
            ),
            "DescribeKey: NotFoundException",
        ),
        Case::new(
            "AWS endpoint unreachable",
            aws(
                &["sign", "--key", "awssm://no-such-secret", &image.by_tag()],
                Some(&closed),
            ),
            "cannot reach the service",
        ),
    ]);
}

/// A wrong PKCS#11 PIN (SoftHSM2): named once, the PIN never shown.
#[test]
fn pkcs11_wrong_pin() {
    if softhsm::module().is_none() {
        let ci = std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "false" && v != "0");
        assert!(!ci, "CI is set but SoftHSM2 is missing");
        eprintln!("SoftHSM2 not installed: PKCS#11 cases skipped");
        return;
    }
    let hsm = SoftHsm::new("errpin");
    hsm.keygen_p256("signer", "01");
    let w = World::new();
    let image = &w.seed("error-chains-p11", 1)[0];
    let uri = format!(
        "pkcs11:token=errpin;object=signer?module-path={}&pin-value=9876-not-the-pin",
        hsm.module().display()
    );
    let missing_module = "pkcs11:token=errpin;object=signer?module-path=/nonexistent/dir/of/libpkcs11-module.so&pin-value=1";
    let conf = hsm.conf().to_str().unwrap();
    check(vec![
        Case::new(
            "wrong PKCS#11 PIN",
            w.hm(["sign", "--key", &uri, &image.by_tag()])
                .env("SOFTHSM2_CONF", conf),
            "CKR_PIN_INCORRECT",
        ),
        Case::new(
            "missing PKCS#11 module",
            w.hm(["sign", "--key", missing_module, &image.by_tag()])
                .env("SOFTHSM2_CONF", conf),
            "cannot load the PKCS#11 module",
        ),
    ]);
}

/// A TLS failure against a trust server (`hallmark trust serve` with a test CA the command is
/// not given).
#[test]
fn trust_server_tls_failure() {
    let Some(server) = crate::trust_client::hallmark_serve() else {
        eprintln!("notary not installed: trust server case skipped");
        return;
    };
    let w = World::new();
    let gun = format!(
        "{}/{}",
        registry(),
        crate::util::unique("error-chains-trust")
    );
    check(vec![Case::new(
        "trust server with an unknown CA",
        w.hm([
            "trust",
            "resolve",
            "--server",
            &server.url,
            &format!("{gun}:v1"),
        ]),
        "invalid peer certificate",
    )]);
}
