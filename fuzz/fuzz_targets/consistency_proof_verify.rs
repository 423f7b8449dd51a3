//! RFC 9162 consistency proof verification. Arbitrary inputs never panic; for a real tree built
//! from the input, a proof verifies if and only if it is the generated proof (the fuzzer
//! mutates the proof hashes and length).
#![no_main]

use hallmark_tlog::hash::Hash;
use hallmark_tlog::proof::{consistency_proof_len, verify_consistency};
use hallmark_tlog::tree::{MemoryHashStore, prove_consistency, tree_hash};
use libfuzzer_sys::fuzz_target;

fn u64_at(data: &[u8], at: usize) -> u64 {
    let mut b = [0u8; 8];
    for (i, x) in data.iter().skip(at).take(8).enumerate() {
        b[i] = *x;
    }
    u64::from_le_bytes(b)
}

fn hashes(data: &[u8]) -> Vec<Hash> {
    data.chunks_exact(32)
        .map(|c| Hash::from_slice(c).expect("32 bytes"))
        .collect()
}

fuzz_target!(|data: &[u8]| {
    if data.len() < 16 + 64 {
        return;
    }
    // Arbitrary everything.
    let (first, second) = (u64_at(data, 0), u64_at(data, 8));
    let r1 = Hash::from_slice(&data[16..48]).expect("32 bytes");
    let r2 = Hash::from_slice(&data[48..80]).expect("32 bytes");
    let proof = hashes(&data[80..]);
    let _ = verify_consistency(first, second, &r1, &r2, &proof);
    let _ = consistency_proof_len(first, second);

    // A real tree of 1..=300 leaves; the tail of the input edits the real proof.
    let second = 1 + u64_at(data, 0) % 300;
    let first = 1 + u64_at(data, 8) % second;
    let mut store = MemoryHashStore::new();
    for i in 0..second {
        store.append_data(&i.to_be_bytes()).expect("append");
    }
    let real = prove_consistency(first, second, &store).expect("proof");
    let mut edited = real.clone();
    let edits = &data[16..];
    match edits[0] % 3 {
        0 => {
            if let Some(h) = edited.get_mut(usize::from(edits[1]) % real.len().max(1)) {
                h.0[usize::from(edits[2]) % 32] ^= edits[3];
            }
        }
        1 => edited.truncate(usize::from(edits[1])),
        _ => edited.extend(hashes(&edits[4..])),
    }
    let r1 = tree_hash(first, &store).expect("root");
    let ok = verify_consistency(first, second, &r1, &store.root(), &edited).is_ok();
    assert_eq!(ok, edited == real);
});
