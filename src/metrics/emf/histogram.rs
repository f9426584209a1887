//! A histogram's memory: a fixed array of atomic buckets, log-linear (exact below 32, then 16
//! buckets per power of two: at most 1/32 off), plus exact `Min`, `Max`, `Sum` and `Count`.
//! Recording never allocates, however many values a window holds.

use super::MAX_VALUES;
use ::metrics::HistogramFn;
use std::sync::atomic::{AtomicU64, Ordering};

// Histogram buckets: values below EXACT have their own bucket; above, SUB_BUCKETS per power of two.
pub(super) const EXACT: u64 = 32;
pub(super) const SUB_BITS: u32 = 4;
pub(super) const SUB_BUCKETS: usize = 1 << SUB_BITS;
pub(super) const FIRST_LOG2: u32 = 5; // log2(EXACT)
pub(super) const BUCKETS: usize = EXACT as usize + (64 - FIRST_LOG2 as usize) * SUB_BUCKETS;

#[inline]
pub(super) fn bucket_of(value: u64) -> usize {
    if value < EXACT {
        return value as usize;
    }
    let log2 = 63 - value.leading_zeros();
    let sub = (value >> (log2 - SUB_BITS)) as usize & (SUB_BUCKETS - 1);
    EXACT as usize + (log2 - FIRST_LOG2) as usize * SUB_BUCKETS + sub
}

/// The value reported for a bucket: its midpoint (its value below 32).
pub(super) fn bucket_value(bucket: usize) -> f64 {
    if bucket < EXACT as usize {
        return bucket as f64;
    }
    let i = bucket - EXACT as usize;
    let log2 = (i / SUB_BUCKETS) as u32 + FIRST_LOG2;
    let sub = (i % SUB_BUCKETS) as u64;
    let width = 1u64 << (log2 - SUB_BITS);
    let low = (1u64 << log2) + sub * width;
    low as f64 + (width - 1) as f64 / 2.0
}

/// A histogram's storage: pre-sized atomic buckets and exact min, max and sum.
pub(super) struct Buckets {
    counts: Box<[AtomicU64]>,
    sum: AtomicU64,
    min: AtomicU64,
    max: AtomicU64,
}

pub(super) const NO_MIN: u64 = f64::INFINITY.to_bits();
pub(super) const NO_MAX: u64 = f64::NEG_INFINITY.to_bits();

impl Default for Buckets {
    fn default() -> Self {
        Buckets {
            counts: (0..BUCKETS).map(|_| AtomicU64::new(0)).collect(),
            sum: AtomicU64::new(0f64.to_bits()),
            min: AtomicU64::new(NO_MIN),
            max: AtomicU64::new(NO_MAX),
        }
    }
}

pub(super) fn update_f64(cell: &AtomicU64, f: impl Fn(f64) -> Option<f64>) {
    let _ = cell.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |bits| {
        f(f64::from_bits(bits)).map(f64::to_bits)
    });
}

impl HistogramFn for Buckets {
    fn record(&self, value: f64) {
        // Negative, NaN and infinite values are not durations; CloudWatch rejects NaN and ±inf.
        let value = if value.is_finite() && value > 0.0 {
            value.min(1e15)
        } else {
            0.0
        };
        self.counts[bucket_of(value as u64)].fetch_add(1, Ordering::Relaxed);
        update_f64(&self.sum, |sum| Some(sum + value));
        update_f64(&self.min, |min| (value < min).then_some(value));
        update_f64(&self.max, |max| (value > max).then_some(value));
    }
}

/// What a histogram held since the last flush.
pub(super) struct Drained {
    pub(super) values: Vec<f64>,
    pub(super) counts: Vec<u64>,
    pub(super) count: u64,
    pub(super) sum: f64,
    pub(super) min: f64,
    pub(super) max: f64,
}

impl Buckets {
    pub(super) fn drain(&self) -> Option<Drained> {
        let mut values = Vec::new();
        let mut counts = Vec::new();
        for (bucket, count) in self.counts.iter().enumerate() {
            if count.load(Ordering::Relaxed) == 0 {
                continue;
            }
            let n = count.swap(0, Ordering::Relaxed);
            if n > 0 {
                values.push(bucket_value(bucket));
                counts.push(n);
            }
        }
        let sum = f64::from_bits(self.sum.swap(0f64.to_bits(), Ordering::Relaxed));
        let min = f64::from_bits(self.min.swap(NO_MIN, Ordering::Relaxed));
        let max = f64::from_bits(self.max.swap(NO_MAX, Ordering::Relaxed));
        if values.is_empty() {
            return None;
        }
        merge_to_limit(&mut values, &mut counts, MAX_VALUES);
        // A value recorded while draining may have its bucket here and its min/max not (or the
        // reverse): keep the statistics consistent with the buckets.
        let (min, max) = (
            if min.is_finite() {
                min.min(values[0])
            } else {
                values[0]
            },
            if max.is_finite() {
                max.max(values[values.len() - 1])
            } else {
                values[values.len() - 1]
            },
        );
        Some(Drained {
            count: counts.iter().sum(),
            values,
            counts,
            sum,
            min,
            max,
        })
    }
}

/// Merges neighbouring (value, count) pairs, count-weighted, until at most `limit` remain.
pub(super) fn merge_to_limit(values: &mut Vec<f64>, counts: &mut Vec<u64>, limit: usize) {
    if values.len() <= limit {
        return;
    }
    let group = values.len().div_ceil(limit);
    let (mut merged_values, mut merged_counts) = (Vec::new(), Vec::new());
    for (vs, cs) in values.chunks(group).zip(counts.chunks(group)) {
        let n: u64 = cs.iter().sum();
        let weighted: f64 = vs.iter().zip(cs).map(|(v, c)| v * *c as f64).sum();
        merged_values.push(weighted / n as f64);
        merged_counts.push(n);
    }
    *values = merged_values;
    *counts = merged_counts;
}
