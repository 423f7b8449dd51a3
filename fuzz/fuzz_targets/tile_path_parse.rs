//! `parse_tile_path` on arbitrary text: never panics, and what parses is the canonical path.
#![no_main]

use hallmark_tlog::tiles::parse_tile_path;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(path) = std::str::from_utf8(data)
        && let Ok(parsed) = parse_tile_path(path)
    {
        assert_eq!(parsed.path(), path, "one resource, one path");
    }
});
