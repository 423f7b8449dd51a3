//! A bounded map whose entries expire: the verdict cache and the tag cache.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// At most `capacity` entries, each kept until its own expiry. When full, expired entries go
/// first, then the entries closest to expiry.
#[derive(Debug)]
pub(crate) struct TtlCache<K, V> {
    capacity: usize,
    map: Mutex<HashMap<K, (V, Instant)>>,
}

impl<K: Eq + Hash + Clone, V: Clone> TtlCache<K, V> {
    pub(crate) fn new(capacity: usize) -> Self {
        Self {
            capacity: capacity.max(1),
            map: Mutex::new(HashMap::new()),
        }
    }

    /// The live entry for `key`.
    pub(crate) fn get(&self, key: &K) -> Option<V> {
        let map = self
            .map
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        match map.get(key) {
            Some((v, expires)) if *expires > Instant::now() => Some(v.clone()),
            _ => None,
        }
    }

    /// Keep `value` for `ttl` (a zero `ttl` keeps nothing).
    pub(crate) fn insert(&self, key: K, value: V, ttl: Duration) {
        if ttl.is_zero() {
            return;
        }
        let now = Instant::now();
        let mut map = self
            .map
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if map.len() >= self.capacity && !map.contains_key(&key) {
            map.retain(|_, (_, expires)| *expires > now);
            if map.len() >= self.capacity {
                // Drop the eighth of the entries that expire soonest.
                let mut expiries: Vec<Instant> = map.values().map(|(_, e)| *e).collect();
                let cut = (self.capacity / 8).max(1).min(expiries.len() - 1);
                let (_, nth, _) = expiries.select_nth_unstable(cut);
                let nth = *nth;
                map.retain(|_, (_, expires)| *expires > nth);
            }
        }
        map.insert(key, (value, now + ttl));
    }

    /// Forget `key`.
    pub(crate) fn remove(&self, key: &K) {
        self.map
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .remove(key);
    }

    /// Entries held (live or not yet swept).
    pub(crate) fn len(&self) -> usize {
        self.map
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .len()
    }
}
