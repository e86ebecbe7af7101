#!/usr/bin/env python3
"""Writes the Pitchey Grafana dashboards (ops/grafana/dashboards/*.json).

The dashboards are data; this script is their readable source. Edit the panel lists below and run
`python3 ops/grafana/generate.py`. Every metric used must be one the server exports: the test
`crates/pitchey-server/tests/ops.rs` checks the names against a live /metrics.
"""
import json
import os

DS = {"type": "prometheus", "uid": "${datasource}"}


def panel(title, exprs, unit="short", kind="timeseries", w=12, h=8):
    return {"type": kind, "title": title, "datasource": DS, "w": w, "h": h,
            "targets": [{"expr": e, "legendFormat": l} for e, l in exprs],
            "fieldConfig": {"defaults": {"unit": unit}, "overrides": []}}


def dashboard(uid, title, panels):
    x = y = row_h = 0
    out = []
    for i, p in enumerate(panels, start=1):
        w, h = p.pop("w"), p.pop("h")
        if x + w > 24:
            x, y = 0, y + row_h
            row_h = 0
        p["id"] = i
        p["gridPos"] = {"x": x, "y": y, "w": w, "h": h}
        for n, t in enumerate(p["targets"]):
            t["refId"] = chr(ord("A") + n)
            t["datasource"] = DS
        out.append(p)
        x += w
        row_h = max(row_h, h)
    return {
        "uid": uid, "title": title, "tags": ["pitchey"], "timezone": "browser", "schemaVersion": 39,
        "version": 1, "editable": True, "refresh": "30s", "time": {"from": "now-1h", "to": "now"},
        "templating": {"list": [
            {"name": "datasource", "type": "datasource", "query": "prometheus", "label": "Data source"},
            {"name": "instance", "type": "query", "datasource": DS, "label": "Node", "multi": True,
             "includeAll": True, "refresh": 2, "query": "label_values(pitchey_process_uptime_seconds, instance)"},
        ]},
        "panels": out,
    }


I = 'instance=~"$instance"'

SERVICE = dashboard("pitchey-service", "Pitchey — service overview", [
    panel("Requests per second by status", [(f'sum by (status) (rate(pitchey_http_requests_total{{{I}}}[1m]))', "{{status}}")], "reqps"),
    panel("5xx error rate", [(f'sum(rate(pitchey_http_requests_total{{{I},status="5xx"}}[5m])) / clamp_min(sum(rate(pitchey_http_requests_total{{{I}}}[5m])), 1e-9)', "5xx share")], "percentunit"),
    panel("Latency percentiles (all routes)", [
        (f'histogram_quantile({q}, sum by (le) (rate(pitchey_http_request_duration_seconds_bucket{{{I}}}[5m])))', f"p{int(q * 100)}")
        for q in (0.5, 0.95, 0.99)], "s"),
    panel("p99 by route", [(f'histogram_quantile(0.99, sum by (le, route) (rate(pitchey_http_request_duration_seconds_bucket{{{I}}}[5m])))', "{{route}}")], "s"),
    panel("Busiest routes", [(f'topk(10, sum by (route) (rate(pitchey_http_requests_total{{{I}}}[5m])))', "{{route}}")], "reqps"),
    panel("Requests in flight (saturation)", [(f'sum by (instance) (pitchey_http_requests_in_flight{{{I}}})', "{{instance}}")]),
    panel("Resident memory", [(f'pitchey_process_resident_memory_bytes{{{I}}}', "{{instance}}")], "bytes", w=8),
    panel("Open file descriptors", [(f'pitchey_process_open_fds{{{I}}}', "{{instance}}")], w=8),
    panel("Uptime", [(f'pitchey_process_uptime_seconds{{{I}}}', "{{instance}}")], "s", kind="stat", w=8),
])

DATABASE = dashboard("pitchey-database", "Pitchey — database", [
    panel("Query latency p95 by query", [(f'histogram_quantile(0.95, sum by (le, query) (rate(pitchey_db_query_duration_seconds_bucket{{{I}}}[5m])))', "{{query}}")], "s"),
    panel("Queries per second by role", [(f'sum by (role) (rate(pitchey_db_query_duration_seconds_count{{{I}}}[1m]))', "{{role}}")], "ops"),
    panel("Pool connections", [(f'sum by (endpoint, state) (pitchey_db_pool_connections{{{I}}})', "{{endpoint}} {{state}}")]),
    panel("Requests waiting for a connection", [(f'max by (endpoint) (pitchey_db_pool_waiters{{{I}}})', "{{endpoint}}")]),
    panel("Slow queries per second", [(f'sum by (query) (rate(pitchey_db_slow_queries_total{{{I}}}[5m]))', "{{query}}")], "ops"),
    panel("Errors per second by kind", [(f'sum by (kind) (rate(pitchey_db_errors_total{{{I}}}[5m]))', "{{kind}}")], "ops"),
    panel("Circuit breaker (0 closed, 1 half-open, 2 open)", [(f'max by (endpoint) (pitchey_db_circuit_state{{{I}}})', "{{endpoint}}")], w=8),
    panel("Calls refused by open breakers", [(f'sum by (endpoint) (rate(pitchey_db_circuit_rejections_total{{{I}}}[5m]))', "{{endpoint}}")], "ops", w=8),
    panel("Endpoints up", [(f'min by (endpoint, role) (pitchey_db_up{{{I}}})', "{{endpoint}} ({{role}})")], w=8),
    panel("Replica lag", [(f'max by (endpoint) (pitchey_db_replica_lag_seconds{{{I}}})', "{{endpoint}}")], "s", w=24),
])

CACHE = dashboard("pitchey-cache", "Pitchey — cache", [
    panel("Hit ratio by cache and tier", [(
        f'sum by (cache, tier) (rate(pitchey_cache_hits_total{{{I}}}[5m])) / clamp_min(sum by (cache, tier) (rate(pitchey_cache_hits_total{{{I}}}[5m])) + sum by (cache, tier) (rate(pitchey_cache_misses_total{{{I}}}[5m])), 1e-9)',
        "{{cache}} {{tier}}")], "percentunit"),
    panel("Hits and misses per second", [
        (f'sum by (cache) (rate(pitchey_cache_hits_total{{{I},tier="l1"}}[1m]))', "{{cache}} hits"),
        (f'sum by (cache) (rate(pitchey_cache_misses_total{{{I},tier="l1"}}[1m]))', "{{cache}} misses")], "ops"),
    panel("Entries (L1)", [(f'sum by (cache) (pitchey_cache_entries{{{I}}})', "{{cache}}")]),
    panel("Bytes (L1)", [(f'sum by (cache) (pitchey_cache_bytes{{{I}}})', "{{cache}}")], "bytes"),
    panel("Evictions per second", [(f'sum by (cache) (rate(pitchey_cache_evictions_total{{{I}}}[5m]))', "{{cache}}")], "ops", w=8),
    panel("Invalidations per second", [(f'sum by (cache) (rate(pitchey_cache_invalidations_total{{{I}}}[5m]))', "{{cache}}")], "ops", w=8),
    panel("Stale values served (database outages)", [(f'sum by (cache) (rate(pitchey_cache_stale_served_total{{{I}}}[5m]))', "{{cache}}")], "ops", w=8),
    panel("Redis (configured / connected)", [
        (f'max by (instance) (pitchey_cache_l2_configured{{{I}}})', "{{instance}} configured"),
        (f'max by (instance) (pitchey_cache_l2_connected{{{I}}})', "{{instance}} connected")], w=24),
])

BUSINESS = dashboard("pitchey-business", "Pitchey — business activity", [
    panel("Logins per minute by portal", [(f'sum by (user_type) (rate(pitchey_logins_total{{{I}}}[5m])) * 60', "{{user_type}}")]),
    panel("Sign-ups per hour by portal", [(f'sum by (user_type) (rate(pitchey_signups_total{{{I}}}[1h])) * 3600', "{{user_type}}")]),
    panel("Pitches created and published per hour", [
        (f'sum(rate(pitchey_pitches_created_total{{{I}}}[1h])) * 3600', "created"),
        (f'sum(rate(pitchey_pitches_published_total{{{I}}}[1h])) * 3600', "published")]),
    panel("NDA requests and decisions per hour", [
        (f'sum(rate(pitchey_nda_requests_total{{{I}}}[1h])) * 3600', "requested"),
        (f'sum by (decision) (rate(pitchey_nda_decisions_total{{{I}}}[1h])) * 3600', "{{decision}}")]),
    panel("Login attempts refused by the rate limit (per minute)", [(f'sum(rate(pitchey_rate_limit_rejections_total{{{I},limiter="login"}}[5m])) * 60', "refused")], w=24),
])

if __name__ == "__main__":
    here = os.path.join(os.path.dirname(os.path.abspath(__file__)), "dashboards")
    os.makedirs(here, exist_ok=True)
    for name, d in [("service", SERVICE), ("database", DATABASE), ("cache", CACHE), ("business", BUSINESS)]:
        with open(os.path.join(here, f"pitchey-{name}.json"), "w") as f:
            json.dump(d, f, indent=2)
            f.write("\n")
