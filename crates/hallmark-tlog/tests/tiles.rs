//! Tiles: paths (C2SP examples), which tiles a tree has, tile contents, proofs from tiles,
//! entry bundles.

use crate::naive;
use crate::prng::Rng;
use hallmark_tlog::hash::{Hash, leaf_hash};
use hallmark_tlog::tiles::{
    FULL_WIDTH, Tile, TileError, TileHashReader, TilePath, TileReader, encode_entry_bundle,
    new_tiles, parse_entry_bundle, parse_tile_path, read_tile_data, tile_for_stored_index,
    tiles_for_size,
};
use hallmark_tlog::tree::{
    MemoryHashStore, StoredIndex, prove_consistency, prove_inclusion, tree_hash,
};
use std::cell::Cell;
use std::collections::{BTreeSet, HashMap};

fn tile(level: u8, index: u64, width: u16) -> Tile {
    Tile::new(level, index, width).expect("tile")
}

#[test]
fn paths_follow_the_c2sp_examples() {
    // "index 1234067 will be encoded as x001/x234/067"
    assert_eq!(tile(0, 1234067, 256).path(), "tile/0/x001/x234/067");
    assert_eq!(tile(0, 1234067, 112).path(), "tile/0/x001/x234/067.p/112");
    assert_eq!(
        tile(0, 1234067, 256).entries_path(),
        "tile/entries/x001/x234/067"
    );
    assert_eq!(tile(0, 5, 7).entries_path(), "tile/entries/005.p/7");
    assert_eq!(tile(1, 0, 256).path(), "tile/1/000");
    assert_eq!(tile(2, 1000, 1).path(), "tile/2/x001/000.p/1");
    assert_eq!(tile(63, 999, 255).path(), "tile/63/999.p/255");
    assert_eq!(
        parse_tile_path("tile/0/x001/234"),
        Ok(TilePath::Hashes(tile(0, 1234, 256)))
    );
    assert_eq!(
        tile(0, u64::MAX, 256).path(),
        "tile/0/x018/x446/x744/x073/x709/x551/615"
    );
    for t in [
        tile(0, 1234067, 256),
        tile(0, 1234067, 112),
        tile(5, 0, 1),
        tile(63, u64::MAX, 255),
        tile(10, 1_000_000, 256),
    ] {
        assert_eq!(parse_tile_path(&t.path()), Ok(TilePath::Hashes(t)));
        assert_eq!(
            parse_tile_path(&t.entries_path()),
            Ok(TilePath::Entries(t.with_level0()))
        );
    }
}

trait Level0 {
    fn with_level0(&self) -> Tile;
}
impl Level0 for Tile {
    fn with_level0(&self) -> Tile {
        Tile::new(0, self.index(), self.width()).expect("tile")
    }
}

#[test]
fn bad_and_non_canonical_paths_are_rejected() {
    for bad in [
        "",
        "tile",
        "tile/",
        "tile/0",
        "tile/0/",
        "tile//000",
        "tile/00/000",
        "tile/01/000",
        "tile/64/000",
        "tile/255/000",
        "tile/-1/000",
        "tile/a/000",
        "tile/0/67",
        "tile/0/0067",
        "tile/0/x067",
        "tile/0/x000/067",
        "tile/0/001/x234",
        "tile/0/x001/x234/067/",
        "tile/0/000.p/0",
        "tile/0/000.p/256",
        "tile/0/000.p/010",
        "tile/0/000.p/",
        "tile/0/000.p",
        "tile/0/000.p/1/2",
        "tile/0/x000.p/1/000",
        "tile/0/x018/x446/x744/x073/x709/x551/616",
        "tile/0/x999/x999/x999/x999/x999/x999/x999/999",
        "tile/entries/x000/001",
        "tile/entries/",
        "tile/data/000",
        "/tile/0/000",
        "tiles/0/000",
        "tile/0/000 ",
        "tile/0/+00",
        "tile/0/0a0",
        "tile/0/٠٠٠",
    ] {
        assert!(parse_tile_path(bad).is_err(), "accepted {bad:?}");
    }
    assert!(matches!(
        Tile::new(64, 0, 1),
        Err(TileError::Level { found: 64 })
    ));
    assert!(matches!(
        Tile::new(0, 0, 0),
        Err(TileError::Width { found: 0 })
    ));
    assert!(Tile::new(0, 0, 257).is_err());
}

#[test]
fn tiles_of_a_tree_match_the_c2sp_examples() {
    // "a tree of size 70,000 will be represented by 273 full level 0 tiles, one partial level
    // 0 tile of width 112, one full level 1 tile, one partial level 1 tile of width 17, and
    // one partial level 2 tile of width 1."
    let tiles = tiles_for_size(70_000).expect("tiles");
    let count = |level: u8, full: bool| {
        tiles
            .iter()
            .filter(|t| t.level() == level && t.is_full() == full)
            .count()
    };
    assert_eq!(count(0, true), 273);
    assert_eq!(count(1, true), 1);
    assert_eq!(count(2, true), 0);
    let partials: Vec<(u8, u64, u16)> = tiles
        .iter()
        .filter(|t| !t.is_full())
        .map(|t| (t.level(), t.index(), t.width()))
        .collect();
    assert_eq!(partials, vec![(0, 273, 112), (1, 1, 17), (2, 0, 1)]);
    assert_eq!(tiles.len(), 273 + 1 + 3);
    // "a tree of size 256 will be represented by a full level 0 tile and a partial level 1
    // tile of width 1."
    assert_eq!(
        tiles_for_size(256).expect("tiles"),
        vec![tile(0, 0, 256), tile(1, 0, 1)]
    );
    assert!(tiles_for_size(0).expect("tiles").is_empty());
}

#[test]
fn new_tiles_are_the_tiles_the_old_tree_lacks() {
    let mut rng = Rng::new(3);
    for _ in 0..200 {
        let new = rng.range(0, 300_000);
        let old = rng.range(0, new);
        let before: BTreeSet<Tile> = tiles_for_size(old).expect("tiles").into_iter().collect();
        let after: BTreeSet<Tile> = tiles_for_size(new).expect("tiles").into_iter().collect();
        let expected: BTreeSet<Tile> = after.difference(&before).copied().collect();
        let got: BTreeSet<Tile> = new_tiles(old, new).expect("tiles").into_iter().collect();
        assert_eq!(got, expected, "{old} -> {new}");
    }
    assert!(matches!(
        new_tiles(2, 1),
        Err(TileError::SizeOrder { old: 2, new: 1 })
    ));
}

/// Tiles in memory, as a log would publish them for each checkpointed size; counts reads.
struct MemoryTiles {
    tiles: HashMap<Tile, Vec<u8>>,
    calls: Cell<usize>,
}

impl TileReader for MemoryTiles {
    type Error = TileError;
    fn read_tiles(&self, tiles: &[Tile]) -> Result<Vec<Vec<u8>>, TileError> {
        self.calls.set(self.calls.get() + 1);
        tiles
            .iter()
            .map(|t| {
                self.tiles.get(t).cloned().ok_or(TileError::BadPath {
                    path: t.path(),
                    reason: "not published",
                })
            })
            .collect()
    }
}

fn publish(store: &MemoryHashStore, sizes: &[u64]) -> MemoryTiles {
    let mut tiles = HashMap::new();
    let mut old = 0;
    for &size in sizes {
        for t in new_tiles(old, size).expect("tiles") {
            tiles.insert(t, read_tile_data(&t, store).expect("tile data"));
        }
        old = size;
    }
    MemoryTiles {
        tiles,
        calls: Cell::new(0),
    }
}

#[test]
fn tile_contents_follow_the_definition() {
    let data = naive::leaves(1000);
    let mut store = MemoryHashStore::new();
    for d in &data {
        store.append_data(d).expect("append");
    }
    let tiles = publish(&store, &[1000]);
    // Level 0: leaf hashes.
    let t0 = &tiles.tiles[&tile(0, 0, 256)];
    assert_eq!(t0.len(), 256 * 32);
    for (i, chunk) in t0.chunks(32).enumerate() {
        assert_eq!(chunk, leaf_hash(&data[i]).as_bytes());
    }
    // Level 1 hash i = MTH(D[i*256 .. (i+1)*256]).
    let t1 = &tiles.tiles[&tile(1, 0, 3)];
    for i in 0..3 {
        assert_eq!(
            &t1[i * 32..(i + 1) * 32],
            naive::mth(&data[i * 256..(i + 1) * 256]).as_bytes()
        );
    }
    assert_eq!(tiles.tiles[&tile(0, 3, 232)].len(), 232 * 32);
}

#[test]
fn proofs_from_tiles_equal_proofs_from_stored_hashes() {
    let mut store = MemoryHashStore::new();
    let mut rng = Rng::new(11);
    let checkpoints = [1u64, 255, 256, 257, 4000, 65_535, 65_536, 65_537, 70_000];
    let mut leaves = Vec::new();
    for i in 0..70_000u32 {
        leaves.push(leaf_hash(&i.to_le_bytes()));
    }
    store.append_batch(&leaves).expect("append");
    let tiles = publish(&store, &checkpoints);
    for &size in &checkpoints {
        let reader = TileHashReader::new(size, &tiles);
        assert_eq!(
            tree_hash(size, &reader).expect("root from tiles"),
            tree_hash(size, &store).expect("root")
        );
        for _ in 0..20 {
            let index = rng.range(0, size - 1);
            let before = tiles.calls.get();
            assert_eq!(
                prove_inclusion(size, index, &reader).expect("tiles"),
                prove_inclusion(size, index, &store).expect("store"),
                "inclusion {index} in {size}"
            );
            // At most one batched tile read per proof (none for an empty proof).
            assert!(tiles.calls.get() <= before + 1);
            let old = rng.range(1, size);
            assert_eq!(
                prove_consistency(old, size, &reader).expect("tiles"),
                prove_consistency(old, size, &store).expect("store"),
                "consistency {old} -> {size}"
            );
        }
    }
    // A hash beyond the tree.
    let reader = TileHashReader::new(100, &tiles);
    assert!(prove_inclusion(101, 100, &reader).is_err());
    let idx = StoredIndex::new(0, 100).expect("index");
    assert!(matches!(
        tile_for_stored_index(100, idx),
        Err(TileError::NotInTree { .. })
    ));
    let span = tile_for_stored_index(101, idx).expect("span");
    assert_eq!(
        (span.tile, span.start, span.count),
        (tile(0, 0, 101), 100, 1)
    );
    let span = tile_for_stored_index(70_000, StoredIndex::new(11, 1).expect("i")).expect("span");
    assert_eq!((span.tile, span.start, span.count), (tile(1, 0, 256), 8, 8));
}

#[test]
fn wrong_tile_data_is_an_error() {
    struct Short;
    impl TileReader for Short {
        type Error = TileError;
        fn read_tiles(&self, tiles: &[Tile]) -> Result<Vec<Vec<u8>>, TileError> {
            Ok(tiles.iter().map(|_| vec![0; 31]).collect())
        }
    }
    let reader = TileHashReader::new(1000, Short);
    let err = tree_hash(1000, &reader).expect_err("short tiles");
    // The context in the message, the tile error in its cause, said once.
    let msg = hallmark_core::error::chain(&err);
    assert_eq!(msg.matches("has 31 bytes, expected").count(), 1, "{msg}");
}

#[test]
fn entry_bundles_round_trip() {
    let entries: Vec<Vec<u8>> = vec![b"a".to_vec(), Vec::new(), vec![7; 300]];
    let bundle = encode_entry_bundle(&entries).expect("encode");
    assert_eq!(&bundle[..5], &[0, 1, b'a', 0, 0]);
    let parsed = parse_entry_bundle(&bundle).expect("parse");
    assert_eq!(
        parsed,
        entries.iter().map(Vec::as_slice).collect::<Vec<_>>()
    );
    assert!(parse_entry_bundle(&bundle[..bundle.len() - 1]).is_err());
    assert!(parse_entry_bundle(&[0]).is_err());
    assert!(matches!(
        encode_entry_bundle(&[vec![0u8; 65_536]]),
        Err(TileError::EntryTooLarge {
            index: 0,
            len: 65_536
        })
    ));
    let full: Vec<&[u8]> = vec![b"x"; usize::from(FULL_WIDTH)];
    let bundle = encode_entry_bundle(&full).expect("256 entries");
    assert_eq!(parse_entry_bundle(&bundle).expect("parse").len(), 256);
    assert!(parse_entry_bundle(&[bundle.as_slice(), &[0, 0]].concat()).is_err());
    assert!(encode_entry_bundle(&vec![b"x"; 257]).is_err());
    let _: Hash = leaf_hash(parsed[0]);
}
