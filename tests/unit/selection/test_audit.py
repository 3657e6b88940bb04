from __future__ import annotations

import random

from services.common.schemas import Reason
from services.common.selection import AuditEstimator, AuditSampler, Outcome, wilson_interval


def outcome(correct: bool, reason: Reason) -> Outcome:
    return Outcome(x=None, label="a", predicted="a" if correct else "b", reason=reason)


def test_wilson_interval_covers_the_true_accuracy_about_95_percent_of_the_time():
    rng = random.Random(0)
    for true_acc, n in [(0.8, 200), (0.95, 60), (0.5, 30)]:
        covered = 0
        reps = 1000
        for _ in range(reps):
            hits = sum(rng.random() < true_acc for _ in range(n))
            low, high = wilson_interval(hits, n)
            covered += low <= true_acc <= high
        assert 0.92 <= covered / reps <= 0.99, (true_acc, n, covered / reps)


def test_estimate_uses_audit_labels_only():
    est = AuditEstimator(window=1000)
    rng = random.Random(1)
    for _ in range(2000):
        # Uncertainty-chosen items are hard: the model is right on only 30% of them ...
        assert not est.learn(outcome(rng.random() < 0.3, Reason.UNCERTAINTY))
    for _ in range(400):
        # ... while on a uniform sample of the stream it is right 85% of the time.
        assert est.learn(outcome(rng.random() < 0.85, Reason.AUDIT))
    report = est.report()
    assert report["n"] == 400
    assert report["ci_low"] <= 0.85 <= report["ci_high"]
    assert abs(report["accuracy"] - 0.85) < 0.05


def test_empty_estimator_reports_no_accuracy_and_the_widest_interval():
    report = AuditEstimator().report()
    assert report["accuracy"] is None and (report["ci_low"], report["ci_high"]) == (0.0, 1.0)


def test_audit_sampler_takes_its_share_whatever_the_model_says():
    sampler = AuditSampler(share=0.05, seed=0)
    confident = {"a": 1.0, "b": 0.0}
    picks = [sampler.ask(confident)[0] for _ in range(20000)]
    assert abs(sum(picks) / len(picks) - 0.05) < 0.006
    assert all(sampler.ask({})[1] in (None, Reason.AUDIT) for _ in range(100))
