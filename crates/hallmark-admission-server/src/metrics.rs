//! The webhook's metrics in the Prometheus text exposition format (version 0.0.4).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Upper bounds (seconds) of the latency histogram's buckets.
const BUCKETS: [f64; 16] = [
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
    5.0, 10.0,
];

/// The results of an image decision.
const RESULTS: [&str; 4] = ["allow", "warn", "deny", "error"];

/// The endpoints whose latency is measured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Endpoint {
    Validate,
    Mutate,
    Gatekeeper,
}

impl Endpoint {
    const ALL: [Endpoint; 3] = [Endpoint::Validate, Endpoint::Mutate, Endpoint::Gatekeeper];

    pub(crate) fn label(self) -> &'static str {
        match self {
            Endpoint::Validate => "validate",
            Endpoint::Mutate => "mutate",
            Endpoint::Gatekeeper => "gatekeeper",
        }
    }
}

#[derive(Debug, Default)]
struct Histogram {
    buckets: [AtomicU64; BUCKETS.len()],
    count: AtomicU64,
    /// Microseconds.
    sum: AtomicU64,
}

/// Counters a scrape reads.
#[derive(Debug, Default)]
pub(crate) struct Metrics {
    /// Rule (empty: the policy's default) → image decisions by endpoint and result.
    decisions: Mutex<BTreeMap<String, [u64; 12]>>,
    pub(crate) timeouts: AtomicU64,
    pub(crate) bad_requests: AtomicU64,
    latency: [Histogram; 3],
}

impl Metrics {
    /// One image decided: `result` is `allow`, `deny`, `warn` (allowed with findings) or
    /// `error` (no decision).
    pub(crate) fn decision(&self, endpoint: Endpoint, result: &'static str, rule: Option<&str>) {
        let Some(r) = RESULTS.iter().position(|x| *x == result) else {
            return;
        };
        let i = endpoint as usize * RESULTS.len() + r;
        let rule = rule.unwrap_or("");
        let mut d = self
            .decisions
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        match d.get_mut(rule) {
            Some(counts) => counts[i] += 1,
            None => {
                let mut counts = [0; 12];
                counts[i] = 1;
                d.insert(rule.to_owned(), counts);
            }
        }
    }

    /// One request to `endpoint` answered after `took`.
    pub(crate) fn observe(&self, endpoint: Endpoint, took: Duration) {
        let h = &self.latency[endpoint as usize];
        let secs = took.as_secs_f64();
        for (i, bound) in BUCKETS.iter().enumerate() {
            if secs <= *bound {
                h.buckets[i].fetch_add(1, Ordering::Relaxed);
            }
        }
        h.count.fetch_add(1, Ordering::Relaxed);
        h.sum.fetch_add(
            u64::try_from(took.as_micros()).unwrap_or(u64::MAX),
            Ordering::Relaxed,
        );
    }

    /// The text exposition, with the registry client's counts and the caches' sizes.
    pub(crate) fn render(&self, decider: &hallmark_verify::Decider) -> String {
        let registry = decider.registry_stats();
        let (verdicts_cached, tags_cached) = decider.cache_entries();
        let c = decider.counters();
        let mut out = String::with_capacity(4096);
        let load = |a: &AtomicU64| a.load(Ordering::Relaxed);
        out.push_str(
            "# HELP hallmark_admission_decisions_total Image decisions by endpoint, result (allow, warn, deny, error) and rule.\n\
             # TYPE hallmark_admission_decisions_total counter\n",
        );
        {
            let d = self
                .decisions
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            for endpoint in Endpoint::ALL {
                for (r, result) in RESULTS.iter().enumerate() {
                    for (rule, counts) in d.iter() {
                        let n = counts[endpoint as usize * RESULTS.len() + r];
                        if n > 0 {
                            let _ = writeln!(
                                out,
                                "hallmark_admission_decisions_total{{endpoint=\"{}\",result=\"{result}\",rule=\"{}\"}} {n}",
                                endpoint.label(),
                                escape(rule)
                            );
                        }
                    }
                }
            }
        }
        let counter = |out: &mut String, name: &str, help: &str, rows: &[(&str, u64)]| {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} counter");
            for (labels, v) in rows {
                if labels.is_empty() {
                    let _ = writeln!(out, "{name} {v}");
                } else {
                    let _ = writeln!(out, "{name}{{{labels}}} {v}");
                }
            }
        };
        counter(
            &mut out,
            "hallmark_admission_cache_hits_total",
            "Cache lookups answered from the cache.",
            &[
                ("cache=\"verdict\"", load(&c.verdict_hits)),
                ("cache=\"tag\"", load(&c.tag_hits)),
            ],
        );
        counter(
            &mut out,
            "hallmark_admission_cache_misses_total",
            "Cache lookups that had to ask the registry.",
            &[
                ("cache=\"verdict\"", load(&c.verdict_misses)),
                ("cache=\"tag\"", load(&c.tag_misses)),
            ],
        );
        counter(
            &mut out,
            "hallmark_admission_verifications_total",
            "Verifications started (one per image and policy, shared by concurrent requests).",
            &[("", load(&c.verifications))],
        );
        counter(
            &mut out,
            "hallmark_admission_verifications_joined_total",
            "Requests that waited for a verification another request started.",
            &[("", load(&c.verifications_joined))],
        );
        counter(
            &mut out,
            "hallmark_admission_verifications_abandoned_total",
            "Verifications stopped because every request waiting for them had gone.",
            &[("", load(&c.verifications_abandoned))],
        );
        counter(
            &mut out,
            "hallmark_admission_decision_timeouts_total",
            "Images not decided within the decision timeout.",
            &[("", load(&self.timeouts))],
        );
        counter(
            &mut out,
            "hallmark_admission_registry_requests_total",
            "HTTP requests sent to registries, retries included.",
            &[("", registry.requests)],
        );
        counter(
            &mut out,
            "hallmark_admission_registry_errors_total",
            "Registry requests without an answer or answered 429/5xx.",
            &[("", registry.failures)],
        );
        counter(
            &mut out,
            "hallmark_admission_policy_reloads_total",
            "Policy loads after the first, by result.",
            &[
                ("result=\"ok\"", load(&c.reloads_ok)),
                ("result=\"failed\"", load(&c.reloads_failed)),
            ],
        );
        counter(
            &mut out,
            "hallmark_admission_bad_requests_total",
            "Requests answered 4xx (not an AdmissionReview or ProviderRequest).",
            &[("", load(&self.bad_requests))],
        );
        let _ = writeln!(
            out,
            "# HELP hallmark_admission_cache_entries Entries held by each cache.\n\
             # TYPE hallmark_admission_cache_entries gauge\n\
             hallmark_admission_cache_entries{{cache=\"verdict\"}} {verdicts_cached}\n\
             hallmark_admission_cache_entries{{cache=\"tag\"}} {tags_cached}"
        );
        out.push_str(
            "# HELP hallmark_admission_request_duration_seconds Time to answer a request.\n\
             # TYPE hallmark_admission_request_duration_seconds histogram\n",
        );
        for endpoint in Endpoint::ALL {
            let h = &self.latency[endpoint as usize];
            let label = endpoint.label();
            for (i, bound) in BUCKETS.iter().enumerate() {
                let _ = writeln!(
                    out,
                    "hallmark_admission_request_duration_seconds_bucket{{endpoint=\"{label}\",le=\"{bound}\"}} {}",
                    load(&h.buckets[i])
                );
            }
            let count = load(&h.count);
            #[allow(clippy::cast_precision_loss)]
            let sum = load(&h.sum) as f64 / 1e6;
            let _ = writeln!(
                out,
                "hallmark_admission_request_duration_seconds_bucket{{endpoint=\"{label}\",le=\"+Inf\"}} {count}\n\
                 hallmark_admission_request_duration_seconds_sum{{endpoint=\"{label}\"}} {sum}\n\
                 hallmark_admission_request_duration_seconds_count{{endpoint=\"{label}\"}} {count}"
            );
        }
        out
    }
}

/// A label value escaped as the exposition format wants.
fn escape(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}
