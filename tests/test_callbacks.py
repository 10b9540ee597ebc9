"""scikit-learn's callbacks (sklearn.callback, 1.9+): one task per epoch, nested."""

import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import Pipeline

pytest.importorskip("sklearn.callback")
from sklearn.callback._callback_context import get_context_path  # noqa: E402
from sklearn.callback.tests._utils import (  # noqa: E402
    RecordingAutoPropagatedCallback,
    RecordingCallback,
    StopFitCallback,
)

from skl_sae import (  # noqa: E402
    SparseAutoencoderOutlierDetector,
    SparseAutoencoderTransformer,
    StackedSparseAutoencoderClassifier,
)


def _ended(callback, task_name=None):
    contexts = [r["context"] for r in callback.record if r["name"] == "on_fit_task_end"]
    return [c for c in contexts if task_name is None or c.task_name == task_name]


def test_the_transformer_reports_one_task_per_epoch(digits):
    X, _ = digits
    callback = RecordingCallback()
    sae = SparseAutoencoderTransformer(8, max_iter=3, random_state=0).set_callbacks(callback)
    sae.fit(X)
    assert callback.count_hooks("setup") == callback.count_hooks("teardown") == 1
    epochs = _ended(callback, "epoch")
    assert [c.task_id for c in epochs] == [0, 1, 2]
    assert len(_ended(callback)) == 1 + 3  # the fit and its epochs
    sae.partial_fit(X)
    assert len(_ended(callback, "epoch")) == 3 + 1


def test_a_callback_can_stop_training(digits):
    X, _ = digits
    sae = SparseAutoencoderTransformer(8, max_iter=5, random_state=0)
    sae.set_callbacks(StopFitCallback()).fit(X)
    assert sae.n_iter_ == 1


def test_the_classifier_reports_each_stage_with_its_epochs(digits):
    X, y = digits
    callback = RecordingCallback()
    clf = StackedSparseAutoencoderClassifier((8, 4), pretrain_max_iter=2, max_iter=3)
    clf.set_callbacks(callback).fit(X, y)
    stages = [c for c in _ended(callback) if c.task_name != "epoch" and c.parent is not None]
    assert [c.task_name for c in stages] == [
        "pretrain-layer-1",
        "pretrain-layer-2",
        "softmax",
        "fine-tune",
    ]
    epochs_per_stage = {
        stage.task_name: sum(c.parent is stage for c in _ended(callback, "epoch"))
        for stage in stages
    }
    assert epochs_per_stage == {
        "pretrain-layer-1": 2,
        "pretrain-layer-2": 2,
        "softmax": 2,
        "fine-tune": 3,
    }


def test_epochs_nest_under_an_enclosing_pipeline(digits):
    X, y = digits
    callback = RecordingAutoPropagatedCallback()
    pipe = Pipeline(
        [
            ("sae", SparseAutoencoderTransformer(8, max_iter=2, random_state=0)),
            ("clf", LogisticRegression(max_iter=50)),
        ]
    )
    pipe.set_callbacks(callback).fit(X, y)
    epochs = [c for c in _ended(callback, "epoch") if c.estimator_name != "LogisticRegression"]
    assert len(epochs) == 2
    for context in epochs:
        path = get_context_path(context)
        assert [p.estimator_name for p in path] == [
            "Pipeline",
            "SparseAutoencoderTransformer",
            "SparseAutoencoderTransformer",
        ]
        assert path[1].source_task_name == "fit-transform-sae"


def test_every_fit_of_a_grid_search_reports_its_epochs(digits):
    X, y = digits
    callback = RecordingAutoPropagatedCallback()
    pipe = Pipeline(
        [
            ("sae", SparseAutoencoderTransformer(4, max_iter=2, random_state=0)),
            ("clf", LogisticRegression(max_iter=50)),
        ]
    )
    search = GridSearchCV(pipe, {"sae__n_components": [4, 8]}, cv=2)
    search.set_callbacks(callback).fit(X, y)
    epochs = [c for c in _ended(callback, "epoch") if c.estimator_name != "LogisticRegression"]
    assert len(epochs) == (2 * 2 + 1) * 2  # (candidates x folds + refit) x epochs
    for context in epochs:
        names = [p.estimator_name for p in get_context_path(context)]
        assert names[0] == "GridSearchCV"
        assert names[-3:] == [
            "Pipeline",
            "SparseAutoencoderTransformer",
            "SparseAutoencoderTransformer",
        ]


def test_the_detector_passes_its_callbacks_to_its_autoencoder(digits):
    X, _ = digits
    callback = RecordingAutoPropagatedCallback()
    detector = SparseAutoencoderOutlierDetector(8, max_iter=2, random_state=0)
    detector.set_callbacks(callback).fit(X)
    epochs = _ended(callback, "epoch")
    assert len(epochs) == 2
    assert [p.estimator_name for p in get_context_path(epochs[0])] == [
        "SparseAutoencoderOutlierDetector",
        "SparseAutoencoderTransformer",
        "SparseAutoencoderTransformer",
    ]


def test_a_progress_bar_shows_the_stages_of_the_classifier(digits, capsys):
    pytest.importorskip("rich")
    from sklearn.callback import ProgressBar

    X, y = digits
    clf = StackedSparseAutoencoderClassifier((8,), pretrain_max_iter=1, max_iter=2)
    clf.set_callbacks(ProgressBar()).fit(X, y)
    out = capsys.readouterr().out
    for task in ["fit", "pretrain-layer-1 #0", "softmax #1", "fine-tune #2"]:
        assert f"StackedSparseAutoencoderClassifier - {task}" in out
    assert "100%" in out
