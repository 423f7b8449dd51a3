//! The Vault transit client against hallmark-testutil's Vault FIXTURE (not a real Vault).

use hallmark_core::PublicKey;
use hallmark_keys::{KeyRef, KeysError, OpenOptions, Signer};
use hallmark_testutil::vault::VaultFixture;

const TOKEN: &str = "hvs.fixture-root-token-5f1c";

fn no_passphrase(_: &str) -> Result<hallmark_core::Passphrase, String> {
    Err("no passphrase".into())
}

async fn with_vault<T>(addr: &str, token: &str, f: impl AsyncFnOnce(&OpenOptions<'_>) -> T) -> T {
    let (addr, token) = (addr.to_owned(), token.to_owned());
    let vars = move |name: &str| match name {
        "VAULT_ADDR" => Some(addr.clone()),
        "VAULT_TOKEN" => Some(token.clone()),
        _ => None,
    };
    let options = OpenOptions {
        passphrase: &no_passphrase,
        vars: Some(&vars),
    };
    f(&options).await
}

#[tokio::test(flavor = "multi_thread")]
async fn transit_key_signs_and_signature_verifies_with_read_public_key() {
    let vault = VaultFixture::start(TOKEN);
    let pem = vault.add_p256_key("release");
    let expected = PublicKey::from_pem(&pem, "fixture").expect("pem");
    let r = KeyRef::parse("hashivault://release").expect("parse");
    with_vault(&vault.url(), TOKEN, async |o| {
        let signer = r.open(o).await.expect("open");
        assert_eq!(signer.public_key(), &expected);
        let sig = signer.sign(b"cosign payload").await.expect("sign");
        expected.verify(b"cosign payload", &sig).expect("verifies");
        assert!(expected.verify(b"other payload", &sig).is_err());
        let public = r.public_key(o).await.expect("public key");
        assert_eq!(public, expected);
    })
    .await;
    assert_eq!(vault.sign_requests(), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn throttling_is_retried_a_bounded_number_of_times() {
    let vault = VaultFixture::start(TOKEN);
    vault.add_p256_key("k");
    let r = KeyRef::parse("hashivault://k").expect("parse");
    with_vault(&vault.url(), TOKEN, async |o| {
        let signer = r.open(o).await.expect("open");
        vault.throttle_next(3);
        let sig = signer
            .sign(b"m")
            .await
            .expect("sign after 3 throttled answers");
        signer.public_key().verify(b"m", &sig).expect("verifies");
        vault.throttle_next(100);
        let e = signer.sign(b"m").await.expect_err("gives up");
        let text = e.to_string();
        assert!(
            text.contains("429") && text.contains("gave up after 5 attempts"),
            "{text}"
        );
    })
    .await;
    // 3 throttled + 1 good, then 5 throttled attempts and no more.
    let signs = vault
        .requests()
        .iter()
        .filter(|r| r.starts_with("POST sign/"))
        .count();
    assert_eq!(signs, 9);
}

#[tokio::test(flavor = "multi_thread")]
async fn wrong_token_unknown_key_and_non_signing_key() {
    let vault = VaultFixture::start(TOKEN);
    vault.add_p256_key("k");
    vault.add_encryption_key("enc");
    with_vault(&vault.url(), "hvs.not-the-token", async |o| {
        let e = KeyRef::parse("hashivault://k")
            .expect("parse")
            .open(o)
            .await
            .expect_err("403");
        let text = format!("{e} {e:?}");
        assert!(
            text.contains("403") && text.contains("permission denied"),
            "{text}"
        );
        assert!(!text.contains("hvs.not-the-token"), "token leaked: {text}");
    })
    .await;
    with_vault(&vault.url(), TOKEN, async |o| {
        let e = KeyRef::parse("hashivault://missing")
            .expect("parse")
            .open(o)
            .await
            .expect_err("404");
        assert!(
            e.to_string().contains("hashivault://missing") && e.to_string().contains("404"),
            "{e}"
        );
        let e = KeyRef::parse("hashivault://enc")
            .expect("parse")
            .open(o)
            .await
            .expect_err("type");
        assert!(e.to_string().contains("aes256-gcm96"), "{e}");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn vault_going_away_mid_run_fails_cleanly() {
    let mut vault = VaultFixture::start(TOKEN);
    vault.add_p256_key("k");
    let url = vault.url();
    let r = KeyRef::parse("hashivault://k").expect("parse");
    with_vault(&url, TOKEN, async |o| {
        let signer = r.open(o).await.expect("open");
        vault.stop();
        let e = signer.sign(b"m").await.expect_err("server gone");
        assert!(matches!(e, KeysError::Backend { .. }), "{e}");
        assert!(e.to_string().contains("request failed"), "{e}");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn generate_creates_a_transit_key_once() {
    let vault = VaultFixture::start(TOKEN);
    let r = KeyRef::parse("hashivault://new-key").expect("parse");
    with_vault(&vault.url(), TOKEN, async |o| {
        let public = r.generate(o).await.expect("create");
        let signer = r.open(o).await.expect("open");
        assert_eq!(signer.public_key(), &public);
        let e = r.generate(o).await.expect_err("exists");
        assert!(e.to_string().contains("already exists"), "{e}");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn missing_vault_addr_is_named() {
    let vars = |_: &str| None;
    let o = OpenOptions {
        passphrase: &no_passphrase,
        vars: Some(&vars),
    };
    let e = KeyRef::parse("hashivault://k")
        .expect("parse")
        .open(&o)
        .await
        .expect_err("no addr");
    assert!(matches!(e, KeysError::InvalidReference { .. }), "{e}");
    assert!(e.to_string().contains("VAULT_ADDR"), "{e}");
}
