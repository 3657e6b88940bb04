"""Writes the Grafana dashboard (deploy/helm/alstream/files/dashboard.json) from the panel list
below, so panels stay uniform and reviewable as code. Run it after editing a panel:

    python deploy/monitoring/make_dashboard.py

tests/deploy checks that the committed JSON equals this script's output, that every query
parses as PromQL and that every metric it names exists in a live scrape of the services.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

OUT = Path(__file__).resolve().parents[1] / "helm" / "alstream" / "files" / "dashboard.json"
R = "$__rate_interval"

# (title, unit, [(legend, expr)], description); one row of two panels per pair.
PANELS: list[tuple[str, str, list[tuple[str, str]], str]] = [
    ("Throughput per service", "ops", [
        ("ingest accepted", f"sum(rate(alstream_ingest_documents_total[{R}]))"),
        ("scorer scored", f"sum(rate(alstream_scorer_documents_scored_total[{R}]))"),
        ("routed to review", f"sum(rate(alstream_scorer_routed_total[{R}]))"),
        ("review labels", f"sum(rate(alstream_review_labels_total[{R}]))"),
        ("trainer learned", f"sum(rate(alstream_trainer_labels_learned_total[{R}]))"),
    ], "Documents or labels per second through each service."),
    ("/classify latency and answers", "s", [
        ("p50", "histogram_quantile(0.5, sum by (le) "
                f"(rate(alstream_scorer_classify_latency_seconds_bucket[{R}])))"),
        ("p99", "histogram_quantile(0.99, sum by (le) "
                f"(rate(alstream_scorer_classify_latency_seconds_bucket[{R}])))"),
    ], "Latency of POST /v1/classify, all scorer replicas."),
    ("/classify answers by status (429 = overloaded)", "reqps", [
        ("{{status}}", "sum by (status) "
                       f"(rate(alstream_scorer_classify_requests_total[{R}]))"),
        ("queue full {{lane}}", "sum by (lane) "
                                f"(rate(alstream_scorer_batch_rejected_total[{R}]))"),
    ], "ok, invalid (422), overloaded (429) and error (5xx) answers per second."),
    ("Encoder batch size", "short", [
        ("p50 texts/batch", "histogram_quantile(0.5, sum by (le) "
                            f"(rate(alstream_scorer_batch_size_bucket[{R}])))"),
        ("p90 texts/batch", "histogram_quantile(0.9, sum by (le) "
                            f"(rate(alstream_scorer_batch_size_bucket[{R}])))"),
        ("p50 padded tokens", "histogram_quantile(0.5, sum by (le) "
                              f"(rate(alstream_scorer_batch_padded_tokens_bucket[{R}])))"),
    ], "Texts and padded tokens per encoder batch."),
    ("Encoder time and queue wait", "s", [
        ("encode p50", "histogram_quantile(0.5, sum by (le) "
                       f"(rate(alstream_scorer_batch_encode_seconds_bucket[{R}])))"),
        ("encode p99", "histogram_quantile(0.99, sum by (le) "
                       f"(rate(alstream_scorer_batch_encode_seconds_bucket[{R}])))"),
        ("queue wait p99 {{lane}}", "histogram_quantile(0.99, sum by (le, lane) "
                                   f"(rate(alstream_scorer_batch_queue_wait_seconds_bucket[{R}])))"),
        ("stream batch p99", "histogram_quantile(0.99, sum by (le) "
                             f"(rate(alstream_scorer_stream_batch_seconds_bucket[{R}])))"),
    ], "Model time per batch and time from submission to the batch start."),
    ("Queue depth", "short", [
        ("review waiting", "max(alstream_review_queue_depth)"),
        ("review leased", "max(alstream_review_queue_leased)"),
        ("encoder queue {{lane}}", "sum by (lane) (alstream_scorer_batch_queue_depth)"),
    ], "Items waiting for a reviewer, leased now, and texts waiting for the encoder."),
    ("Review queue age", "s", [
        ("oldest waiting item", "max(alstream_review_queue_oldest_age_seconds)"),
    ], "Age of the oldest item waiting for a reviewer (alert: AlstreamReviewQueueAgeHigh)."),
    ("Labels per hour per reviewer", "short", [
        ("{{reviewer}}", "sum by (reviewer) "
                         "(increase(alstream_review_reviewer_labels_total[1h]))"),
        ("all, by reason: {{reason}}", "sum by (reason) "
                                       "(increase(alstream_review_labels_total[1h]))"),
        ("reviewer throughput (labels/h)", "max(alstream_selection_reviewer_throughput) * 3600"),
    ], "Labels submitted in the last hour, per reviewer and per routing reason."),
    ("Reviewer agreement", "short", [
        ("Fleiss' kappa, all reviewers", "max(alstream_review_fleiss_kappa)"),
        ("reliability {{reviewer}}", "max by (reviewer) (alstream_review_reviewer_reliability)"),
        ("corrections/h {{action}}", "sum by (action) "
                                     "(increase(alstream_review_corrections_total[1h]))"),
    ], "Agreement between reviewers on multi-annotated items, and corrections or undos."),
    ("Label budget against query rate", "percentunit", [
        ("budget (configured)", "max(alstream_selection_budget_configured)"),
        ("budget (now, pressure-scaled)", "max(alstream_selection_budget)"),
        ("query rate, all scorers", "max(alstream_selection_group_query_rate)"),
        ("query rate {{instance}}", "alstream_selection_query_rate"),
        ("refused by budget /s", f"sum(rate(alstream_selection_budget_refused_total[{R}]))"),
    ], "Share of the stream asked for labels against the budget."),
    ("Model version per replica", "none", [
        ("scorer {{instance}}", "alstream_scorer_model_version"),
        ("trainer published", "max(alstream_trainer_model_version)"),
        ("to serve (promoted or pinned)", "max(alstream_trainer_serving_version)"),
        ("pinned", "max(alstream_model_pinned)"),
    ], "Version each scorer serves; a replica off the 'to serve' line is stale."),
    ("Model freshness", "s", [
        ("p50", "histogram_quantile(0.5, sum by (le) "
                f"(rate(alstream_model_freshness_seconds_bucket[{R}])))"),
        ("p99", "histogram_quantile(0.99, sum by (le) "
                f"(rate(alstream_model_freshness_seconds_bucket[{R}])))"),
        ("swaps/s", f"sum(rate(alstream_scorer_model_swaps_total[{R}]))"),
        ("refused artifacts/s", f"sum(rate(alstream_scorer_model_rejected_total[{R}]))"),
    ], "Time from a label to a model that has learned it being served."),
    ("Prequential and audit accuracy", "percentunit", [
        ("prequential (all labels)", "max(alstream_trainer_prequential_accuracy)"),
        ("prequential (last 200)", "max(alstream_trainer_prequential_accuracy_recent)"),
        ("audit", "max(alstream_audit_accuracy)"),
        ("audit 95% low", "max(alstream_audit_accuracy_ci_low)"),
        ("audit 95% high", "max(alstream_audit_accuracy_ci_high)"),
    ], "Audit accuracy is the unbiased estimate (uniform sample) with its 95% interval."),
    ("Drift events", "short", [
        ("{{source}}", f"sum by (source) (increase(alstream_selection_drift_events_total[{R}]))"),
        ("drift boost active", "max(alstream_selection_drift_active)"),
    ], "Drift detections and whether the drift boost is routing more items now."),
    ("Dead letters and consumer errors", "short", [
        ("dead letters {{topic}}", "sum by (topic) "
                                   f"(increase(alstream_dead_letters_total[{R}]))"),
        ("handler errors {{group}}", "sum by (group) "
                                     f"(increase(alstream_consumer_errors_total[{R}]))"),
        ("offset resets {{topic}}", "sum by (topic) "
                                    f"(increase(alstream_kafka_offset_resets_total[{R}]))"),
    ], "Messages sent to the dead-letter topic, handler failures, offset resets."),
    ("Promotion gate decisions", "short", [
        ("{{decision}}", "sum by (decision) (increase(alstream_gate_decisions_total[1h]))"),
        ("published/h", "sum(increase(alstream_trainer_models_published_total[1h]))"),
    ], "Candidate versions promoted or held back by the gate, per hour."),
    ("Semi-supervised refinement", "short", [
        ("{{outcome}}/h", "sum by (outcome) (increase(alstream_trainer_refinements_total[1h]))"),
        ("unlabeled window items", "max(alstream_trainer_unlabeled_window_items)"),
        ("last gain (nats)", "max(alstream_trainer_refine_gain_nats)"),
    ], "Refinements of the class means on unlabeled items before a publish: applied, "
       "rejected (fair log-loss did not drop) or skipped (window too small)."),
    ("Ingest refusals and publish latency", "short", [
        ("refused {{reason}}", f"sum by (reason) (rate(alstream_ingest_rejected_total[{R}]))"),
        ("publish p99 (s)", "histogram_quantile(0.99, sum by (le) "
                            f"(rate(alstream_ingest_publish_seconds_bucket[{R}])))"),
    ], "Documents refused with a 4xx, and time to publish an accepted request durably."),
]


def panel(idx: int, title: str, unit: str, targets: list[tuple[str, str]], desc: str) -> dict:
    return {
        "id": idx + 1,
        "type": "timeseries",
        "title": title,
        "description": desc,
        "datasource": {"type": "prometheus", "uid": "${datasource}"},
        "gridPos": {"h": 8, "w": 12, "x": 12 * (idx % 2), "y": 8 * (idx // 2)},
        "fieldConfig": {"defaults": {"unit": unit}, "overrides": []},
        "options": {"legend": {"displayMode": "list", "placement": "bottom"}},
        "targets": [
            {"refId": chr(ord("A") + n), "expr": expr, "legendFormat": legend,
             "datasource": {"type": "prometheus", "uid": "${datasource}"}}
            for n, (legend, expr) in enumerate(targets)
        ],
    }


def dashboard() -> dict[str, Any]:
    return {
        "uid": "alstream-overview",
        "title": "alstream",
        "tags": ["alstream"],
        "timezone": "utc",
        "schemaVersion": 39,
        "version": 1,
        "refresh": "30s",
        "time": {"from": "now-6h", "to": "now"},
        "templating": {"list": [{
            "name": "datasource", "type": "datasource", "query": "prometheus",
            "label": "Prometheus", "current": {}, "hide": 0,
        }]},
        "panels": [panel(i, *p) for i, p in enumerate(PANELS)],
    }


def render() -> str:
    return json.dumps(dashboard(), indent=2) + "\n"


if __name__ == "__main__":
    OUT.write_text(render())
    print(f"wrote {OUT} ({len(PANELS)} panels)")
