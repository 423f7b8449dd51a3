//! Docker Content Trust signers whose key stays in an HSM or KMS (issue 5 on issue 4's
//! client): `hallmark trust signer add NAME REPO --key REF` and `trust sign|revoke --key REF`
//! with a SoftHSM2 P-256 key (PKCS#11) and a moto 5.2.5 KMS key, against the real
//! notary-server + notary-signer 0.7.0; the real notary CLI reads what they signed. Keys
//! notary cannot verify (P-384) and a wrong PIN fail before anything is uploaded.

use crate::util::{World, unique};
use hallmark_testutil::{
    moto::{self, MotoServer},
    notary::NotaryCli,
    softhsm::{self, SoftHsm},
    vault::VaultFixture,
};
use serde_json::Value;

const ROOT_PW: &str = "root-pass-keyref";
const REPO_PW: &str = "repo-pass-keyref";

use crate::trust_client::{Notary, hallmark_serve, notary};

fn ci() -> bool {
    std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "false" && v != "0")
}

fn softhsm_available() -> bool {
    if softhsm::module().is_some() {
        return true;
    }
    assert!(
        !ci(),
        "CI is set but SoftHSM2 is missing (Debian softhsm2, opensc)"
    );
    eprintln!("SoftHSM2 not installed: DCT PKCS#11 tests skipped");
    false
}

fn moto() -> Option<&'static MotoServer> {
    if !moto::available() {
        assert!(
            !ci(),
            "CI is set but moto_server is missing: set {} or put it on PATH",
            moto::SERVER_ENV
        );
        eprintln!("moto_server not found: DCT KMS tests skipped");
        return None;
    }
    Some(moto::shared())
}

/// The environment of one key backend: SoftHSM2's configuration or moto's AWS settings.
type Env = Vec<(&'static str, String)>;

fn hsm_env(hsm: &SoftHsm) -> Env {
    vec![("SOFTHSM2_CONF", hsm.conf().display().to_string())]
}

/// `hallmark trust ARGS --server URL --tls-ca CA` with both passphrases and `env`.
fn trust(w: &World, n: &Notary, env: &Env, args: &[&str]) -> crate::util::Output {
    let ca = n.ca.display().to_string();
    let mut all: Vec<&str> = vec!["trust"];
    all.extend(args);
    all.extend(["--server", &n.url, "--tls-ca", &ca]);
    let mut cmd = w
        .hm(&all)
        .env("DOCKER_CONTENT_TRUST_ROOT_PASSPHRASE", ROOT_PW)
        .env("DOCKER_CONTENT_TRUST_REPOSITORY_PASSPHRASE", REPO_PW);
    for (k, v) in env {
        cmd = cmd.env(k, v);
    }
    cmd.run()
}

/// The trust directory of a World's `hallmark` runs ($DOCKER_CONFIG/trust).
fn private_keys(w: &World) -> Vec<String> {
    let dir = w.dir().join(".no-docker-config/trust/private");
    let Ok(entries) = std::fs::read_dir(&dir) else {
        return Vec::new();
    };
    entries
        .map(|e| std::fs::read_to_string(e.unwrap().path()).unwrap())
        .collect()
}

/// Notary's key ID of an `ecdsa` or `rsa` key, computed here from `hallmark key public-key`'s
/// PEM: SHA-256 of the canonical `{"keytype":T,"keyval":{"private":null,"public":B64}}`.
fn notary_key_id(w: &World, env: &Env, reference: &str, keytype: &str) -> String {
    let mut cmd = w.hm(["key", "public-key", "--key", reference]);
    for (k, v) in env {
        cmd = cmd.env(k, v);
    }
    let out = cmd.run();
    out.success();
    let b64: String = out
        .stdout
        .lines()
        .filter(|l| !l.starts_with("-----"))
        .collect();
    let canonical =
        format!(r#"{{"keytype":"{keytype}","keyval":{{"private":null,"public":"{b64}"}}}}"#);
    crate::util::sha256(canonical.as_bytes())
        .trim_start_matches("sha256:")
        .to_string()
}

/// The key type and signature method notary lists for a signer key.
#[derive(Clone, Copy)]
enum Kind {
    Ecdsa,
    Rsa,
}

impl Kind {
    fn keytype(self) -> &'static str {
        match self {
            Kind::Ecdsa => "ecdsa",
            Kind::Rsa => "rsa",
        }
    }
    fn method(self) -> &'static str {
        match self {
            Kind::Ecdsa => "ecdsa",
            Kind::Rsa => "rsapkcs1v15",
        }
    }
}

/// `signer add NAME --key ADD_REF`, `sign --key SIGN_REF`, then hallmark and the notary CLI
/// see the tag signed by that signer's key; `revoke --key SIGN_REF` removes it.
fn signer_flow(n: &Notary, env: &Env, name: &str, add_ref: &str, sign_ref: &str, kind: Kind) {
    let w = World::new();
    let img = w.seed(&format!("dct-{name}"), 1).remove(0);
    let (repo, digest) = (img.repo.clone(), img.digest.clone());
    let hex = digest.trim_start_matches("sha256:").to_string();
    let key_id = notary_key_id(&w, env, add_ref, kind.keytype());

    let out = trust(
        &w,
        n,
        env,
        &["signer", "add", name, &repo, "--key", add_ref],
    );
    out.success();
    assert!(
        out.stdout
            .contains(&format!("Successfully added signer: {name} to {repo}")),
        "{out}"
    );
    // Root and repository keys in the trust directory; nothing of the signer's key.
    let keys = private_keys(&w);
    assert_eq!(keys.len(), 2, "expected root + targets keys only");
    assert!(
        keys.iter().all(|k| !k.contains(&format!("role: {name}\n"))),
        "a key file was written for the signer"
    );

    // Signing needs only the referenced key (the server signs the snapshot): it runs from a
    // second host whose trust directory is empty, and without passphrases.
    let host = World::new();
    let mut sign = host.hm([
        "trust",
        "sign",
        &format!("{repo}:v1"),
        "--key",
        sign_ref,
        "--server",
        &n.url,
        "--tls-ca",
        n.ca.to_str().unwrap(),
    ]);
    for (k, v) in env {
        sign = sign.env(k, v);
    }
    let out = sign.run();
    out.success();
    assert!(private_keys(&host).is_empty(), "sign wrote a key file");
    assert!(
        out.stdout
            .contains(&format!("targets/{name}, targets/releases")),
        "expected both delegations signed:\n{out}"
    );
    assert!(
        !out.stdout.contains(softhsm::PIN) && !out.stderr.contains(softhsm::PIN),
        "PIN shown:\n{out}"
    );

    // hallmark: resolve and inspect.
    let out = trust(&w, n, env, &["resolve", &format!("{repo}:v1")]);
    out.success();
    assert_eq!(out.stdout, format!("{digest}\n"));
    let out = trust(&w, n, env, &["inspect", &repo]);
    out.success();
    let v: Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(v[0]["SignedTags"][0]["SignedTag"], "v1", "{out}");
    assert_eq!(v[0]["SignedTags"][0]["Digest"], hex.as_str());
    assert_eq!(v[0]["SignedTags"][0]["Signers"], serde_json::json!([name]));
    assert_eq!(v[0]["Signers"][0]["Name"], name);
    assert_eq!(v[0]["Signers"][0]["Keys"][0]["ID"], key_id.as_str());

    // The real notary CLI, with an empty trust directory, verifies and lists the tag in the
    // signer's role and in targets/releases, and lists the delegation key.
    let cli = NotaryCli::new(&w.path("notary-trust"), &n.url, &n.ca);
    for role in [format!("targets/{name}"), "targets/releases".to_string()] {
        let list = cli.run(["list", &repo, "--roles", &role]);
        list.assert_success();
        assert!(
            list.stdout.contains("v1") && list.stdout.contains(&hex),
            "notary list --roles {role}: expected v1 {hex}:\n{list}"
        );
    }
    let lookup = cli.run(["lookup", &repo, "v1"]);
    lookup.assert_success();
    assert!(lookup.stdout.contains(&hex), "{lookup}");
    let delegations = cli.run(["delegation", "list", &repo]);
    delegations.assert_success();
    assert!(
        delegations.stdout.contains(&key_id),
        "notary delegation list: expected key {key_id}:\n{delegations}"
    );
    // And trust data the repository key alone could not have signed: the signer's role
    // carries exactly one signature, by the referenced key.
    let cached = w
        .dir()
        .join(".no-docker-config/trust/tuf")
        .join(&repo)
        .join(format!("metadata/targets/{name}.json"));
    let role: Value = serde_json::from_slice(&std::fs::read(&cached).unwrap()).unwrap();
    assert_eq!(role["signatures"].as_array().unwrap().len(), 1);
    assert_eq!(role["signatures"][0]["keyid"], key_id.as_str());
    assert_eq!(role["signatures"][0]["method"], kind.method());

    // Revoke through the same key: docker's message for the tag afterwards.
    trust(
        &w,
        n,
        env,
        &["revoke", &format!("{repo}:v1"), "--key", sign_ref],
    )
    .success();
    let out = trust(&w, n, env, &["resolve", &format!("{repo}:v1")]);
    assert_eq!(out.code, Some(1), "{out}");
    assert_eq!(out.stderr, "No valid trust data for v1\n");
    let list = cli.run(["list", &repo, "--roles", &format!("targets/{name}")]);
    assert!(!list.stdout.contains(&hex), "still listed:\n{list}");
}

#[test]
fn dct_signer_key_in_softhsm_signs_and_notary_reads_it() {
    let Some(n) = notary() else { return };
    if !softhsm_available() {
        return;
    }
    let hsm = SoftHsm::new("dct");
    hsm.keygen_p256("signer", "01");
    // The public key is read from the token without a PIN; signing uses the PIN.
    signer_flow(
        n,
        &hsm_env(&hsm),
        "hsm",
        &hsm.uri("signer", false),
        &hsm.uri("signer", true),
        Kind::Ecdsa,
    );
}

#[test]
fn dct_signer_key_in_aws_kms_signs_and_notary_reads_it() {
    let Some(n) = notary() else { return };
    let Some(moto) = moto() else { return };
    let id = moto.create_kms_key("ECC_NIST_P256", "SIGN_VERIFY");
    let alias = format!("alias/{}", unique("dct-kms").replace('/', "-"));
    moto.create_alias(&alias, &id);
    let reference = format!("awskms:///{alias}");
    signer_flow(
        n,
        &moto.aws_env(),
        "kms",
        &reference,
        &reference,
        Kind::Ecdsa,
    );
}

#[test]
fn dct_signer_rsa_key_in_aws_kms_signs_with_rsapkcs1v15_and_notary_reads_it() {
    let Some(n) = notary() else { return };
    let Some(moto) = moto() else { return };
    let id = moto.create_kms_key("RSA_2048", "SIGN_VERIFY");
    let reference = format!("awskms:///{id}");
    signer_flow(
        n,
        &moto.aws_env(),
        "kmsrsa",
        &reference,
        &reference,
        Kind::Rsa,
    );
}

/// Vault transit through a FIXTURE server (no real Vault can run here) that answers Vault's
/// documented transit API and really signs; notary-server and the notary CLI are real.
#[test]
fn dct_signer_key_in_vault_transit_fixture_signs_and_notary_reads_it() {
    let Some(n) = notary() else { return };
    let vault = VaultFixture::start("hvs.dct-fixture-token");
    vault.add_p256_key("dct");
    let env: Env = vec![
        ("VAULT_ADDR", vault.url()),
        ("VAULT_TOKEN", vault.token().to_string()),
    ];
    signer_flow(
        n,
        &env,
        "vault",
        "hashivault://dct",
        "hashivault://dct",
        Kind::Ecdsa,
    );
    assert!(vault.sign_requests() >= 2, "the fixture signed nothing");
}

#[test]
fn dct_signer_keys_in_softhsm_and_kms_on_hallmark_trust_serve() {
    let Some(n) = hallmark_serve() else { return };
    if softhsm_available() {
        let hsm = SoftHsm::new("dctserve");
        hsm.keygen_p256("signer", "01");
        signer_flow(
            n,
            &hsm_env(&hsm),
            "hsm",
            &hsm.uri("signer", false),
            &hsm.uri("signer", true),
            Kind::Ecdsa,
        );
    }
    if let Some(moto) = moto() {
        let id = moto.create_kms_key("RSA_2048", "SIGN_VERIFY");
        let reference = format!("awskms:///{id}");
        signer_flow(
            n,
            &moto.aws_env(),
            "kmsrsa",
            &reference,
            &reference,
            Kind::Rsa,
        );
    }
}

#[test]
fn dct_p384_keys_are_refused_before_anything_is_uploaded() {
    let Some(n) = notary() else { return };
    let w = World::new();
    let repo = w.seed("dct-p384", 1).remove(0).repo;
    let mut tried = 0;
    if softhsm_available() {
        tried += 1;
        let hsm = SoftHsm::new("dct384");
        hsm.keygen("secp384r1", "big", "02");
        let env = hsm_env(&hsm);
        trust(
            &w,
            n,
            &env,
            &[
                "signer",
                "add",
                "big",
                &repo,
                "--key",
                &hsm.uri("big", false),
            ],
        )
        .failure(&[
            "pkcs11:token=dct384;object=big",
            "ecdsa-p384",
            "expected an ECDSA P-256 or RSA key",
        ]);
    }
    if let Some(moto) = moto() {
        tried += 1;
        let id = moto.create_kms_key("ECC_NIST_P384", "SIGN_VERIFY");
        let reference = format!("awskms:///{id}");
        let env = moto.aws_env();
        trust(
            &w,
            n,
            &env,
            &["signer", "add", "big", &repo, "--key", &reference],
        )
        .failure(&[
            &reference,
            "ecdsa-p384",
            "expected an ECDSA P-256 or RSA key",
        ]);
        // sign --key with it: refused before the trust data is even read.
        trust(
            &w,
            n,
            &env,
            &["sign", &format!("{repo}:v1"), "--key", &reference],
        )
        .failure(&[
            &reference,
            "ecdsa-p384",
            "expected an ECDSA P-256 or RSA key",
        ]);
    }
    if tried == 0 {
        return;
    }
    // Nothing initialised on the server, no key written locally.
    trust(&w, n, &Vec::new(), &["inspect", &repo]).failure(&["no signatures or cannot access"]);
    assert!(private_keys(&w).is_empty(), "keys were written");
}

#[test]
fn dct_wrong_pin_and_foreign_key_fail_without_uploading() {
    let Some(n) = notary() else { return };
    if !softhsm_available() {
        return;
    }
    let w = World::new();
    let img = w.seed("dct-pin", 1).remove(0);
    let repo = img.repo.clone();
    let hsm = SoftHsm::new("dctpin");
    hsm.keygen_p256("signer", "01");
    hsm.keygen_p256("other", "02");
    let env = hsm_env(&hsm);
    trust(
        &w,
        n,
        &env,
        &[
            "signer",
            "add",
            "hsm",
            &repo,
            "--key",
            &hsm.uri("signer", false),
        ],
    )
    .success();
    let before = trust(&w, n, &env, &["inspect", &repo]);
    before.success();

    // A wrong PIN: the token refuses, the error names the reference but not the PIN.
    let wrong = "9876-not-the-pin";
    let uri = format!(
        "pkcs11:token=dctpin;object=signer?module-path={}&pin-value={wrong}",
        hsm.module().display()
    );
    let out = trust(&w, n, &env, &["sign", &format!("{repo}:v1"), "--key", &uri]);
    out.failure(&["pkcs11:token=dctpin;object=signer", "wrong PIN"]);
    assert!(
        !out.stderr.contains(wrong) && !out.stdout.contains(wrong),
        "PIN shown:\n{out}"
    );

    // A key of the token that is no signer of the repository: refused, naming it.
    trust(
        &w,
        n,
        &env,
        &[
            "sign",
            &format!("{repo}:v1"),
            "--key",
            &hsm.uri("other", true),
        ],
    )
    .failure(&["pkcs11:token=dctpin;object=other", "is not a signer of"]);

    // Nothing was uploaded: the tag has no trust data and the repository is as it was.
    let out = trust(&w, n, &env, &["resolve", &format!("{repo}:v1")]);
    assert_eq!(out.code, Some(1), "{out}");
    assert_eq!(out.stderr, "No valid trust data for v1\n");
    let after = trust(&w, n, &env, &["inspect", &repo]);
    after.success();
    assert_eq!(before.stdout, after.stdout);
}
