//! `hallmark quickstart`.

use crate::util::{World, mode};

#[test]
fn quickstart_verifies_and_refuses() {
    let w = World::new();
    let dir = w.path("qs");
    let out = w.hm(["quickstart", "--dir"]).args([&dir]).run();
    out.success();
    for needle in [
        "4. Verified oci:",
        "valid signature(s) by sha256:",
        "5. Tampered image",
        "is refused",
        "payload signs sha256:",
        "expected the image digest sha256:",
    ] {
        assert!(
            out.stdout.contains(needle),
            "quickstart: expected {needle:?} in its output, found:\n{out}"
        );
    }
    let key = dir.join("quickstart.key");
    assert_eq!(
        mode(&key),
        0o600,
        "quickstart.key: expected mode 0600, found {:o}",
        mode(&key)
    );
    assert!(
        std::fs::read_to_string(&key)
            .unwrap()
            .starts_with("-----BEGIN ENCRYPTED COSIGN PRIVATE KEY-----")
    );

    // What it suggests trying works: the layout verifies from the command line.
    let layout = format!("oci:{}:v1", dir.join("layout").display());
    let pubkey = dir.join("quickstart.pub");
    w.hm(["verify", "--key"])
        .args([pubkey.as_os_str(), layout.as_ref()])
        .run()
        .success();
    let tampered = format!("oci:{}:v1-tampered", dir.join("layout").display());
    w.hm(["verify", "--key"])
        .args([pubkey.as_os_str(), tampered.as_ref()])
        .run()
        .failure(&["payload signs"]);
    // The key it wrote is encrypted with the empty passphrase (none was given).
    w.hm(["key", "public-key", "--key"])
        .args([&key])
        .pw("")
        .run()
        .success();
}
