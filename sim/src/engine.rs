//! The event queue: simulated time in integer nanoseconds, ties broken by insertion order.

use std::cmp::Ordering;
use std::collections::{BinaryHeap, HashSet};

/// Simulated time [ns since the start of the run]. Integer, so every run is bit-for-bit
/// reproducible and two events at the same instant are ordered by their sequence number.
pub type SimTime = u64;

/// Nanoseconds per second.
pub(crate) const NS_PER_S: f64 = 1e9;

/// Converts seconds to simulated time, rounding to the nearest nanosecond (negative → 0).
#[inline]
pub fn from_secs(s: f64) -> SimTime {
    if s <= 0.0 {
        0
    } else {
        (s * NS_PER_S).round() as SimTime
    }
}

/// Converts simulated time to seconds.
#[inline]
pub fn to_secs(t: SimTime) -> f64 {
    t as f64 / NS_PER_S
}

/// Identifies one scheduled event, to cancel it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct EventId(u64);

struct Entry<E> {
    time: SimTime,
    seq: u64,
    event: E,
}

impl<E> PartialEq for Entry<E> {
    fn eq(&self, other: &Self) -> bool {
        self.time == other.time && self.seq == other.seq
    }
}
impl<E> Eq for Entry<E> {}
impl<E> PartialOrd for Entry<E> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl<E> Ord for Entry<E> {
    // BinaryHeap is a max-heap: the earliest (time, seq) must compare greatest.
    fn cmp(&self, other: &Self) -> Ordering {
        other.time.cmp(&self.time).then(other.seq.cmp(&self.seq))
    }
}

/// A deterministic event queue. Events come out ordered by time, then by the order in which
/// they were scheduled; cancelled events never come out.
pub struct Engine<E> {
    now: SimTime,
    seq: u64,
    heap: BinaryHeap<Entry<E>>,
    cancelled: HashSet<u64>,
    processed: u64,
}

impl<E> Default for Engine<E> {
    fn default() -> Self {
        Engine {
            now: 0,
            seq: 0,
            heap: BinaryHeap::new(),
            cancelled: HashSet::new(),
            processed: 0,
        }
    }
}

impl<E> Engine<E> {
    /// An empty queue at time 0.
    pub fn new() -> Self {
        Self::default()
    }

    /// The time of the event being processed.
    #[inline]
    pub fn now(&self) -> SimTime {
        self.now
    }

    /// Events handed out so far (cancelled ones not counted).
    pub fn processed(&self) -> u64 {
        self.processed
    }

    /// Events waiting (cancelled ones included until they reach the head).
    pub fn pending(&self) -> usize {
        self.heap.len()
    }

    /// Schedules `event` at absolute time `at` (never before now).
    #[inline]
    pub fn schedule(&mut self, at: SimTime, event: E) -> EventId {
        let seq = self.seq;
        self.seq += 1;
        self.heap.push(Entry {
            time: at.max(self.now),
            seq,
            event,
        });
        EventId(seq)
    }

    /// Schedules `event` `delay` after now.
    #[inline]
    pub fn schedule_in(&mut self, delay: SimTime, event: E) -> EventId {
        self.schedule(self.now.saturating_add(delay), event)
    }

    /// Cancels a scheduled event; cancelling one already handed out does nothing.
    pub fn cancel(&mut self, id: EventId) {
        if id.0 < self.seq {
            self.cancelled.insert(id.0);
        }
    }

    /// Takes the next event and advances time to it.
    #[inline]
    pub fn next_event(&mut self) -> Option<(SimTime, E)> {
        while let Some(entry) = self.heap.pop() {
            if !self.cancelled.is_empty() && self.cancelled.remove(&entry.seq) {
                continue;
            }
            self.now = entry.time;
            self.processed += 1;
            return Some((entry.time, entry.event));
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An id not handed out yet cancels nothing, not the event that later gets it; a
    /// cancelled event never comes out, the others do.
    #[test]
    fn cancelling_cancels_only_an_issued_event() {
        let mut e = Engine::new();
        e.cancel(EventId(0));
        let a = e.schedule(1, "a");
        assert_eq!(a, EventId(0));
        let b = e.schedule(2, "b");
        e.schedule(3, "c");
        e.cancel(b);
        assert_eq!(e.next_event(), Some((1, "a")));
        assert_eq!(e.next_event(), Some((3, "c")));
        assert_eq!(e.next_event(), None);
        assert_eq!(e.processed(), 2);
    }

    /// Entries are equal exactly when time and sequence are (the event is not compared).
    #[test]
    fn entries_are_equal_by_time_and_sequence() {
        let entry = |time, seq, event| Entry { time, seq, event };
        assert!(entry(1, 2, "x") == entry(1, 2, "y"));
        assert!(entry(1, 2, "x") != entry(1, 3, "x"));
        assert!(entry(1, 2, "x") != entry(2, 2, "x"));
    }

    #[test]
    fn orders_by_time_then_insertion() {
        let mut e = Engine::new();
        e.schedule(5, "b");
        e.schedule(3, "a");
        e.schedule(5, "c");
        let x = e.schedule(4, "cancelled");
        e.cancel(x);
        let order: Vec<_> = std::iter::from_fn(|| e.next_event()).collect();
        assert_eq!(order, vec![(3, "a"), (5, "b"), (5, "c")]);
        assert_eq!(e.processed(), 3);
    }

    #[test]
    fn never_goes_back_in_time() {
        let mut e = Engine::new();
        e.schedule(10, 1);
        assert_eq!(e.next_event(), Some((10, 1)));
        e.schedule(2, 2);
        assert_eq!(e.next_event(), Some((10, 2)));
    }

    #[test]
    fn seconds_round_trip() {
        assert_eq!(from_secs(1.5), 1_500_000_000);
        assert_eq!(from_secs(-1.0), 0);
        assert!((to_secs(from_secs(3.87)) - 3.87).abs() < 1e-12);
    }
}
