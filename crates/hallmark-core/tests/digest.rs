use hallmark_core::{Digest, DigestAlgorithm, DigestError};

const EMPTY_SHA256: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
const EMPTY_SHA384: &str = "38b060a751ac96384cd9327eb1b1e36a21fdb71114be07434c0cc7bf63f6e1da274edebfe76f65fbd51ad2f14898b95b";
const EMPTY_SHA512: &str = "cf83e1357eefb8bdf1542850d66d8007d620e4050b5715dc83f4a921d36ce9ce47d0d13c5d85f2b0ff8318d2877eec2f63b931bd47417a81a538327af927da3e";

#[test]
fn parses_each_algorithm_and_round_trips() {
    for (alg, hex, name) in [
        (DigestAlgorithm::Sha256, EMPTY_SHA256, "sha256"),
        (DigestAlgorithm::Sha384, EMPTY_SHA384, "sha384"),
        (DigestAlgorithm::Sha512, EMPTY_SHA512, "sha512"),
    ] {
        let s = format!("{name}:{hex}");
        let d = Digest::parse(&s).unwrap();
        assert_eq!(d.algorithm(), alg);
        assert_eq!(d.algorithm_name(), name);
        assert_eq!(d.hex(), hex);
        assert_eq!(d.to_string(), s);
        assert_eq!(d.tag_form(), format!("{name}-{hex}"));
        assert_eq!(s.parse::<Digest>().unwrap(), d);
        assert_eq!(Digest::compute(alg, b""), d);
        d.verify(b"").unwrap();
    }
}

#[test]
fn sha256_of_known_values() {
    assert_eq!(Digest::sha256_of(b"").hex(), EMPTY_SHA256);
    assert_eq!(
        Digest::sha256_of(b"abc").to_string(),
        "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    );
}

#[test]
fn verify_reports_expected_and_found() {
    let d = Digest::sha256_of(b"hello");
    match d.verify(b"hellO") {
        Err(DigestError::Mismatch { expected, found }) => {
            assert_eq!(expected, d.to_string());
            assert_eq!(found, Digest::sha256_of(b"hellO").to_string());
        }
        other => panic!("expected a mismatch, got {other:?}"),
    }
}

#[test]
fn rejects_malformed_digests() {
    let h = EMPTY_SHA256;
    let malformed = [
        String::new(),
        "sha256".to_string(),
        "sha256:".to_string(),
        format!(":{h}"),
        format!("sha256:{}", h.to_uppercase()),
        format!("SHA256:{h}"),
        format!("sha256:{}", &h[..63]),
        format!("sha256:{h}0"),
        format!("sha256:{}g", &h[..63]),
        format!("sha256: {}", &h[..63]),
        format!("sha256:{h}\n"),
        format!("sha256::{h}"),
        // The right length for sha256 but not for sha512.
        format!("sha512:{h}"),
        format!("sha256:{EMPTY_SHA512}"),
    ];
    for s in &malformed {
        match Digest::parse(s) {
            Err(DigestError::Malformed { found }) => assert_eq!(&found, s),
            other => panic!("{s:?}: expected Malformed, got {other:?}"),
        }
    }
}

#[test]
fn rejects_unknown_algorithms() {
    for alg in ["md5", "sha1", "blake3", "sha256+b64u", "sha3.256"] {
        let s = format!("{alg}:{EMPTY_SHA256}");
        match Digest::parse(&s) {
            Err(DigestError::UnsupportedAlgorithm { found }) => assert_eq!(found, alg),
            other => panic!("{s:?}: expected UnsupportedAlgorithm, got {other:?}"),
        }
    }
    let err = Digest::parse("md5:00").unwrap_err().to_string();
    assert!(err.contains("md5") && err.contains("sha256"), "{err}");
}

#[test]
fn algorithm_names_round_trip() {
    for alg in [
        DigestAlgorithm::Sha256,
        DigestAlgorithm::Sha384,
        DigestAlgorithm::Sha512,
    ] {
        assert_eq!(DigestAlgorithm::from_name(alg.name()), Some(alg));
        assert_eq!(Digest::compute(alg, b"x").hex().len(), alg.hex_len());
    }
    assert_eq!(DigestAlgorithm::from_name("SHA256"), None);
}

#[test]
fn hasher_over_pieces_equals_the_digest_of_the_whole() {
    use hallmark_core::Hasher;
    let whole: Vec<u8> = (0..10_000u32).flat_map(|i| i.to_le_bytes()).collect();
    for algorithm in [
        DigestAlgorithm::Sha256,
        DigestAlgorithm::Sha384,
        DigestAlgorithm::Sha512,
    ] {
        let mut hasher = Hasher::new(algorithm);
        for piece in whole.chunks(777) {
            hasher.update(piece);
        }
        hasher.update(b"");
        assert_eq!(hasher.finish(), Digest::compute(algorithm, &whole));
    }
    assert_eq!(
        Hasher::new(DigestAlgorithm::Sha256).finish().to_string(),
        format!("sha256:{EMPTY_SHA256}")
    );
}
