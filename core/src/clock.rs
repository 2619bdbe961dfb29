//! Time: a wall clock that tests can replace, and the hybrid logical clock messages are
//! ordered by.
//!
//! A hybrid logical clock (HLC) value is `wall milliseconds << 16 | counter`. It never goes
//! backwards on one device even if the wall clock does, and it moves past every timestamp the
//! device has seen, so a reply always sorts after the message it answers.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// Source of wall-clock milliseconds since the Unix epoch.
pub trait WallClock: Send + Sync + 'static {
    fn now_ms(&self) -> u64;
}

/// The system clock.
pub struct SystemClock;

impl WallClock for SystemClock {
    fn now_ms(&self) -> u64 {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis() as u64)
            .unwrap_or(0)
    }
}

/// A clock tests set by hand.
#[derive(Default)]
pub struct ManualClock(pub AtomicU64);

impl WallClock for ManualClock {
    fn now_ms(&self) -> u64 {
        self.0.load(Ordering::SeqCst)
    }
}

/// Hybrid logical clock.
pub struct Hlc {
    wall: Arc<dyn WallClock>,
    last: u64,
}

const COUNTER_BITS: u32 = 16;

impl Hlc {
    pub fn new(wall: Arc<dyn WallClock>) -> Self {
        Self { wall, last: 0 }
    }

    /// A new timestamp, greater than every one issued or observed before.
    pub fn now(&mut self) -> u64 {
        let physical = self.wall.now_ms() << COUNTER_BITS;
        self.last = physical.max(self.last + 1);
        self.last
    }

    /// Records a timestamp seen from another device.
    pub fn observe(&mut self, remote: u64) {
        // A remote clock far in the future (more than a day) is not trusted to drag ours along.
        let limit = (self.wall.now_ms() + 86_400_000) << COUNTER_BITS;
        if remote <= limit {
            self.last = self.last.max(remote);
        }
    }

    pub fn wall_ms(&self) -> u64 {
        self.wall.now_ms()
    }
}

/// The smallest HLC value at wall milliseconds `ms`.
pub fn hlc_at_millis(ms: u64) -> u64 {
    ms << COUNTER_BITS
}

/// Wall milliseconds of an HLC value.
pub fn hlc_millis(hlc: u64) -> u64 {
    hlc >> COUNTER_BITS
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn never_goes_backwards() {
        let wall = Arc::new(ManualClock(AtomicU64::new(1000)));
        let mut hlc = Hlc::new(wall.clone());
        let a = hlc.now();
        wall.0.store(10, Ordering::SeqCst);
        let b = hlc.now();
        assert!(b > a);
        hlc.observe(a + 100);
        assert!(hlc.now() > a + 100);
        assert_eq!(hlc_millis(a), 1000);
    }
}
