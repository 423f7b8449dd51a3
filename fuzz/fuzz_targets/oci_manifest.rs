//! `hallmark_oci_spec::Manifest::parse` on arbitrary bytes, with and without a media type: never
//! panics, and what parses round-trips through serialization.
#![no_main]

use hallmark_oci_spec::{Manifest, media_types, to_json_bytes};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    for media_type in [
        None,
        Some(media_types::OCI_MANIFEST),
        Some(media_types::OCI_INDEX),
        Some(media_types::DOCKER_MANIFEST_LIST),
        Some("application/json; charset=utf-8"),
    ] {
        let Ok(m) = Manifest::parse(data, media_type) else {
            continue;
        };
        let _ = m.subject();
        let _ = m.effective_artifact_type();
        match &m {
            Manifest::Image(i) => {
                let bytes = to_json_bytes(i);
                assert_eq!(
                    Manifest::parse(&bytes, Some(media_types::OCI_MANIFEST))
                        .ok()
                        .as_ref(),
                    Some(&m)
                );
            }
            Manifest::Index(i) => {
                let bytes = to_json_bytes(i);
                assert_eq!(
                    Manifest::parse(&bytes, Some(media_types::OCI_INDEX))
                        .ok()
                        .as_ref(),
                    Some(&m)
                );
            }
        }
    }
});
