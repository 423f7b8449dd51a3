//! Proof generation throughput over an in-memory 1,000,000-leaf tree. Ignored by default:
//! `cargo test -p hallmark-tlog --release -- --ignored --nocapture bench`.

use crate::prng::Rng;
use hallmark_tlog::hash::leaf_hash;
use hallmark_tlog::proof::{verify_consistency, verify_inclusion};
use hallmark_tlog::tiles::{
    Tile, TileError, TileHashReader, TileReader, read_tile_data, tiles_for_size,
};
use hallmark_tlog::tree::{MemoryHashStore, prove_consistency, prove_inclusion, tree_hash};
use std::collections::HashMap;
use std::time::Instant;

const SIZE: u64 = 1_000_000;

struct Tiles(HashMap<Tile, Vec<u8>>);
impl TileReader for Tiles {
    type Error = TileError;
    fn read_tiles(&self, tiles: &[Tile]) -> Result<Vec<Vec<u8>>, TileError> {
        tiles
            .iter()
            .map(|t| {
                self.0.get(t).cloned().ok_or(TileError::BadPath {
                    path: t.path(),
                    reason: "missing",
                })
            })
            .collect()
    }
}

fn rate(n: usize, start: Instant) -> f64 {
    n as f64 / start.elapsed().as_secs_f64()
}

#[test]
#[ignore = "benchmark; run with --release -- --ignored --nocapture"]
fn bench_proof_generation_1m() {
    let leaves: Vec<_> = (0..SIZE).map(|i| leaf_hash(&i.to_be_bytes())).collect();
    let mut store = MemoryHashStore::new();
    let start = Instant::now();
    for batch in leaves.chunks(256) {
        store.append_batch(batch).expect("append");
    }
    println!(
        "append: {SIZE} leaves in batches of 256: {:.0} leaves/s",
        rate(SIZE as usize, start)
    );
    let root = tree_hash(SIZE, &store).expect("root");
    assert_eq!(root, store.root());

    let mut rng = Rng::new(42);
    let n = 200_000;
    let queries: Vec<u64> = (0..n).map(|_| rng.range(0, SIZE - 1)).collect();
    let start = Instant::now();
    let mut total = 0;
    for &i in &queries {
        total += prove_inclusion(SIZE, i, &store).expect("proof").len();
    }
    println!(
        "inclusion proofs (memory store): {:.0}/s (avg {} hashes)",
        rate(n, start),
        total / n
    );

    let start = Instant::now();
    for &i in &queries {
        prove_consistency(i + 1, SIZE, &store).expect("proof");
    }
    println!("consistency proofs (memory store): {:.0}/s", rate(n, start));

    let start = Instant::now();
    for &i in queries.iter().take(n / 4) {
        let proof = prove_inclusion(SIZE, i, &store).expect("proof");
        verify_inclusion(&leaves[i as usize], i, SIZE, &proof, &root).expect("verify");
    }
    println!("inclusion prove+verify: {:.0}/s", rate(n / 4, start));

    let old_root = tree_hash(SIZE / 3, &store).expect("root");
    let proof = prove_consistency(SIZE / 3, SIZE, &store).expect("proof");
    verify_consistency(SIZE / 3, SIZE, &old_root, &root, &proof).expect("verify");

    let start = Instant::now();
    let tiles = Tiles(
        tiles_for_size(SIZE)
            .expect("tiles")
            .into_iter()
            .map(|t| {
                let data = read_tile_data(&t, &store).expect("tile");
                (t, data)
            })
            .collect(),
    );
    println!(
        "tiles: {} tiles built in {:.2}s",
        tiles.0.len(),
        start.elapsed().as_secs_f64()
    );
    let reader = TileHashReader::new(SIZE, &tiles);
    let m = 20_000;
    let start = Instant::now();
    for &i in queries.iter().take(m) {
        prove_inclusion(SIZE, i, &reader).expect("proof");
    }
    println!(
        "inclusion proofs (from in-memory tiles, 8 KiB tile copies per read): {:.0}/s",
        rate(m, start)
    );
}
