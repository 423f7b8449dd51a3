//! C2SP tiled logs (`c2sp.org/tlog-tiles`): tile coordinates and paths, which tiles a tree
//! has, tile contents from stored hashes, stored hashes from tiles, and entry bundles.
//!
//! A tile at level `L` holds up to 256 consecutive stored hashes of tree level `8L`: hash `i`
//! of tile `N` is `MTH(D[(N*256 + i) * 256^L .. (N*256 + i + 1) * 256^L])`, i.e. the stored
//! hash [`StoredIndex::new`]`(8L, N*256 + i)`. Level 0 tiles hold leaf hashes. A full tile is
//! 256 hashes (8,192 bytes); the rightmost tile of a level may be partial (1-255 hashes), and
//! its path carries the width: `tile/<L>/<N>.p/<W>`.

use crate::hash::{HASH_SIZE, Hash, node_hash};
use crate::tree::{HashReader, MAX_TREE_SIZE, StoredIndex, TreeError};
use std::collections::BTreeMap;
use thiserror::Error;

/// Tree levels per tile: tiles are 8 levels high.
pub const TILE_HEIGHT: u32 = 8;
/// Hashes in a full tile (2^[`TILE_HEIGHT`]).
pub const FULL_WIDTH: u16 = 256;
/// Highest tile level a path may name.
pub const MAX_TILE_LEVEL: u8 = 63;
/// Largest entry in an entry bundle (a big-endian u16 length prefix).
pub const MAX_ENTRY_SIZE: usize = u16::MAX as usize;

/// Why a tile operation failed.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum TileError {
    /// A tile path does not follow the grammar.
    #[error("invalid tile path {path:?}: {reason}")]
    BadPath {
        /// The path (truncated to 200 characters).
        path: String,
        /// What is wrong.
        reason: &'static str,
    },
    /// A tile level above [`MAX_TILE_LEVEL`].
    #[error("tile level {found} is out of range: expected 0 to {MAX_TILE_LEVEL}")]
    Level {
        /// The level.
        found: u8,
    },
    /// A tile width outside 1..=256.
    #[error("tile width {found} is out of range: expected 1 to {FULL_WIDTH}")]
    Width {
        /// The width.
        found: u16,
    },
    /// A stored hash that the tree of this size does not have.
    #[error(
        "stored hash {index} (level {level}, index {n}) is not complete in a tree of size {size}"
    )]
    NotInTree {
        /// The stored index.
        index: u64,
        /// Its tree level.
        level: u32,
        /// Its index within the level.
        n: u64,
        /// The tree size.
        size: u64,
    },
    /// Tile data of the wrong length.
    #[error("tile {path} has {found} bytes, expected {expected}")]
    DataLength {
        /// The tile's path.
        path: String,
        /// `32 * width`.
        expected: usize,
        /// The length given.
        found: usize,
    },
    /// Tree sizes out of order.
    #[error("tiles from tree size {old} to {new}: expected old <= new")]
    SizeOrder {
        /// Old size.
        old: u64,
        /// New size.
        new: u64,
    },
    /// A tree larger than the supported maximum.
    #[error("tree size {size} is larger than the supported maximum {max}")]
    TooLarge {
        /// The size.
        size: u64,
        /// [`MAX_TREE_SIZE`].
        max: u64,
    },
    /// An entry too large for an entry bundle.
    #[error("entry {index} is {len} bytes, expected at most {MAX_ENTRY_SIZE} in an entry bundle")]
    EntryTooLarge {
        /// Position in the bundle.
        index: usize,
        /// Its length.
        len: usize,
    },
    /// An entry bundle is malformed.
    #[error("malformed entry bundle: {reason}")]
    BadEntryBundle {
        /// What is wrong.
        reason: &'static str,
    },
}

/// A tile: its level, index within the level and width (number of hashes, 256 when full).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Tile {
    level: u8,
    index: u64,
    width: u16,
}

impl Tile {
    /// A tile; `width` is 1..=256.
    pub fn new(level: u8, index: u64, width: u16) -> Result<Self, TileError> {
        if level > MAX_TILE_LEVEL {
            return Err(TileError::Level { found: level });
        }
        if width == 0 || width > FULL_WIDTH {
            return Err(TileError::Width { found: width });
        }
        Ok(Self {
            level,
            index,
            width,
        })
    }

    /// The tile level.
    pub fn level(&self) -> u8 {
        self.level
    }

    /// The tile index within its level.
    pub fn index(&self) -> u64 {
        self.index
    }

    /// The number of hashes (or entries) in the tile.
    pub fn width(&self) -> u16 {
        self.width
    }

    /// Whether the tile is full (256 wide).
    pub fn is_full(&self) -> bool {
        self.width == FULL_WIDTH
    }

    /// The same coordinates at full width.
    pub fn to_full(&self) -> Tile {
        Tile {
            width: FULL_WIDTH,
            ..*self
        }
    }

    /// Bytes of tile data: 32 per hash.
    pub fn data_len(&self) -> usize {
        usize::from(self.width) * HASH_SIZE
    }

    fn n_and_width(&self) -> String {
        let mut n = self.index;
        let mut path = format!("{:03}", n % 1000);
        while n >= 1000 {
            n /= 1000;
            path = format!("x{:03}/{path}", n % 1000);
        }
        if !self.is_full() {
            path.push_str(&format!(".p/{}", self.width));
        }
        path
    }

    /// The hash tile path, `tile/<L>/<N>[.p/<W>]` (relative to the log's prefix).
    pub fn path(&self) -> String {
        format!("tile/{}/{}", self.level, self.n_and_width())
    }

    /// The entry bundle path with this tile's index and width, `tile/entries/<N>[.p/<W>]`:
    /// the entries whose leaf hashes a level-0 tile holds.
    pub fn entries_path(&self) -> String {
        format!("tile/entries/{}", self.n_and_width())
    }

    /// The stored hashes the tile holds, in order.
    pub fn hash_indexes(&self) -> Result<Vec<StoredIndex>, TileError> {
        let level = u32::from(self.level) * TILE_HEIGHT;
        (0..u64::from(self.width))
            .map(|i| {
                self.index
                    .checked_mul(u64::from(FULL_WIDTH))
                    .and_then(|base| StoredIndex::new(level, base + i))
                    .ok_or(TileError::TooLarge {
                        size: u64::MAX,
                        max: MAX_TREE_SIZE,
                    })
            })
            .collect()
    }
}

impl std::fmt::Display for Tile {
    /// The hash tile path.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.path())
    }
}

/// What a tile path names.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum TilePath {
    /// A Merkle tree tile, `tile/<L>/<N>[.p/<W>]`.
    Hashes(Tile),
    /// An entry bundle, `tile/entries/<N>[.p/<W>]` (the tile is its level-0 counterpart).
    Entries(Tile),
}

impl TilePath {
    /// The path again.
    pub fn path(&self) -> String {
        match self {
            TilePath::Hashes(t) => t.path(),
            TilePath::Entries(t) => t.entries_path(),
        }
    }
}

/// A decimal without leading zeros (or "0").
fn canonical_decimal(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) && (s == "0" || !s.starts_with('0'))
}

/// Parse a tile or entry bundle path relative to the log prefix, such as `tile/0/x001/x234/067`
/// or `tile/entries/123.p/5`. Only the canonical spelling is accepted (so each resource has
/// one path): no leading zero groups, no leading zeros in `<L>` and `<W>`.
pub fn parse_tile_path(path: &str) -> Result<TilePath, TileError> {
    let bad = |reason| TileError::BadPath {
        path: path.chars().take(200).collect(),
        reason,
    };
    let rest = path
        .strip_prefix("tile/")
        .ok_or_else(|| bad("expected it to start with tile/"))?;
    let (level, rest) = rest
        .split_once('/')
        .ok_or_else(|| bad("expected tile/<L>/<N> or tile/entries/<N>"))?;
    let level = if level == "entries" {
        None
    } else {
        if !canonical_decimal(level) || level.len() > 2 {
            return Err(bad("the level is not a decimal from 0 to 63"));
        }
        let level: u8 = level
            .parse()
            .map_err(|_| bad("the level is not a decimal from 0 to 63"))?;
        if level > MAX_TILE_LEVEL {
            return Err(bad("the level is not a decimal from 0 to 63"));
        }
        Some(level)
    };
    let mut elements: Vec<&str> = rest.split('/').collect();
    let mut width = FULL_WIDTH;
    if elements.len() >= 2
        && let Some(last_n) = elements[elements.len() - 2].strip_suffix(".p")
    {
        let w = elements[elements.len() - 1];
        if !canonical_decimal(w) || w.len() > 3 {
            return Err(bad("the partial width is not a decimal from 1 to 255"));
        }
        width = w
            .parse()
            .map_err(|_| bad("the partial width is not a decimal from 1 to 255"))?;
        if width == 0 || width >= FULL_WIDTH {
            return Err(bad("the partial width is not a decimal from 1 to 255"));
        }
        elements.pop();
        let at = elements.len() - 1;
        elements[at] = last_n;
    }
    let count = elements.len();
    let mut index: u64 = 0;
    for (i, element) in elements.iter().enumerate() {
        let digits = if i + 1 < count {
            element
                .strip_prefix('x')
                .ok_or_else(|| bad("every index element but the last must start with x"))?
        } else {
            element
        };
        if digits.len() != 3 || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err(bad("index elements must be three decimal digits"));
        }
        let value: u64 = digits
            .parse()
            .map_err(|_| bad("index elements must be three decimal digits"))?;
        index = index
            .checked_mul(1000)
            .and_then(|n| n.checked_add(value))
            .ok_or_else(|| bad("the index does not fit in 64 bits"))?;
    }
    let tile = Tile::new(level.unwrap_or(0), index, width)?;
    let parsed = match level {
        Some(_) => TilePath::Hashes(tile),
        None => TilePath::Entries(tile),
    };
    if parsed.path() != path {
        return Err(bad(
            "not the canonical spelling (leading zero index elements)",
        ));
    }
    Ok(parsed)
}

fn check_tree_size(size: u64) -> Result<(), TileError> {
    if size > MAX_TREE_SIZE {
        Err(TileError::TooLarge {
            size,
            max: MAX_TREE_SIZE,
        })
    } else {
        Ok(())
    }
}

/// The tiles that change when the tree grows from `old` to `new` leaves: every tile (full or
/// partial) of the tree of size `new` that the tree of size `old` does not have, lowest level
/// first. These are what a log writes after integrating a batch.
pub fn new_tiles(old: u64, new: u64) -> Result<Vec<Tile>, TileError> {
    check_tree_size(new)?;
    if old > new {
        return Err(TileError::SizeOrder { old, new });
    }
    let mut tiles = Vec::new();
    let full = u64::from(FULL_WIDTH);
    for level in 0..=MAX_TILE_LEVEL {
        let shift = u32::from(level) * TILE_HEIGHT;
        let new_entries = new.checked_shr(shift).unwrap_or(0);
        if new_entries == 0 {
            break;
        }
        let old_entries = old.checked_shr(shift).unwrap_or(0);
        if old_entries == new_entries {
            continue;
        }
        for index in old_entries / full..new_entries / full {
            tiles.push(Tile {
                level,
                index,
                width: FULL_WIDTH,
            });
        }
        let width = (new_entries % full) as u16;
        if width > 0 {
            tiles.push(Tile {
                level,
                index: new_entries / full,
                width,
            });
        }
    }
    Ok(tiles)
}

/// Every tile of a tree of `size` leaves (its full tiles and its partial tiles).
pub fn tiles_for_size(size: u64) -> Result<Vec<Tile>, TileError> {
    new_tiles(0, size)
}

/// Where a stored hash lives in the tiles of a tree: the tile, and the run of `count` tile
/// hashes starting at `start` whose subtree hash it is (`count` is 1 for hashes of level
/// `8L`, else a power of two up to 128).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TileSpan {
    /// The tile (full, or the tree's partial tile at that level).
    pub tile: Tile,
    /// First tile hash.
    pub start: u16,
    /// Number of tile hashes.
    pub count: u16,
}

/// The tile of a tree of `size` from which the stored hash `index` is computed.
pub fn tile_for_stored_index(size: u64, index: StoredIndex) -> Result<TileSpan, TileError> {
    check_tree_size(size)?;
    let (level, n) = index.split();
    let not_in_tree = || TileError::NotInTree {
        index: index.get(),
        level,
        n,
        size,
    };
    // The subtree covers leaves n * 2^level .. (n + 1) * 2^level.
    let end = (n + 1)
        .checked_shl(level)
        .filter(|end| end >> level == n + 1)
        .ok_or_else(not_in_tree)?;
    if end > size {
        return Err(not_in_tree());
    }
    let tile_level = level / TILE_HEIGHT;
    let sub = level % TILE_HEIGHT;
    let first = n << sub; // first tile-level hash the subtree covers
    let full = u64::from(FULL_WIDTH);
    let tile_index = first / full;
    let entries = size >> (tile_level * TILE_HEIGHT);
    let width = if (tile_index + 1) * full <= entries {
        FULL_WIDTH
    } else {
        (entries - tile_index * full) as u16
    };
    Ok(TileSpan {
        tile: Tile::new(tile_level as u8, tile_index, width)?,
        start: (first % full) as u16,
        count: 1 << sub,
    })
}

fn check_data(tile: &Tile, data: &[u8]) -> Result<(), TileError> {
    if data.len() != tile.data_len() {
        return Err(TileError::DataLength {
            path: tile.path(),
            expected: tile.data_len(),
            found: data.len(),
        });
    }
    Ok(())
}

/// The hash of a [`TileSpan`] from the tile's data.
pub fn hash_from_tile(span: &TileSpan, data: &[u8]) -> Result<Hash, TileError> {
    check_data(&span.tile, data)?;
    let start = usize::from(span.start);
    let count = usize::from(span.count);
    let mut level: Vec<Hash> = data
        .chunks_exact(HASH_SIZE)
        .skip(start)
        .take(count)
        .map(Hash::from_slice)
        .collect::<Result<_, _>>()
        .map_err(|_| TileError::DataLength {
            path: span.tile.path(),
            expected: span.tile.data_len(),
            found: data.len(),
        })?;
    if level.len() != count || !count.is_power_of_two() {
        return Err(TileError::DataLength {
            path: span.tile.path(),
            expected: (start + count) * HASH_SIZE,
            found: data.len(),
        });
    }
    while level.len() > 1 {
        level = level
            .chunks_exact(2)
            .map(|pair| node_hash(&pair[0], &pair[1]))
            .collect();
    }
    Ok(level[0])
}

/// Tile data (concatenated hashes) from the hashes at [`Tile::hash_indexes`].
pub fn tile_data_from_hashes(tile: &Tile, hashes: &[Hash]) -> Result<Vec<u8>, TileError> {
    if hashes.len() != usize::from(tile.width) {
        return Err(TileError::DataLength {
            path: tile.path(),
            expected: tile.data_len(),
            found: hashes.len() * HASH_SIZE,
        });
    }
    Ok(hashes.iter().flat_map(|h| h.0).collect())
}

/// Read a tile's data from stored hashes (what a log does to publish a tile).
pub fn read_tile_data<R: HashReader + ?Sized>(
    tile: &Tile,
    reader: &R,
) -> Result<Vec<u8>, TreeError> {
    let indexes = tile
        .hash_indexes()
        .map_err(|e| TreeError::Read(Box::new(e)))?;
    let hashes = reader
        .read_hashes(&indexes)
        .map_err(|e| TreeError::Read(Box::new(e)))?;
    tile_data_from_hashes(tile, &hashes).map_err(|_| TreeError::HashCount {
        expected: indexes.len(),
        found: hashes.len(),
    })
}

/// Reads tiles. Implemented over storage (a log server) or HTTP (a client).
pub trait TileReader {
    /// The reader's error.
    type Error: std::error::Error + Send + Sync + 'static;

    /// The data of each tile, in order: `32 * width` bytes each.
    fn read_tiles(&self, tiles: &[Tile]) -> Result<Vec<Vec<u8>>, Self::Error>;
}

impl<R: TileReader + ?Sized> TileReader for &R {
    type Error = R::Error;
    fn read_tiles(&self, tiles: &[Tile]) -> Result<Vec<Vec<u8>>, Self::Error> {
        (**self).read_tiles(tiles)
    }
}

/// A [`TileHashReader`] read failed.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum TileReadError<E: std::error::Error + 'static> {
    /// The tile reader failed.
    #[error("reading tiles failed")]
    Read(#[source] E),
    /// A stored hash is not in the tree, or a tile has the wrong size.
    #[error(transparent)]
    Tile(#[from] TileError),
    /// The tile reader returned the wrong number of tiles.
    #[error("expected {expected} tiles from the tile reader, found {found}")]
    TileCount {
        /// Tiles asked for.
        expected: usize,
        /// Tiles returned.
        found: usize,
    },
}

/// A [`HashReader`] over the tiles of a tree of a given size: every stored hash is computed
/// from one tile, and each call reads every tile it needs in one [`TileReader::read_tiles`].
///
/// The tiles are trusted as they are read. A client checks what it computes from them against
/// a verified checkpoint (a proof built from wrong tiles does not verify).
#[derive(Debug, Clone)]
pub struct TileHashReader<R> {
    size: u64,
    reader: R,
}

impl<R: TileReader> TileHashReader<R> {
    /// Read hashes of the tree of `size` leaves through `reader`.
    pub fn new(size: u64, reader: R) -> Self {
        Self { size, reader }
    }

    /// The tree size.
    pub fn size(&self) -> u64 {
        self.size
    }
}

impl<R: TileReader> HashReader for TileHashReader<R> {
    type Error = TileReadError<R::Error>;

    fn read_hashes(&self, indexes: &[StoredIndex]) -> Result<Vec<Hash>, Self::Error> {
        let spans: Vec<TileSpan> = indexes
            .iter()
            .map(|i| tile_for_stored_index(self.size, *i))
            .collect::<Result<_, _>>()?;
        let mut slots: BTreeMap<Tile, usize> = BTreeMap::new();
        for span in &spans {
            let next = slots.len();
            slots.entry(span.tile).or_insert(next);
        }
        let mut tiles = vec![None; slots.len()];
        for (tile, slot) in &slots {
            tiles[*slot] = Some(*tile);
        }
        let tiles: Vec<Tile> = tiles.into_iter().flatten().collect();
        let data = self
            .reader
            .read_tiles(&tiles)
            .map_err(TileReadError::Read)?;
        if data.len() != tiles.len() {
            return Err(TileReadError::TileCount {
                expected: tiles.len(),
                found: data.len(),
            });
        }
        spans
            .iter()
            .map(|span| {
                let slot = slots.get(&span.tile).copied().unwrap_or_default();
                let bytes = data.get(slot).map(Vec::as_slice).unwrap_or_default();
                Ok(hash_from_tile(span, bytes)?)
            })
            .collect()
    }
}

/// Encode an entry bundle: each entry as a big-endian u16 length and its bytes.
pub fn encode_entry_bundle<T: AsRef<[u8]>>(entries: &[T]) -> Result<Vec<u8>, TileError> {
    if entries.len() > usize::from(FULL_WIDTH) {
        return Err(TileError::BadEntryBundle {
            reason: "more than 256 entries",
        });
    }
    let mut out = Vec::new();
    for (index, entry) in entries.iter().enumerate() {
        let entry = entry.as_ref();
        let len = u16::try_from(entry.len()).map_err(|_| TileError::EntryTooLarge {
            index,
            len: entry.len(),
        })?;
        out.extend_from_slice(&len.to_be_bytes());
        out.extend_from_slice(entry);
    }
    Ok(out)
}

/// Split an entry bundle into its entries (at most 256). The caller checks the count against
/// the tile width it asked for.
pub fn parse_entry_bundle(data: &[u8]) -> Result<Vec<&[u8]>, TileError> {
    let mut entries = Vec::new();
    let mut rest = data;
    while !rest.is_empty() {
        if entries.len() == usize::from(FULL_WIDTH) {
            return Err(TileError::BadEntryBundle {
                reason: "more than 256 entries",
            });
        }
        let (len, tail) = rest.split_at_checked(2).ok_or(TileError::BadEntryBundle {
            reason: "truncated length prefix",
        })?;
        let len = usize::from(u16::from_be_bytes([len[0], len[1]]));
        let (entry, tail) = tail
            .split_at_checked(len)
            .ok_or(TileError::BadEntryBundle {
                reason: "an entry is shorter than its length prefix",
            })?;
        entries.push(entry);
        rest = tail;
    }
    Ok(entries)
}
