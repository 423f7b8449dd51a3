//! RFC 8785 canonicalization, hashedrekord bodies, UUIDs and SETs (with real Rekor data).

use base64::{Engine as _, engine::general_purpose::STANDARD};
use hallmark_core::{Digest, KeyAlgorithm, PublicKey, SigningKey};
use hallmark_tlog::hash::leaf_hash;
use hallmark_tlog::jcs::{JcsError, canonicalize_json};
use hallmark_tlog::rekor::{HashedRekord, RekorError, SetPayload, entry_id, entry_uuid, log_id};
use serde_json::Value;

fn data(path: &str) -> Vec<u8> {
    std::fs::read(format!("{}/tests/data/{path}", env!("CARGO_MANIFEST_DIR"))).expect("test data")
}

fn rekor_key() -> PublicKey {
    let pem = String::from_utf8(data("rekor-set-annotation/rekor.pub")).expect("utf-8");
    PublicKey::from_pem(&pem, "rekor.pub").expect("key")
}

#[test]
fn jcs_rfc8785_sorting_example() {
    // RFC 8785 §3.2.3: members sorted by UTF-16 code units (the emoji's surrogates sort
    // before U+FB33), non-ASCII written as is.
    let input = r#"{
        "\u20ac": "Euro Sign",
        "\r": "Carriage Return",
        "\ufb33": "Hebrew Letter Dalet With Dagesh",
        "1": "One",
        "\ud83d\ude00": "Emoji: Grinning Face",
        "\u0080": "Control",
        "\u00f6": "Latin Small Letter O With Diaeresis"
    }"#;
    let expected = "{\"\\r\":\"Carriage Return\",\"1\":\"One\",\"\u{80}\":\"Control\",\
                    \"\u{f6}\":\"Latin Small Letter O With Diaeresis\",\"\u{20ac}\":\"Euro Sign\",\
                    \"\u{1f600}\":\"Emoji: Grinning Face\",\
                    \"\u{fb33}\":\"Hebrew Letter Dalet With Dagesh\"}";
    assert_eq!(
        String::from_utf8(canonicalize_json(input.as_bytes()).expect("jcs")).expect("utf-8"),
        expected
    );
}

#[test]
fn jcs_rfc8785_strings_literals_and_numbers() {
    // RFC 8785 §3.2.2 without the non-integer numbers (not supported here).
    let input = r#"{
        "string": "\u20ac$\u000F\u000aA'\u0042\u0022\u005c\\\"\/",
        "literals": [null, true, false]
    }"#;
    let expected =
        "{\"literals\":[null,true,false],\"string\":\"\u{20ac}$\\u000f\\nA'B\\\"\\\\\\\\\\\"/\"}";
    assert_eq!(
        String::from_utf8(canonicalize_json(input.as_bytes()).expect("jcs")).expect("utf-8"),
        expected
    );
    assert_eq!(
        canonicalize_json(b"[1, -0, 4.0, -7, 9007199254740992, {\"b\":[],\"a\":{}}]").expect("jcs"),
        b"[1,0,4,-7,9007199254740992,{\"a\":{},\"b\":[]}]"
    );
    for bad in [
        "1.5",
        "9007199254740993",
        "-9007199254740993",
        "1E30",
        "2e-3",
    ] {
        assert!(
            matches!(
                canonicalize_json(bad.as_bytes()),
                Err(JcsError::UnsupportedNumber { .. })
            ),
            "{bad}"
        );
    }
    assert!(matches!(
        canonicalize_json(b"{"),
        Err(JcsError::NotJson { .. })
    ));
    assert_eq!(
        canonicalize_json(b"\"\\u0001\\b\\f\\t\\r\\u001f\\u007f\\u2028\"").expect("jcs"),
        "\"\\u0001\\b\\f\\t\\r\\u001f\u{7f}\u{2028}\"".as_bytes()
    );
}

/// The real cosign/Rekor SET annotation (containers/image test data).
#[test]
fn jcs_strings_escape_as_json_does_for_every_character_class() {
    // RFC 8785 strings are ECMAScript's JSON.stringify strings, which serde_json writes too.
    let mut cases: Vec<String> = (0u32..0x100)
        .filter_map(char::from_u32)
        .map(|c| format!("a{c}b{c}"))
        .collect();
    cases.extend(
        [
            "",
            "plain",
            "\u{2028}\u{2029}\u{7f}",
            "caf\u{e9} \u{1f600} \"quoted\" \\ back",
            "\u{1}\u{1f}\n\r\t\u{8}\u{c}",
            "\u{10ffff}end\"",
        ]
        .map(str::to_owned),
    );
    for s in cases {
        let mut out = String::new();
        hallmark_tlog::jcs::write_string(&mut out, &s);
        assert_eq!(
            out,
            serde_json::to_string(&s).expect("a string serializes"),
            "{s:?}"
        );
    }
}

fn annotation() -> Value {
    serde_json::from_slice(&data("rekor-set-annotation/rekor-set")).expect("json")
}

#[test]
fn real_hashedrekord_body_is_reproduced_byte_for_byte() {
    let payload = &annotation()["Payload"];
    let body = STANDARD
        .decode(payload["body"].as_str().expect("body"))
        .expect("base64");
    let entry = HashedRekord::parse(&body).expect("parse");
    assert_eq!(entry.digest.algorithm_name(), "sha256");
    assert!(entry.signer_pem.starts_with(b"-----BEGIN CERTIFICATE-----"));
    assert_eq!(entry.canonical_body(), body);
    // JCS of the parsed JSON is the same bytes (the body is already canonical).
    assert_eq!(canonicalize_json(&body).expect("jcs"), body);
    assert_eq!(entry.uuid(), leaf_hash(&body).to_hex());
    assert_eq!(entry_uuid(&body), entry.uuid());
    // A re-ordered, re-spaced submission canonicalizes to the same body.
    let pretty = serde_json::to_vec_pretty(&serde_json::from_slice::<Value>(&body).expect("json"))
        .expect("json");
    assert_eq!(
        HashedRekord::parse(&pretty)
            .expect("parse")
            .canonical_body(),
        body
    );
}

#[test]
fn hashedrekord_parse_is_strict() {
    let good = HashedRekord {
        digest: Digest::sha256_of(b"artifact"),
        signature: vec![1, 2, 3],
        signer_pem: b"-----BEGIN PUBLIC KEY-----\n...\n-----END PUBLIC KEY-----\n".to_vec(),
    };
    let body = good.canonical_body();
    assert_eq!(HashedRekord::parse(&body).expect("parse"), good);
    let text = String::from_utf8(body).expect("utf-8");
    let cases = [
        text.replace("\"kind\":\"hashedrekord\"", "\"kind\":\"rekord\""),
        text.replace("0.0.1", "0.0.2"),
        text.replace("\"algorithm\":\"sha256\"", "\"algorithm\":\"md5\""),
        text.replace(good.digest.hex(), &good.digest.hex().to_uppercase()),
        text.replace(good.digest.hex(), &good.digest.hex()[1..]),
        text.replace("\"content\":\"AQID\"", "\"content\":\"AQID!\""),
        text.replace("\"content\":\"AQID\"", "\"content\":\"\""),
        text.replace("\"content\":\"AQID\"", "\"content\":3"),
        text.replace("{\"apiVersion\"", "{\"extra\":1,\"apiVersion\""),
        text.replace("\"hash\":{", "\"hash\":{\"x\":\"y\","),
        text.replace(",\"signature\":{", ",\"sig\":{"),
        "[]".to_string(),
        "not json".to_string(),
    ];
    for case in cases {
        assert!(HashedRekord::parse(case.as_bytes()).is_err(), "{case}");
    }
    assert!(matches!(
        HashedRekord::parse(text.replace("0.0.1", "0.0.2").as_bytes()),
        Err(RekorError::UnsupportedEntry { .. })
    ));
}

#[test]
fn real_set_verifies_and_canonical_payload_matches_cosigns() {
    let a = annotation();
    let p = &a["Payload"];
    let payload = SetPayload {
        body: p["body"].as_str().expect("body").to_owned(),
        integrated_time: p["integratedTime"].as_i64().expect("time"),
        log_id: p["logID"].as_str().expect("log id").to_owned(),
        log_index: p["logIndex"].as_i64().expect("index"),
    };
    let set = STANDARD
        .decode(a["SignedEntryTimestamp"].as_str().expect("set"))
        .expect("base64");
    payload
        .verify(&rekor_key(), &set)
        .expect("real SET verifies");
    assert_eq!(payload.log_id, log_id(&rekor_key()));
    // The bytes equal hallmark-sigstore's `RekorBundle::canonical_payload` construction.
    let sigstore_style = format!(
        "{{\"body\":{},\"integratedTime\":{},\"logID\":{},\"logIndex\":{}}}",
        Value::String(payload.body.clone()),
        payload.integrated_time,
        Value::String(payload.log_id.clone()),
        payload.log_index
    );
    assert_eq!(payload.canonical_bytes(), sigstore_style.into_bytes());
    // ...and the generic JCS of the payload object.
    let object = serde_json::json!({
        "logIndex": payload.log_index, "logID": payload.log_id,
        "integratedTime": payload.integrated_time, "body": payload.body,
    });
    assert_eq!(
        payload.canonical_bytes(),
        hallmark_tlog::jcs::canonicalize(&object).expect("jcs")
    );
    // Any change breaks it.
    let mut later = payload.clone();
    later.integrated_time += 1;
    assert!(matches!(
        later.verify(&rekor_key(), &set),
        Err(RekorError::BadSet { .. })
    ));
}

#[test]
fn sign_and_verify_a_set() {
    let key = SigningKey::generate(KeyAlgorithm::EcdsaP256).expect("key");
    let entry = HashedRekord {
        digest: Digest::sha256_of(b"artifact"),
        signature: vec![9; 70],
        signer_pem: key.public_key().to_pem().into_bytes(),
    };
    let payload = SetPayload::new(&entry.canonical_body(), 1_700_000_000, key.public_key(), 7);
    assert_eq!(payload.log_id, key.public_key().fingerprint());
    let set = payload.sign(&key).expect("sign");
    payload.verify(key.public_key(), &set).expect("verify");
    // Another key: the SET does not verify.
    let other = SigningKey::generate(KeyAlgorithm::EcdsaP256).expect("key");
    assert!(matches!(
        payload.verify(other.public_key(), &set),
        Err(RekorError::BadSet { .. })
    ));
    assert!(matches!(
        payload.sign(&other),
        Err(RekorError::LogIdMismatch { .. })
    ));
    let ed = SigningKey::generate(KeyAlgorithm::Ed25519).expect("key");
    assert!(matches!(
        payload.verify(ed.public_key(), &set),
        Err(RekorError::UnsupportedLogKey { found: "ed25519" })
    ));
    // A payload whose logID names another key fails even with a valid signature.
    let mut wrong = payload.clone();
    wrong.log_id = other.public_key().fingerprint();
    let set = key.sign(&wrong.canonical_bytes()).expect("sign");
    assert!(matches!(
        wrong.verify(key.public_key(), &set),
        Err(RekorError::LogIdMismatch { .. })
    ));
}

#[test]
fn entry_ids() {
    let uuid = entry_uuid(b"body");
    assert_eq!(
        entry_id(0x108e9186e8c5677a, &uuid).expect("id"),
        format!("108e9186e8c5677a{uuid}")
    );
    assert_eq!(entry_id(1, &uuid).expect("id").len(), 80);
    assert!(entry_id(1, "abc").is_err());
    assert!(entry_id(1, &uuid.to_uppercase()).is_err());
}

/// A proposed `dsse` entry over an envelope with these signature texts (as keyid-less
/// signatures) and `verifiers` verifier PEMs (placeholders: `pair` is given the verification
/// results).
fn dsse_entry(sigs: &[&str], verifiers: usize) -> hallmark_tlog::rekor::DsseRekord {
    let envelope = serde_json::json!({
        "payloadType": "application/vnd.in-toto+json",
        "payload": STANDARD.encode(b"{}"),
        "signatures": sigs.iter().map(|s| serde_json::json!({"keyid": "", "sig": s})).collect::<Vec<_>>(),
    });
    let verifiers = (0..verifiers)
        .map(|v| format!("verifier {v}").into_bytes())
        .collect();
    hallmark_tlog::rekor::DsseRekord::new(&envelope.to_string(), verifiers).expect("entry")
}

fn paired(body: &[u8]) -> Vec<(String, String)> {
    let v: Value = serde_json::from_slice(body).expect("json");
    v["spec"]["signatures"]
        .as_array()
        .expect("signatures")
        .iter()
        .map(|s| {
            let verifier = STANDARD
                .decode(s["verifier"].as_str().expect("verifier"))
                .expect("base64");
            (
                s["signature"].as_str().expect("signature").to_owned(),
                String::from_utf8(verifier).expect("utf-8"),
            )
        })
        .collect()
}

/// `dsse` signatures are paired with verifiers as Rekor's `verifyEnvelope` (go-securesystemslib
/// v0.11) pairs them: each verifier, in order and while a signature is unpaired, takes the first
/// signature it verifies; the body lists one member per distinct signature, sorted.
#[test]
fn dsse_signatures_pair_with_verifiers_as_rekor_does() {
    // "Ym9i" (bob) made by verifier 0, "YWxpY2U=" (alice) by verifier 1: sorted by text.
    let entry = dsse_entry(&["Ym9i", "YWxpY2U="], 2);
    let signed = entry.pair(|v, s| v == s).expect("paired");
    assert_eq!(
        paired(&signed.canonical_body()),
        [
            ("YWxpY2U=".to_owned(), "verifier 1".to_owned()),
            ("Ym9i".to_owned(), "verifier 0".to_owned()),
        ]
    );
    // Copies of one signature are one member.
    let entry = dsse_entry(&["Ym9i", "Ym9i"], 1);
    let signed = entry.pair(|_, _| true).expect("paired");
    assert_eq!(paired(&signed.canonical_body()).len(), 1);
    // Once every signature is paired, later verifiers are not asked.
    let entry = dsse_entry(&["Ym9i"], 2);
    let mut asked = Vec::new();
    let signed = entry
        .pair(|v, s| {
            asked.push(v);
            s == 0
        })
        .expect("paired");
    assert_eq!(asked, [0]);
    assert_eq!(paired(&signed.canonical_body())[0].1, "verifier 0");

    for (attack, entry, verifies, expect) in [
        (
            "a verifier that verifies nothing",
            dsse_entry(&["Ym9i", "YWxpY2U="], 2),
            (|v: usize, s: usize| v == 0 && s == 0) as fn(usize, usize) -> bool,
            "verifiers[1] verifies none of the envelope's 2 signature(s)",
        ),
        (
            "a signature no verifier made",
            dsse_entry(&["Ym9i", "YWxpY2U="], 1),
            |_, s| s == 0,
            "signatures[1] is verified by none of the 1 verifier(s)",
        ),
        (
            "one verifier made both (it pairs with the first only)",
            dsse_entry(&["Ym9i", "YWxpY2U="], 2),
            |v, _| v == 0,
            "verifiers[1] verifies none",
        ),
    ] {
        let err = entry.pair(verifies).expect_err(attack);
        assert!(
            matches!(err, RekorError::BadDsseField { .. }),
            "{attack}: {err:?}"
        );
        assert!(err.to_string().contains(expect), "{attack}: {err}");
    }
}
