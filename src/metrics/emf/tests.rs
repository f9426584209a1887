use super::histogram::*;
use super::*;
use ::metrics::HistogramFn;

#[test]
fn buckets_are_exact_below_32_and_within_3_percent_above() {
    for v in 0..32u64 {
        assert_eq!(bucket_value(bucket_of(v)), v as f64);
    }
    let mut last = 0;
    for v in (32u64..5_000_000)
        .step_by(7)
        .chain([u64::MAX / 2, u64::MAX])
    {
        let b = bucket_of(v);
        assert!(b < BUCKETS && b >= last, "{v}");
        last = b;
        let reported = bucket_value(b);
        assert!(
            (reported - v as f64).abs() / (v as f64) <= 1.0 / 32.0,
            "{v} → {reported}"
        );
    }
}

#[test]
fn merging_keeps_count_and_weighted_sum() {
    let mut values: Vec<f64> = (0..250).map(f64::from).collect();
    let mut counts: Vec<u64> = (0..250).map(|i| i % 3 + 1).collect();
    let total: u64 = counts.iter().sum();
    let sum: f64 = values.iter().zip(&counts).map(|(v, c)| v * *c as f64).sum();
    merge_to_limit(&mut values, &mut counts, MAX_VALUES);
    assert!(values.len() <= MAX_VALUES);
    assert_eq!(counts.iter().sum::<u64>(), total);
    let merged: f64 = values.iter().zip(&counts).map(|(v, c)| v * *c as f64).sum();
    assert!((merged - sum).abs() < 1e-6);
}

#[test]
fn bad_values_never_panic() {
    let h = Buckets::default();
    for v in [f64::NAN, f64::INFINITY, -1.0, f64::MAX, 0.0, 1e300] {
        h.record(v);
    }
    let d = h.drain().unwrap();
    assert_eq!(d.count, 6);
    assert!(d.values.iter().all(|v| v.is_finite()));
    assert!(d.max.is_finite() && d.sum.is_finite());
}

#[test]
fn config_reports_every_bad_variable() {
    let env = |pairs: &'static [(&'static str, &'static str)]| {
        move |name: &str| {
            pairs
                .iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| v.to_string())
        }
    };
    let ok = EmfConfig::from_lookup(env(&[("AWS_LAMBDA_FUNCTION_NAME", "auth-fn")])).unwrap();
    assert_eq!(
        (ok.namespace.as_str(), ok.service.as_str()),
        ("JwtAuthorizer", "auth-fn")
    );
    assert_eq!(ok.flush_interval, DEFAULT_FLUSH_INTERVAL);
    let bad = EmfConfig::from_lookup(env(&[
        ("METRICS_NAMESPACE", "AWS/Lambda"),
        ("METRICS_SERVICE", ":x"),
        ("METRICS_FLUSH_INTERVAL_SECONDS", "soon"),
    ]))
    .unwrap_err();
    let named: Vec<_> = bad.iter().map(|e| e.variable).collect();
    assert_eq!(
        named,
        [
            "METRICS_NAMESPACE",
            "METRICS_SERVICE",
            "METRICS_FLUSH_INTERVAL_SECONDS"
        ]
    );
}
