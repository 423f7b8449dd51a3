//! `hallmark_tuf::keyfile` on arbitrary text with a fixed passphrase: never panics, and a key
//! file that decrypts writes back to a file that decrypts to the same key ID, role and gun.
#![no_main]

use hallmark_tuf::keyfile::{parse_pem, read_key_file, write_key_file_with};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let _ = parse_pem(text);
    if let Ok(file) = read_key_file(text, b"fuzz") {
        let again = write_key_file_with(
            &file.key,
            &file.role,
            file.gun.as_deref(),
            b"fuzz",
            &[0; 8],
            &[0; 16],
        )
        .expect("a key that was read can be written");
        let back = read_key_file(&again, b"fuzz").expect("written key file reads");
        assert_eq!(back.key.key_id(), file.key.key_id());
        assert_eq!(back.role, file.role);
    }
});
