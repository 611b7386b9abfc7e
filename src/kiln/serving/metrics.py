"""Prometheus metrics of a serving process (``GET /metrics``)."""

from __future__ import annotations

from typing import Callable

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

BUCKETS = (.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10)


class Metrics:
    content_type = CONTENT_TYPE_LATEST.encode()

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter("kiln_serving_requests", "Invocations by outcome",
                                ["endpoint", "served_entity", "status"],
                                registry=self.registry)
        self.errors = Counter("kiln_serving_errors", "Invocations that did not answer 200",
                              ["endpoint", "served_entity", "status"], registry=self.registry)
        self.latency = Histogram("kiln_serving_request_latency_seconds",
                                 "Time from request to response", ["endpoint", "served_entity"],
                                 buckets=BUCKETS, registry=self.registry)
        self.dropped = Counter("kiln_inference_capture_dropped",
                               "Inference table records dropped because the table fell behind",
                               ["endpoint"], registry=self.registry)
        self.quarantined = Counter(
            "kiln_inference_capture_quarantined",
            "Unpacked inference rows kept in the quarantine table (columns that could not "
            "be merged)", ["endpoint"], registry=self.registry)

    def observe(self, endpoint: str, entity: str, status: int, seconds: float) -> None:
        code = str(status)
        self.requests.labels(endpoint, entity, code).inc()
        if status != 200:
            self.errors.labels(endpoint, entity, code).inc()
        else:
            self.latency.labels(endpoint, entity).observe(seconds)

    def capture_quarantined(self, endpoint: str) -> Callable[[int], None]:
        return self.quarantined.labels(endpoint).inc

    def capture_dropped(self, endpoint: str) -> Callable[[int], None]:
        counter = self.dropped.labels(endpoint)
        return counter.inc

    def render(self) -> bytes:
        return generate_latest(self.registry)
