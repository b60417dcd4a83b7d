//! `/metrics`: counters and histograms in the Prometheus text format (version 0.0.4).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Mutex;
use std::time::Duration;

use spektate_core::Deployment;

use crate::api::{State, state};

/// Upper bounds of the latency buckets, in seconds.
const REQUEST_BUCKETS: [f64; 12] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0,
];
/// Upper bounds of the refresh duration buckets, in seconds.
const REFRESH_BUCKETS: [f64; 10] = [0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0];

#[derive(Debug, Clone, Default)]
struct Histogram {
    buckets: Vec<u64>,
    sum: f64,
    count: u64,
}

impl Histogram {
    fn observe(&mut self, bounds: &[f64], seconds: f64) {
        if self.buckets.len() != bounds.len() {
            self.buckets = vec![0; bounds.len()];
        }
        for (n, bound) in self.buckets.iter_mut().zip(bounds) {
            if seconds <= *bound {
                *n += 1;
            }
        }
        self.sum += seconds;
        self.count += 1;
    }

    fn write(&self, out: &mut String, name: &str, labels: &str, bounds: &[f64]) {
        let sep = if labels.is_empty() { "" } else { "," };
        for (i, bound) in bounds.iter().enumerate() {
            let n = self.buckets.get(i).copied().unwrap_or(0);
            let _ = writeln!(out, "{name}_bucket{{{labels}{sep}le=\"{bound}\"}} {n}");
        }
        let _ = writeln!(
            out,
            "{name}_bucket{{{labels}{sep}le=\"+Inf\"}} {}",
            self.count
        );
        let braces = if labels.is_empty() {
            String::new()
        } else {
            format!("{{{labels}}}")
        };
        let _ = writeln!(out, "{name}_sum{braces} {}", self.sum);
        let _ = writeln!(out, "{name}_count{braces} {}", self.count);
    }
}

#[derive(Default)]
struct Counters {
    refresh: Histogram,
    refresh_failures: u64,
    records_read: u64,
    runs_requested: u64,
    written: BTreeMap<&'static str, u64>,
    refused: BTreeMap<(&'static str, u16), u64>,
    requests: BTreeMap<(String, String, u16), u64>,
    latency: BTreeMap<(String, String), Histogram>,
}

/// What the server counts.
#[derive(Default)]
pub struct Metrics {
    counters: Mutex<Counters>,
}

/// A label value with `\`, `"` and line feeds escaped.
fn label(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

impl Metrics {
    fn lock(&self) -> std::sync::MutexGuard<'_, Counters> {
        self.counters.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A refresh ended after `took`; `stats` when it worked.
    pub(crate) fn refreshed(&self, took: Duration, stats: Option<&spektate_core::RefreshStats>) {
        let mut c = self.lock();
        c.refresh.observe(&REFRESH_BUCKETS, took.as_secs_f64());
        match stats {
            Some(s) => {
                c.records_read += s.records_read as u64;
                c.runs_requested += s.runs_requested as u64;
            }
            None => c.refresh_failures += 1,
        }
    }

    /// A record of `kind` was written.
    pub(crate) fn written(&self, kind: &'static str) {
        *self.lock().written.entry(kind).or_default() += 1;
    }

    /// A write of `kind` was refused or failed with `status`.
    pub(crate) fn refused(&self, kind: &'static str, status: u16) {
        *self.lock().refused.entry((kind, status)).or_default() += 1;
    }

    /// A request to `route` (the router's pattern, not the path asked for) was answered.
    pub(crate) fn request(&self, method: &str, route: &str, status: u16, took: Duration) {
        let mut c = self.lock();
        *c.requests
            .entry((method.to_string(), route.to_string(), status))
            .or_default() += 1;
        c.latency
            .entry((method.to_string(), route.to_string()))
            .or_default()
            .observe(&REQUEST_BUCKETS, took.as_secs_f64());
    }

    /// The text of `/metrics`, with the deployments of each partition's last refresh by
    /// state and the lookups that failed by provider.
    pub(crate) fn render(
        &self,
        partitions: &[(&str, &[Deployment])],
        idempotency_keys: usize,
    ) -> String {
        // The gauges walk every deployment: worked out before the counters are locked, so
        // no request's count waits on them.
        let gauges = partition_gauges(partitions);
        let c = self.lock();
        let mut out = String::with_capacity(4096 + gauges.len());
        head(
            &mut out,
            "spektate_refresh_duration_seconds",
            "histogram",
            "How long refreshing the deployments took.",
        );
        c.refresh.write(
            &mut out,
            "spektate_refresh_duration_seconds",
            "",
            &REFRESH_BUCKETS,
        );
        head(
            &mut out,
            "spektate_refresh_failures_total",
            "counter",
            "Refreshes that failed.",
        );
        let _ = writeln!(
            out,
            "spektate_refresh_failures_total {}",
            c.refresh_failures
        );
        head(
            &mut out,
            "spektate_refresh_records_read_total",
            "counter",
            "Records the refreshes read from the store.",
        );
        let _ = writeln!(
            out,
            "spektate_refresh_records_read_total {}",
            c.records_read
        );
        head(
            &mut out,
            "spektate_refresh_runs_requested_total",
            "counter",
            "Run ids the refreshes asked the CI providers for.",
        );
        let _ = writeln!(
            out,
            "spektate_refresh_runs_requested_total {}",
            c.runs_requested
        );

        head(
            &mut out,
            "spektate_records_written_total",
            "counter",
            "Records written through the write API, by kind.",
        );
        for kind in spektate_core::ingest::Kind::ALL.map(|k| k.name()) {
            let n = c.written.get(kind).copied().unwrap_or(0);
            let _ = writeln!(out, "spektate_records_written_total{{kind=\"{kind}\"}} {n}");
        }
        head(
            &mut out,
            "spektate_records_refused_total",
            "counter",
            "Writes refused or failed, by kind and HTTP status.",
        );
        for ((kind, status), n) in &c.refused {
            let _ = writeln!(
                out,
                "spektate_records_refused_total{{kind=\"{kind}\",status=\"{status}\"}} {n}"
            );
        }
        head(
            &mut out,
            "spektate_idempotency_keys",
            "gauge",
            "Idempotency keys kept in memory.",
        );
        let _ = writeln!(out, "spektate_idempotency_keys {idempotency_keys}");

        out.push_str(&gauges);

        head(
            &mut out,
            "spektate_provider_requests_total",
            "counter",
            "Requests to providers (CI, repositories, sync sources), retries included, by provider and status (error: no answer).",
        );
        for c in spektate_core::request_counts::request_counts() {
            let _ = writeln!(
                out,
                "spektate_provider_requests_total{{provider=\"{}\",status=\"{}\"}} {}",
                label(&c.provider),
                label(&c.status),
                c.count
            );
        }
        head(
            &mut out,
            "spektate_http_requests_total",
            "counter",
            "HTTP requests answered, by method, route and status.",
        );
        for ((method, route, status), n) in &c.requests {
            let _ = writeln!(
                out,
                "spektate_http_requests_total{{method=\"{}\",route=\"{}\",status=\"{status}\"}} {n}",
                label(method),
                label(route)
            );
        }
        head(
            &mut out,
            "spektate_http_request_duration_seconds",
            "histogram",
            "How long answering took, by method and route.",
        );
        for ((method, route), h) in &c.latency {
            let labels = format!("method=\"{}\",route=\"{}\"", label(method), label(route));
            h.write(
                &mut out,
                "spektate_http_request_duration_seconds",
                &labels,
                &REQUEST_BUCKETS,
            );
        }
        out
    }
}

/// The `# HELP` and `# TYPE` lines of a metric.
fn head(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
}

/// The deployments of each partition's last refresh by state, and the lookups that failed
/// by provider.
fn partition_gauges(partitions: &[(&str, &[Deployment])]) -> String {
    let mut out = String::new();
    head(
        &mut out,
        "spektate_deployments",
        "gauge",
        "Deployments of the last refresh, by partition and state.",
    );
    for (partition, deployments) in partitions {
        let mut by_state: BTreeMap<&str, usize> = [
            "inProgress",
            "succeeded",
            "failed",
            "canceled",
            "waitingForApproval",
            "incomplete",
        ]
        .into_iter()
        .map(|s| (s, 0))
        .collect();
        for d in *deployments {
            *by_state.entry(state_name(state(d))).or_default() += 1;
        }
        for (s, n) in by_state {
            let _ = writeln!(
                out,
                "spektate_deployments{{partition=\"{}\",state=\"{s}\"}} {n}",
                label(partition)
            );
        }
    }
    head(
        &mut out,
        "spektate_failed_lookups",
        "gauge",
        "Objects a provider failed to answer for in the last refresh, by partition and provider.",
    );
    for (partition, deployments) in partitions {
        let mut by_provider: BTreeMap<String, usize> = BTreeMap::new();
        for s in spektate_core::warnings::summarize(deployments) {
            *by_provider
                .entry(s.reason.provider().to_string())
                .or_default() += s.count;
        }
        for (p, n) in by_provider {
            let _ = writeln!(
                out,
                "spektate_failed_lookups{{partition=\"{}\",provider=\"{}\"}} {n}",
                label(partition),
                label(&p)
            );
        }
    }
    out
}

fn state_name(s: State) -> &'static str {
    match s {
        State::InProgress => "inProgress",
        State::Succeeded => "succeeded",
        State::Failed => "failed",
        State::Canceled => "canceled",
        State::WaitingForApproval => "waitingForApproval",
        State::Incomplete => "incomplete",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_text_format_has_every_family_and_counts_what_happened() {
        let m = Metrics::default();
        m.written("image");
        m.written("image");
        m.refused("sync", 403);
        m.request("POST", "/api/records/image", 200, Duration::from_millis(3));
        m.refreshed(Duration::from_millis(300), None);
        let text = m.render(&[("fabrikam", &[]), ("contoso", &[])], 2);
        for line in [
            "spektate_records_written_total{kind=\"image\"} 2",
            "spektate_records_written_total{kind=\"manifest-commit\"} 0",
            "spektate_records_refused_total{kind=\"sync\",status=\"403\"} 1",
            "spektate_http_requests_total{method=\"POST\",route=\"/api/records/image\",status=\"200\"} 1",
            "spektate_http_request_duration_seconds_bucket{method=\"POST\",route=\"/api/records/image\",le=\"0.005\"} 1",
            "spektate_http_request_duration_seconds_bucket{method=\"POST\",route=\"/api/records/image\",le=\"0.0025\"} 0",
            "spektate_refresh_duration_seconds_bucket{le=\"0.5\"} 1",
            "spektate_refresh_duration_seconds_count 1",
            "spektate_refresh_failures_total 1",
            "spektate_deployments{partition=\"fabrikam\",state=\"succeeded\"} 0",
            "spektate_deployments{partition=\"contoso\",state=\"failed\"} 0",
            "spektate_idempotency_keys 2",
        ] {
            assert!(text.lines().any(|l| l == line), "missing {line}:\n{text}");
        }
        for l in text.lines().filter(|l| !l.starts_with('#')) {
            let (_, value) = l.rsplit_once(' ').unwrap();
            assert!(value.parse::<f64>().is_ok(), "{l}");
        }
    }

    #[tokio::test]
    async fn requests_to_providers_are_counted_by_provider_and_status() {
        use spektate_core::http::{Auth, HttpClient};
        use wiremock::matchers::path;
        use wiremock::{Mock, MockServer, ResponseTemplate};
        let server = MockServer::start().await;
        Mock::given(path("/runs"))
            .respond_with(ResponseTemplate::new(304))
            .mount(&server)
            .await;
        let client = HttpClient::new("metrics-test-ci 127.0.0.1", Auth::None).unwrap();
        let url = format!("{}/runs", server.uri());
        let req = spektate_core::http::Request::get(url, "list runs", "fabrikam").pass(&[304]);
        client.send(req).await.unwrap();
        let text = Metrics::default().render(&[], 0);
        let line = "spektate_provider_requests_total{provider=\"metrics-test-ci 127.0.0.1\",status=\"304\"} 1";
        assert!(text.lines().any(|l| l == line), "missing {line}:\n{text}");
        assert!(text.contains("# TYPE spektate_provider_requests_total counter"));
    }

    /// A lookup a provider failed to answer is counted for its partition and provider.
    #[test]
    fn failed_lookups_are_counted_by_partition_and_provider() {
        use spektate_core::correlate::{Knowledge, Lookup, RepoDefaults, deployment};
        use spektate_core::warnings::Reason;
        let mut record = spektate_core::Record::new("fabrikam");
        record.p1 = Some("4711".into());
        record.p3 = Some("4712".into());
        let mut k = Knowledge::default();
        for id in ["4711", "4712"] {
            let why = Reason::new("azure-devops fabrikam", "HTTP 503");
            k.builds.insert(id.into(), Lookup::Failed(why));
        }
        let now = chrono::Utc::now();
        let d = deployment(
            &std::sync::Arc::new(record),
            &k,
            &RepoDefaults::default(),
            now,
        );
        let text = Metrics::default().render(&[("fabrikam", &[d]), ("contoso", &[])], 0);
        let line =
            "spektate_failed_lookups{partition=\"fabrikam\",provider=\"azure-devops fabrikam\"} 2";
        assert!(text.lines().any(|l| l == line), "missing {line}:\n{text}");
        assert!(
            !text.contains("spektate_failed_lookups{partition=\"contoso\""),
            "{text}"
        );
    }

    #[test]
    fn label_values_are_escaped() {
        assert_eq!(label("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
    }
}
