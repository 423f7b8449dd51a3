//! `hallmark_admission::Review::parse` on arbitrary bytes: never panics; what parses gives its
//! images, and an answer that echoes its uid.
#![no_main]

use hallmark_admission::{Response, Review, images};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(review) = Review::parse(data) else {
        return;
    };
    if let Some(object) = &review.object {
        for site in images(&review.kind, object) {
            assert!(object.pointer(&site.pointer).is_some(), "{}", site.pointer);
        }
    }
    let answer = Response::deny("x").to_review(&review);
    assert_eq!(answer["response"]["uid"], review.uid.as_str());
});
