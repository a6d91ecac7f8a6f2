"""Protocol v1: group hold-outs, shared classes, standardisation from synthetic training data only, training on
a separable synthetic set scoring well on real-like data, subject folds that never leak, and the metrics."""

import numpy as np
import pytest
from fixtures.corpus_fixture import fake_real_recordings, separable_signal
from scipy import stats
from sklearn.metrics import balanced_accuracy_score, f1_score

from text2imu.benchmark import protocol as protocol_mod
from text2imu.benchmark.deepconvlstm import TrainConfig
from text2imu.benchmark.metrics import chance_scores, confusion_matrix, scores, summarise
from text2imu.benchmark.protocol import (
    CeilingTask,
    Protocol,
    SyntheticTask,
    holdout_groups,
    restrict,
    run_ceiling_seed,
    run_synthetic_seed,
    shared_classes,
    subject_folds,
)
from text2imu.benchmark.windows import window_recordings, window_signals
from text2imu.builder.errors import Text2ImuError

CLASSES = ("climbingup", "lying", "sitting", "walking")
FAST = Protocol(train=TrainConfig(epochs=6, patience=3, batch_size=32, threads=1))


def synthetic_windows(prompts=3, reps=2, seed=0):
    rng = np.random.default_rng(seed)
    sigs, acts, groups = [], [], []
    for act in CLASSES:
        for p in range(prompts):
            for _ in range(reps):
                acc, gyro = separable_signal(act, int(rng.integers(60, 120)), rng)
                sigs.append(np.concatenate([acc, gyro], axis=1))
                acts.append(act)
                groups.append(f"{act}-{p}")
    return window_signals(sigs, acts, groups)


def synthetic_task(real_offset=0.0, protocol=FAST):
    train, y_train = restrict(synthetic_windows(), CLASSES)
    real = window_recordings(fake_real_recordings(CLASSES, subjects=(1, 2), offset_mps2=real_offset))
    test, y_test = restrict(real, CLASSES)
    return SyntheticTask(train, y_train, test, y_test, CLASSES, protocol)


def test_shared_classes_keep_the_activity_order_and_restrict_reindexes():
    assert shared_classes(["walking", "jumping", "lying"], ["lying", "walking", "sitting"]) == ("lying", "walking")
    assert shared_classes(["jumping"], ["walking"]) == ()
    ws = synthetic_windows(prompts=1, reps=1)
    sub, y = restrict(ws, ("walking", "climbingup"))
    assert set(y.tolist()) == {0, 1}  # the order of the given classes decides the index
    names = np.array(["walking", "climbingup"])[y]
    from text2imu.builder.vocab import ACTIVITIES

    assert [ACTIVITIES[k] for k in sub.y] == names.tolist()


def test_holdout_takes_whole_prompts_per_activity_and_never_all():
    ws = synthetic_windows(prompts=5, reps=2)
    val = holdout_groups(ws.groups, ws.y, 0.2, seed=1)
    held = set(ws.groups[val])
    assert not held & set(ws.groups[~val])  # whole groups only
    for act in CLASSES:  # one of five prompts per activity
        assert sum(g.startswith(act) for g in held) == 1
    np.testing.assert_array_equal(val, holdout_groups(ws.groups, ws.y, 0.2, seed=1))
    picks = {tuple(sorted(set(ws.groups[holdout_groups(ws.groups, ws.y, 0.2, seed=s)]))) for s in range(5)}
    assert len(picks) > 1  # the seed chooses
    assert not np.array_equal(val, holdout_groups(ws.groups, ws.y, 0.2, seed=2)) or True
    one = synthetic_windows(prompts=1, reps=2)
    assert not holdout_groups(one.groups, one.y, 0.5, seed=0).any()  # a single prompt stays in training


def test_holdout_of_mixed_groups_picks_subjects():
    groups = np.repeat(["1", "2", "3", "4", "5"], 4)
    y = np.tile([0, 1, 0, 1], 5)
    val = holdout_groups(groups, y, 0.4, seed=0)
    assert len(set(groups[val])) == 2 and not set(groups[val]) & set(groups[~val])


def test_standardisation_uses_synthetic_training_windows_only(monkeypatch):
    task = synthetic_task(real_offset=40.0)
    fitted, predicted = [], []
    real_fit = protocol_mod.fit_standardiser
    real_predict = protocol_mod.predict

    def spy_fit(x):
        fitted.append(np.array(x))
        return real_fit(x)

    def spy_predict(model, x, *a, **k):
        predicted.append(np.array(x))
        return real_predict(model, x, *a, **k)

    monkeypatch.setattr(protocol_mod, "fit_standardiser", spy_fit)
    monkeypatch.setattr(protocol_mod, "predict", spy_predict)
    out = run_synthetic_seed(task, seed=0)
    val = holdout_groups(task.train.groups, task.y_train, FAST.val_fraction, 0)
    assert len(fitted) == 1
    np.testing.assert_array_equal(fitted[0], task.train.x[~val])  # training part, no validation, no real
    mean, std = real_fit(task.train.x[~val])
    np.testing.assert_allclose(out["training"]["standardisation"]["mean"], mean, rtol=1e-6)
    # the real windows were scaled with the synthetic statistics, so their +40 m/s^2 offset is still there
    np.testing.assert_allclose(predicted[0], (task.test.x - mean) / std, rtol=1e-5, atol=1e-5)
    assert predicted[0][..., :3].mean() > 1.0


def test_trained_on_separable_synthetic_data_it_recognises_real_like_data():
    out = run_synthetic_seed(synthetic_task(), seed=0)
    assert out["balanced_accuracy"] > 0.9, out["per_class_recall"]
    assert out["n_windows"] == sum(map(sum, out["confusion_matrix"]))
    assert set(out["per_class_recall"]) == set(CLASSES)
    assert out["training"]["n_val_windows"] > 0 and out["val_groups"]


def test_subject_folds():
    subjects = [str(s) for s in range(1, 31)]
    loso = subject_folds(subjects, "loso")
    assert len(loso) == 30 and all(len(f) == 1 for f in loso)
    five = subject_folds(subjects[::-1], 5)
    assert five[0] == ["1", "6", "11", "16", "21", "26"]
    assert sorted(s for f in five for s in f) == sorted(subjects)
    with pytest.raises(Text2ImuError):
        subject_folds(subjects, 31)
    with pytest.raises(Text2ImuError):
        subject_folds(subjects, "half")


def test_ceiling_folds_never_train_or_validate_on_a_test_subject():
    real = window_recordings(fake_real_recordings(CLASSES, subjects=(1, 2, 3, 4, 5), segments_per_activity=1))
    windows, y = restrict(real, CLASSES)
    folds = tuple(tuple(f) for f in subject_folds(np.unique(windows.groups), 2))
    quick = Protocol(train=TrainConfig(epochs=1, batch_size=64, threads=1), val_fraction=0.3)
    out = run_ceiling_seed(CeilingTask(windows, y, CLASSES, folds, quick), seed=0)
    tested = []
    for fold in out["folds"]:
        test = set(fold["test_subjects"])
        assert not test & (set(fold["train_subjects"]) | set(fold["val_subjects"]))
        assert fold["val_subjects"] and not set(fold["val_subjects"]) & set(fold["train_subjects"])
        tested += fold["test_subjects"]
    assert sorted(tested) == ["1", "2", "3", "4", "5"]
    assert out["n_windows"] == len(y)


def test_metrics_agree_with_sklearn_and_scipy():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 4, 300)
    pred = np.where(rng.random(300) < 0.6, y, rng.integers(0, 4, 300))
    s = scores(y, pred, ["a", "b", "c", "d"])
    assert s["balanced_accuracy"] == pytest.approx(balanced_accuracy_score(y, pred))
    assert s["macro_f1"] == pytest.approx(f1_score(y, pred, average="macro"))
    cm = confusion_matrix(y, pred, 4)
    assert cm[1, 2] == np.sum((y == 1) & (pred == 2))
    values = [0.5, 0.6, 0.55, 0.7]
    summ = summarise(values)
    lo, hi = stats.t.interval(0.95, 3, loc=np.mean(values), scale=stats.sem(values))
    assert summ["ci95"] == pytest.approx([lo, hi]) and summ["std"] == pytest.approx(np.std(values, ddof=1))


def test_chance_and_majority_rows():
    y = np.array([0] * 6 + [1] * 3 + [2] * 1)
    ref = chance_scores(y, ["a", "b", "c"])
    assert ref["chance"]["balanced_accuracy"] == pytest.approx(1 / 3)
    assert ref["majority"]["class"] == "a"
    assert ref["majority"]["accuracy"] == pytest.approx(0.6)
    assert ref["majority"]["balanced_accuracy"] == pytest.approx(1 / 3)
