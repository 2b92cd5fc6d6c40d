"""Prometheus metrics: the Temporal SDK's runtime metrics and Ratchet's own, on one endpoint.

With RATCHET_METRICS_ADDRESS=host:port the process's Temporal runtime serves Prometheus text at
`http://host:port/metrics` (the SDK's exporter). Ratchet's instruments are created on that
runtime's meter, so SDK metrics (`temporal_*`: polls, task latencies, slots) and ours
(`ratchet_*`) are scraped together; without the setting every instrument is a no-op.
"""

from __future__ import annotations

from temporalio.common import MetricMeter
from temporalio.runtime import PrometheusConfig, Runtime, TelemetryConfig

from ratchet.config import Settings


class Metrics:
    def __init__(self, meter: MetricMeter) -> None:
        self.runs_started = meter.create_counter(
            "ratchet_runs_started_total", "Runs whose first attempt started, by kind", "runs"
        )
        self.runs_finished = meter.create_counter(
            "ratchet_runs_finished_total", "Runs that reached Succeeded or Failed, by kind and state", "runs"
        )
        self.attempts = meter.create_counter(
            "ratchet_attempts_total", "Attempts started (first, automatic and manual retries), by kind", "attempts"
        )
        self.attempts_failed = meter.create_counter(
            "ratchet_attempts_failed_total", "Failed attempts, by kind and whether they will be retried", "attempts"
        )
        # The SDK's histogram buckets are in milliseconds (50 … 10,000).
        self.queue_lag = meter.create_histogram_float(
            "ratchet_queue_lag_milliseconds", "Time from an attempt being due to a worker starting it, by kind", "ms"
        )
        self.throttle_waits = meter.create_counter(
            "ratchet_shopify_throttle_waits_total", "Runs sent back to Due by a Shopify rate limit, by kind", "waits"
        )
        self.webhooks = meter.create_counter(
            "ratchet_webhooks_total", "Webhook requests by source and outcome (accepted, or the rejection reason)"
        )


_metrics = Metrics(MetricMeter.noop)
_installed_address: str | None = None


def install(settings: Settings) -> None:
    """Serve metrics for this process; call before the first Temporal client connects."""
    global _metrics, _installed_address
    if settings.metrics_address is None or _installed_address == settings.metrics_address:
        return
    runtime = Runtime(telemetry=TelemetryConfig(metrics=PrometheusConfig(bind_address=settings.metrics_address)))
    Runtime.set_default(runtime)
    _metrics = Metrics(runtime.metric_meter)
    _installed_address = settings.metrics_address


def metrics() -> Metrics:
    return _metrics
