//! /metrics: the board in the OpenMetrics text format that Prometheus scrapes, encoded by
//! prometheus-client, from a fresh [`Status`] at each scrape.
//!
//! Requests, their sizes and their times are totals over every worker (the histograms are
//! server-side times: queue, application, and the two together); what tells workers apart
//! (in flight, busy time, memory) carries a `worker` label, the slot's number.

use std::sync::Arc;

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, NoLabelSet};
use prometheus_client::metrics::MetricType;
use prometheus_client::registry::{Registry, Unit};
use warp_worker_config::scoreboard::{Counts, BUCKETS, CLASSES};

use super::board::{Board, Status};

/// The content type of what [`encode`] writes.
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// A registry with the board as its only collector.
pub fn registry(board: Arc<Board>) -> Registry {
    let mut registry = Registry::with_prefix("warp");
    registry.register_collector(Box::new(BoardCollector(board)));
    registry
}

/// The text a scrape gets.
pub fn encode(registry: &Registry) -> String {
    let mut text = String::new();
    // Writing to a String cannot fail, and the collector's own encoding only fails with it.
    let _ = prometheus_client::encoding::text::encode(&mut text, registry);
    text
}

#[derive(Debug)]
struct BoardCollector(Arc<Board>);

impl Collector for BoardCollector {
    fn encode(&self, mut encoder: DescriptorEncoder<'_>) -> Result<(), std::fmt::Error> {
        write(&self.0.status(), &mut encoder)
    }
}

fn write(status: &Status, encoder: &mut DescriptorEncoder<'_>) -> Result<(), std::fmt::Error> {
    let totals = &status.totals;
    let mut requests = encoder.encode_descriptor(
        "requests",
        "Requests answered, by status class (no response counts as 5xx).",
        None,
        MetricType::Counter,
    )?;
    for (class, count) in CLASSES.iter().zip(totals.requests) {
        requests.encode_family(&[("status", *class)])?.encode_counter::<NoLabelSet, _, u64>(&count, None)?;
    }
    let bytes = Unit::Bytes;
    counter(encoder, "request_body", "Request body bytes the app read.", Some(&bytes), totals.request_bytes)?;
    counter(encoder, "response_body", "Response body bytes sent.", Some(&bytes), totals.response_bytes)?;
    let seconds = Unit::Seconds;
    histogram(encoder, "request_queue", "Time from a request's head arriving whole to a thread taking it.", &totals.queue)?;
    histogram(
        encoder,
        "request_application",
        "Time a thread spent on a request: the app's call and sending its response.",
        &totals.application,
    )?;
    histogram(encoder, "request_duration", "Queue and application time together.", &totals.response)?;

    let mut in_flight = encoder.encode_descriptor("requests_in_flight", "Requests a thread is serving now.", None, MetricType::Gauge)?;
    for worker in &status.workers {
        in_flight.encode_family(&[("worker", worker.worker.to_string())])?.encode_gauge(&(worker.in_flight as u64))?;
    }
    let mut busy = encoder.encode_descriptor(
        "worker_busy",
        "Thread time spent serving requests; its rate over threads_per_worker is the capacity in use.",
        Some(&seconds),
        MetricType::Counter,
    )?;
    for worker in &status.workers {
        busy.encode_family(&[("worker", worker.worker.to_string())])?.encode_counter::<NoLabelSet, _, f64>(&worker.busy_seconds, None)?;
    }
    let mut resident = encoder.encode_descriptor(
        "worker_resident_memory",
        "Resident memory of the worker's processes.",
        Some(&bytes),
        MetricType::Gauge,
    )?;
    for worker in &status.workers {
        resident.encode_family(&[("worker", worker.worker.to_string())])?.encode_gauge(&worker.resident_bytes)?;
    }
    gauge(encoder, "threads_per_worker", "Request threads in each worker.", status.threads_per_worker as u64)?;
    gauge(encoder, "capacity_threads", "Request threads in all workers: how many requests can run at once.", status.capacity as u64)?;
    let mut restarts = encoder.encode_descriptor("worker_restarts", "Workers replaced, by reason.", None, MetricType::Counter)?;
    for (reason, count) in &status.restarts {
        restarts.encode_family(&[("reason", *reason)])?.encode_counter::<NoLabelSet, _, u64>(count, None)?;
    }
    Ok(())
}

fn counter(encoder: &mut DescriptorEncoder<'_>, name: &str, help: &str, unit: Option<&Unit>, value: u64) -> Result<(), std::fmt::Error> {
    encoder.encode_descriptor(name, help, unit, MetricType::Counter)?.encode_counter::<NoLabelSet, _, u64>(&value, None)
}

fn gauge(encoder: &mut DescriptorEncoder<'_>, name: &str, help: &str, value: u64) -> Result<(), std::fmt::Error> {
    encoder.encode_descriptor(name, help, None, MetricType::Gauge)?.encode_gauge(&value)
}

fn histogram(encoder: &mut DescriptorEncoder<'_>, name: &str, help: &str, counts: &Counts) -> Result<(), std::fmt::Error> {
    // Counts per bucket, not cumulative: the encoder adds them up. It writes `+Inf` for the
    // last bound only when that bound is `f64::MAX`.
    let buckets: Vec<(f64, u64)> = BUCKETS.iter().copied().chain([f64::MAX]).zip(counts.buckets).collect();
    encoder.encode_descriptor(name, help, Some(&Unit::Seconds), MetricType::Histogram)?.encode_histogram::<NoLabelSet>(
        counts.sum_seconds,
        counts.count(),
        &buckets,
        None,
    )
}

#[cfg(test)]
mod tests {
    use warp_worker_config::scoreboard::{monotonic_nanos, Ended, Scoreboard};

    use super::*;

    #[test]
    fn the_board_reads_as_openmetrics_text() {
        let board = Arc::new(Board::new(2, 3));
        let (ours, fd) = Scoreboard::create(3).unwrap();
        let worker = Scoreboard::open(&fd, 3).unwrap();
        board.attach(0, 42, ours);
        let now = monotonic_nanos();
        for (status, app) in [(200, 2_000_000), (200, 30_000_000), (503, 0)] {
            worker.begin(0, now, "GET", "/");
            worker.end(0, now + app, &Ended { status, queue_nanos: 0, application_nanos: app, request_bytes: 3, response_bytes: 5 });
        }
        board.restart(1, 43, "request_timeout");
        let text = encode(&registry(board));
        for line in [
            "# TYPE warp_requests counter",
            "warp_requests_total{status=\"2xx\"} 2",
            "warp_requests_total{status=\"5xx\"} 1",
            "warp_request_body_bytes_total 9",
            "warp_response_body_bytes_total 15",
            "# TYPE warp_request_application_seconds histogram",
            "warp_request_application_seconds_bucket{le=\"0.0025\"} 2",
            "warp_request_application_seconds_bucket{le=\"0.05\"} 3",
            "warp_request_application_seconds_bucket{le=\"+Inf\"} 3",
            "warp_request_application_seconds_count 3",
            "warp_request_application_seconds_sum 0.032",
            "warp_requests_in_flight{worker=\"0\"} 0",
            "warp_worker_busy_seconds_total{worker=\"0\"} 0.032",
            "warp_threads_per_worker 3",
            "warp_capacity_threads 6",
            "warp_worker_restarts_total{reason=\"request_timeout\"} 1",
        ] {
            assert!(text.lines().any(|l| l == line), "no line {line:?} in:\n{text}");
        }
        assert!(text.ends_with("# EOF\n"));
    }
}
