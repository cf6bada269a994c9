//! The measuring process's one clock.
//!
//! Every instant the driver records comes from one monotonic clock, anchored once to the wall
//! clock when the run starts, so instants are Unix nanoseconds that never jump (an NTP step
//! during a run does not bend durations) and are comparable with the worker's own wall clock
//! on the same host.

use std::time::{Instant, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

/// Monotonic time expressed as Unix nanoseconds.
#[derive(Debug, Clone, Copy)]
pub struct DriverClock {
    anchor_instant: Instant,
    anchor_unix_ns: u64,
}

impl DriverClock {
    /// Anchors the clock now.
    pub fn start() -> Self {
        let anchor_instant = Instant::now();
        let anchor_unix_ns = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
            .unwrap_or(0);
        DriverClock {
            anchor_instant,
            anchor_unix_ns,
        }
    }

    /// Now, as Unix nanoseconds on the driver's monotonic clock.
    #[inline]
    pub fn now_ns(&self) -> u64 {
        let since = u64::try_from(self.anchor_instant.elapsed().as_nanos()).unwrap_or(u64::MAX);
        self.anchor_unix_ns.saturating_add(since)
    }

    /// What run metadata records about the clock.
    pub fn info(&self) -> ClockInfo {
        let wall_now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_nanos() as i128)
            .unwrap_or(0);
        ClockInfo {
            source: "monotonic (CLOCK_MONOTONIC via std::time::Instant), anchored to the wall clock at run start".to_owned(),
            anchor_unix_ns: self.anchor_unix_ns,
            wall_minus_driver_ns: wall_now - i128::from(self.now_ns()),
        }
    }
}

/// Clock information stored in `run.json`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ClockInfo {
    /// How driver instants are taken.
    pub source: String,
    /// Wall clock at the anchor [ns since the Unix epoch].
    pub anchor_unix_ns: u64,
    /// Wall clock minus driver clock when this was written [ns]: the drift over the run.
    pub wall_minus_driver_ns: i128,
}
