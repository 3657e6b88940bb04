"""Semi-supervised refinement of StreamingLDA (services/common/lda_semisup.py): it helps where
it should, is refused where it cannot be shown to help, and leaves learning exact."""

from __future__ import annotations

import copy
import pickle

import numpy as np
import pytest

from services.common.lda import StreamingLDA
from services.common.lda_balance import target_shares
from services.common.lda_calibration import refit_log_beta
from services.common.lda_semisup import RefineConfig
from services.common.model import OnlineClassifier
from services.common.unlabeled import UnlabeledWindow

DIM = 16


def mixture(n: int, rng: np.random.Generator, centers: np.ndarray,
            shift: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    y = rng.integers(0, len(centers), n)
    X = centers[y] + rng.normal(size=(n, DIM)) + (0 if shift is None else shift)
    return X / np.linalg.norm(X, axis=1, keepdims=True), y


def few_labels(seed: int = 0, n_labels: int = 45) -> tuple[StreamingLDA, np.ndarray, tuple]:
    """A model from few fair labels of a 3-class mixture, unlabeled items, a test set."""
    rng = np.random.default_rng(seed)
    centers = rng.normal(size=(3, DIM)) * 0.6
    X, y = mixture(n_labels, rng, centers)
    model = StreamingLDA(prior_strength=20.0)
    for x, c in zip(X, y, strict=True):
        model.learn(x, "abc"[c])
    U, _ = mixture(3000, rng, centers)
    return model, U, mixture(4000, rng, centers)


def accuracy(model: StreamingLDA, test: tuple[np.ndarray, np.ndarray]) -> float:
    X, y = test
    predicted = np.array([model.rows.labels[i] for i in model.logits(X).argmax(axis=1)])
    return float(np.mean(predicted == np.array(["abc"[c] for c in y])))


def test_refinement_on_unlabeled_items_lifts_accuracy_and_is_kept():
    gains = []
    for seed in range(5):
        model, U, test = few_labels(seed)
        before = accuracy(model, test)
        done = model.refine(U)
        assert done.applied, done
        assert done.loss_after is not None and done.loss_before is not None
        assert done.loss_after <= done.loss_before - 0.02
        assert model.population_weight == pytest.approx(0.05 * len(U))
        gains.append(accuracy(model, test) - before)
    assert np.mean(gains) > 0.005, gains


def test_refinement_that_does_not_lower_the_fair_loss_is_refused():
    model, U, _ = few_labels(1)
    reference = copy.deepcopy(model)
    done = model.refine(U, min_gain=10.0)  # no refinement drops the loss by 10 nats
    assert not done.applied and "did not drop" in done.reason
    assert model.population_weight == 0.0
    np.testing.assert_allclose(model.logits(U[:50]), reference.logits(U[:50]), atol=1e-10)


def test_refinement_is_skipped_when_it_cannot_be_checked_or_with_forgetting():
    model = StreamingLDA()
    rng = np.random.default_rng(2)
    for i in range(6):  # six fair records: too few to judge a refinement on
        model.learn(rng.normal(size=DIM), "ab"[i % 2])
    assert not model.refine(rng.normal(size=(200, DIM))).applied
    assert "fewer than 10" in model.refine(rng.normal(size=(200, DIM))).reason
    forgetting = StreamingLDA(half_life=50.0)
    for i in range(40):
        forgetting.learn(rng.normal(size=DIM), "ab"[i % 2], t=float(i))
    assert forgetting.refine(rng.normal(size=(200, DIM))).reason == "forgetting is on"


def test_learning_and_unlearning_stay_exact_after_a_refinement():
    """The population share is kept apart: unlearning a record after a refinement gives the
    labeled statistics of never having learned it, and the population is untouched."""
    model, U, _ = few_labels(3)
    x_extra = U[0]
    model.refine(U[1:])
    population = copy.deepcopy(model._population)
    assert population is not None
    twin = copy.deepcopy(model)
    model.learn(x_extra, "a", calibrate=False)
    model.unlearn(x_extra, "a")
    np.testing.assert_allclose(model._sums, twin._sums, atol=1e-12)
    np.testing.assert_allclose(model._weights, twin._weights)
    np.testing.assert_allclose(model._inverse, twin._inverse, atol=1e-9)
    np.testing.assert_allclose(model.logits(U[:50]), twin.logits(U[:50]), atol=1e-8)
    assert model._population is not None
    np.testing.assert_array_equal(model._population[0], population[0])


def test_held_out_logits_with_a_population_equal_unlearning_the_record():
    """The calibration's leave-one-out stays exact with a population: the record leaves its
    labeled statistics, the unlabeled share stays."""
    model, U, _ = few_labels(4)
    assert model.refine(U).applied
    X = np.stack(model._cal_x[:8])
    idx = np.array([model.rows.index[c] for c in model._cal_y[:8]])
    fast = model._held_out_logits(X, idx)
    for i in range(8):
        without = copy.deepcopy(model)
        without.unlearn(X[i], model._cal_y[i])
        np.testing.assert_allclose(fast[i], without.logits(X[i][None])[0], atol=1e-8)


@pytest.mark.parametrize("change", ["new class", "merge", "retire", "last record undone"])
def test_a_label_set_change_drops_the_population(change: str):
    model, U, _ = few_labels(5)
    assert model.refine(U).applied
    rng = np.random.default_rng(0)
    x = rng.normal(size=DIM)
    if change == "new class":
        model.learn(x, "d")
    elif change == "merge":
        model.merge("a", "b")
    elif change == "retire":
        model.retire("c")
    else:
        model.learn(x, "d")
        assert model.refine(U, min_gain=-1e9).applied  # forced: a population to drop
        model.unlearn(x, "d")
    assert model.population_weight == 0.0
    assert model._population is None
    # Predictions are consistent with the statistics (no stale cache from the population).
    fresh = copy.deepcopy(model)
    fresh._ma, fresh._linear = None, None
    np.testing.assert_allclose(model.logits(U[:20]), fresh.logits(U[:20]), atol=1e-8)


def test_rename_keeps_the_population():
    model, U, _ = few_labels(6)
    assert model.refine(U).applied
    before = model.logits(U[:20])
    model.rename("a", "z")
    assert model.population_weight > 0
    np.testing.assert_allclose(model.logits(U[:20]), before)


def test_a_refined_model_pickles_and_old_pickles_load():
    model, U, _ = few_labels(7)
    assert model.refine(U).applied
    loaded = pickle.loads(pickle.dumps(model))
    np.testing.assert_allclose(loaded.proba(U[:30]), model.proba(U[:30]), atol=1e-12)
    old_state = model.__getstate__()
    for key in ("_population", "_cal_w", "_held_beta"):  # from before these existed
        del old_state[key]
    old = StreamingLDA.__new__(StreamingLDA)
    old.__setstate__(old_state)
    assert old.population_weight == 0.0
    assert old._cal_w == [1.0] * len(old._cal_x) and not old._held_beta
    assert old.logits(U[:5]).shape == (5, 3)


def test_online_classifier_refines_lda_and_declines_softmax():
    _, U, _ = few_labels(8)
    rng = np.random.default_rng(8)
    lda, softmax = OnlineClassifier(prior_strength=20.0), OnlineClassifier(kind="softmax")
    for i in range(60):
        x = U[i] + rng.normal(size=DIM) * 0.01
        lda.learn_one(x, "ab"[i % 2])
        softmax.learn_one(x, "ab"[i % 2])
    assert softmax.refine(U, RefineConfig()).reason == "only the lda model refines"
    assert softmax.unlabeled_weight == 0.0
    assert lda.refine(U, RefineConfig(min_gain=-1e9)).applied  # forced past the check
    assert lda.unlabeled_weight == pytest.approx(0.05 * len(U))


def test_unlabeled_window_keeps_the_newest_and_forgets_labelled_items():
    window = UnlabeledWindow(3)
    assert window.matrix().shape == (0, 0)
    for i in range(5):
        window.add(f"d{i}", [float(i), 0.0])
    assert len(window) == 3 and "d1" not in window
    window.add("d2", [9.0, 0.0])  # re-scored: refreshed, now the newest
    window.add("d5", [5.0, 0.0])
    assert [row[0] for row in window.matrix()] == [4.0, 9.0, 5.0]
    window.discard("d4")
    window.discard("never-seen")
    assert [row[0] for row in window.matrix()] == [9.0, 5.0]
    with pytest.raises(ValueError):
        UnlabeledWindow(0)
    window.add("d6", [1.0, 2.0])
    with pytest.raises(ValueError, match="3 values"):
        window.add("odd", [1.0, 2.0, 3.0])  # another encoder's vector
    assert "odd" not in window


def test_unlabeled_items_of_another_dimension_are_declined():
    model, U, _ = few_labels(9)
    done = model.refine(np.hstack([U, U]))
    assert not done.applied and "32 features, the model 16" in done.reason
    assert model.population_weight == 0.0



def fair_counts(model: StreamingLDA) -> np.ndarray:
    counts = np.zeros(len(model.rows.labels))
    for label in model._cal_y:
        counts[model.rows.index[label]] += 1
    return counts


def test_the_balanced_e_step_gives_each_class_its_expected_share_of_the_window():
    """Plain EM follows the model's own guesses (a class can lose its cluster); the balanced
    E-step holds each class to the share its fair records say (lda_balance.py)."""
    model, U, _ = few_labels(10)
    a = model.rows.index["a"]
    skewed = U[np.argsort(model.logits(U)[:, a])[-800:]]  # the items most like "a"
    plain, balanced = copy.deepcopy(model), copy.deepcopy(model)
    plain.refine(skewed, min_gain=-1e9, balanced=False, folds=0)
    balanced.refine(skewed, min_gain=-1e9, balanced=True, folds=0)
    assert balanced.population_weight == pytest.approx(0.05 * len(skewed))
    expected = target_shares(fair_counts(model))
    assert balanced._population is not None and plain._population is not None
    np.testing.assert_allclose(balanced._population[1] / (0.05 * len(skewed)), expected,
                               atol=0.02)
    assert plain._population[1][a] / (0.05 * len(skewed)) > expected[a] + 0.1


def test_two_classes_keep_the_plain_e_step_and_the_fast_temperature():
    """With two classes the balance would fix the decision threshold itself, and the exact
    temperature fit measured worse (docs/evaluation.md)."""
    rng = np.random.default_rng(11)
    model = StreamingLDA(prior_strength=20.0)
    X, y = mixture(30, rng, rng.normal(size=(2, DIM)) * 0.6)
    for x, c in zip(X, y, strict=True):
        model.learn(x, "ab"[c])
    U = rng.normal(size=(500, DIM))
    plain, balanced = copy.deepcopy(model), copy.deepcopy(model)
    plain.refine(U, min_gain=-1e9, balanced=False, folds=0)
    balanced.refine(U, min_gain=-1e9, balanced=True, folds=5)
    assert plain._population is not None and balanced._population is not None
    np.testing.assert_array_equal(plain._population[1], balanced._population[1])
    assert balanced._log_beta == plain._log_beta and not balanced._held_beta


def test_the_refined_temperature_is_fitted_on_exact_held_out_logits_and_held():
    """With as many folds as fair records, the fit equals unlearning each record from a copy,
    redoing the refinement and fitting on those logits by hand."""
    model, U, _ = few_labels(12, n_labels=24)
    reference = copy.deepcopy(model)
    done = model.refine(U, folds=1000)
    assert done.applied
    X = np.stack(reference._cal_x)
    idx = np.array([reference.rows.index[c] for c in reference._cal_y])
    z = np.zeros((len(idx), 3))
    for i in range(len(idx)):
        without = copy.deepcopy(reference)
        without.unlearn(X[i], reference._cal_y[i])
        without.refine(U, min_gain=-1e9, folds=0)
        z[i] = without.logits(X[i][None])[0]
    by_hand = refit_log_beta(z, idx, reference._log_beta, reference.initial_beta,
                             reference.calibration_prior)
    assert model._log_beta == pytest.approx(by_hand, abs=1e-6)
    fast = copy.deepcopy(reference)
    fast.refine(U, folds=0)
    assert abs(fast._log_beta - by_hand) > 1e-3  # the exact fit is not the fast one
    # Held: a fair label learned after the refinement does not move it ...
    model.learn(U[0], "a")
    assert model._log_beta == pytest.approx(by_hand, abs=1e-6)
    # ... until the population goes (a label-set change): then each fair label refits again.
    model.learn(U[1], "d")
    model.learn(U[2], "d")
    assert model.population_weight == 0.0
    assert model._log_beta != pytest.approx(by_hand, abs=1e-6)


def test_an_unlearned_record_leaves_the_calibration_window():
    """A retracted or corrected label is no longer a fair record of what the model learned."""
    model, U, _ = few_labels(13)
    n = len(model._cal_x)
    model.learn(U[0], "a", weight=0.5)
    assert model._cal_w[-1] == 0.5
    model.unlearn(U[0], "a", weight=0.5)  # corrected: a -> b
    model.learn(U[0], "b")
    assert len(model._cal_x) == len(model._cal_y) == len(model._cal_w) == n + 1
    assert model._cal_y[-1] == "b" and np.array_equal(model._cal_x[-1], U[0])
    assert "a" not in [y for x, y in zip(model._cal_x, model._cal_y, strict=True)
                       if np.array_equal(x, U[0])]
    model.unlearn(U[1], "a")  # never learned as fair: the window is untouched
    assert len(model._cal_x) == n + 1


def test_the_calibration_window_follows_label_set_changes():
    """Merged records are the destination's fair records now, a retired class's are gone, and
    a new class reusing an old name starts without them."""
    model, _, _ = few_labels(14)
    n_a = model._cal_y.count("a")
    n_b = model._cal_y.count("b")
    model.merge("a", "b")
    assert "a" not in model._cal_y and model._cal_y.count("b") == n_a + n_b
    model.rename("b", "z")
    assert "b" not in model._cal_y and model._cal_y.count("z") == n_a + n_b
    n = len(model._cal_x)
    model.retire("c")
    assert "c" not in model._cal_y
    assert len(model._cal_x) == len(model._cal_y) == len(model._cal_w) < n
    model.learn(np.ones(DIM) / 4.0, "a")  # a new class under a merged-away name
    assert model._cal_y.count("a") == 1
