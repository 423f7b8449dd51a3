//! One verification per key at a time: requests for an image that is being verified wait for
//! that verification instead of starting their own, and a verification nobody waits for any
//! more is dropped (its registry requests with it).

use futures::FutureExt as _;
use futures::future::{BoxFuture, Shared, WeakShared};
use std::collections::HashMap;
use std::hash::Hash;
use std::sync::Mutex;

/// A verification's result as its waiters see it.
pub(crate) type Flight<T> = Shared<BoxFuture<'static, T>>;

/// The verifications under way, by key.
pub(crate) struct Flights<K, T: Clone> {
    map: Mutex<HashMap<K, WeakShared<BoxFuture<'static, T>>>>,
}

impl<K: Eq + Hash + Clone, T: Clone> Flights<K, T> {
    pub(crate) fn new() -> Self {
        Self {
            map: Mutex::new(HashMap::new()),
        }
    }

    /// The verification under way for `key`, or a new one made by `start`; `true` when this
    /// call started it. Only waiters hold a verification: once the last of them is dropped,
    /// so is the verification.
    pub(crate) fn join_or_start(
        &self,
        key: &K,
        start: impl FnOnce() -> BoxFuture<'static, T>,
    ) -> (Flight<T>, bool) {
        let mut map = self
            .map
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(running) = map.get(key).and_then(WeakShared::upgrade) {
            return (running, false);
        }
        if map.len() >= 4096 {
            map.retain(|_, w| w.upgrade().is_some());
        }
        let flight = start().shared();
        if let Some(weak) = flight.downgrade() {
            map.insert(key.clone(), weak);
        }
        (flight, true)
    }

    /// `key` is finished (its result is cached): the next request starts afresh.
    pub(crate) fn finish(&self, key: &K) {
        self.map
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .remove(key);
    }
}
