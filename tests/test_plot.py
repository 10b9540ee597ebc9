"""The displays of skl_sae.plot, checked by what they drew (Agg backend)."""

import sys
import warnings

import numpy as np
import pytest
from sklearn.exceptions import ConvergenceWarning

matplotlib = pytest.importorskip("matplotlib")
matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from skl_sae import (  # noqa: E402
    SparseAutoencoderImputer,
    SparseAutoencoderOutlierDetector,
    SparseAutoencoderTransformer,
    StackedSparseAutoencoderClassifier,
)
from skl_sae.plot import (  # noqa: E402
    ActivationHistogramDisplay,
    FiltersDisplay,
    LossCurveDisplay,
    ReconstructionDisplay,
)


@pytest.fixture(autouse=True)
def _close_figures():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        yield
    plt.close("all")


@pytest.fixture(scope="module")
def sae(digits):
    X, _ = digits
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return SparseAutoencoderTransformer(
            12, max_iter=5, early_stopping=True, random_state=0
        ).fit(X)


def _visible_image_axes(figure):
    return [ax for ax in figure.axes if ax.get_visible() and ax.images]


@pytest.mark.parametrize("weights", ["decoder", "encoder"])
def test_filters_are_one_image_per_unit(sae, weights):
    display = FiltersDisplay.from_estimator(sae, weights=weights)
    assert len(_visible_image_axes(display.figure_)) == 12
    assert display.axes_.shape == (3, 4)  # about square: ceil(sqrt(12)) columns
    expected = sae.components_ if weights == "decoder" else sae.encoder_weights_
    for image, weight in zip(display.images_, expected, strict=True):
        np.testing.assert_array_equal(image.get_array(), weight.reshape(8, 8))


def test_filters_of_the_classifier_are_its_first_layer(digits):
    X, y = digits
    clf = StackedSparseAutoencoderClassifier((9, 4), pretrain_max_iter=1, max_iter=1)
    clf.fit(X, y)
    display = FiltersDisplay.from_estimator(clf, n_cols=3)
    assert display.axes_.shape == (3, 3)
    fifth_unit = clf.coefs_[0][:, 4].reshape(8, 8)
    np.testing.assert_array_equal(display.images_[4].get_array(), fifth_unit)


def test_a_convolutional_imputer_has_no_filters_of_the_whole_image(digits):
    X, _ = digits
    X_missing = np.where(np.random.default_rng(0).random(X[:40].shape) < 0.2, np.nan, X[:40])
    imputer = SparseAutoencoderImputer(4, image_shape=(8, 8), max_iter=1).fit(X_missing)
    with pytest.raises(ValueError, match="network='dense' to draw them"):
        FiltersDisplay.from_estimator(imputer)


def test_filters_need_an_image_shape_that_holds_the_features(sae):
    with pytest.raises(ValueError, match="square"):
        FiltersDisplay(np.ones((2, 10))).plot()
    with pytest.raises(ValueError, match="holds 9 pixels, but X has 10 features"):
        FiltersDisplay(np.ones((2, 10)), image_shape=(3, 3)).plot()
    display = FiltersDisplay(np.ones((5, 10)), image_shape=(2, 5)).plot()
    assert display.images_[0].get_array().shape == (2, 5)
    assert display.axes_.shape == (2, 3)
    assert len(_visible_image_axes(display.figure_)) == 5  # the sixth tile is hidden


def test_filters_drawn_in_one_axes_take_its_place(sae):
    fig, (left, right) = plt.subplots(1, 2)
    display = FiltersDisplay.from_estimator(sae, ax=right)
    assert display.figure_ is fig and display.bounding_ax_ is right
    assert not right.axison  # hidden behind the tiles
    assert len(_visible_image_axes(fig)) == 12
    # The tiles lie inside the Axes they replaced, none inside its neighbour.
    box, other = right.get_position(), left.get_position()
    for tile in display.axes_.ravel():
        centre = tile.get_position().get_points().mean(axis=0)
        assert box.x0 <= centre[0] <= box.x1 and box.y0 <= centre[1] <= box.y1
        assert not other.x0 <= centre[0] <= other.x1


def test_filters_drawn_in_an_axes_placed_by_hand(sae):
    fig = plt.figure()
    ax = fig.add_axes((0.5, 0.1, 0.4, 0.4))
    display = FiltersDisplay.from_estimator(sae, ax=ax)
    box = ax.get_position()
    corners = np.array([t.get_position(original=True).get_points() for t in display.axes_.ravel()])
    np.testing.assert_allclose(corners[:, :, 0].min(), box.x0)
    np.testing.assert_allclose(corners[:, :, 1].max(), box.y1)


def test_filters_fill_an_array_of_axes_in_its_shape(sae):
    fig, axes = plt.subplots(2, 7)
    display = FiltersDisplay.from_estimator(sae, ax=axes, n_cols=3)  # the array's shape wins
    assert display.axes_.shape == (2, 7) and display.bounding_ax_ is None
    assert display.axes_[1, 4] is axes[1, 4]
    np.testing.assert_array_equal(display.images_[8].get_array(), sae.components_[8].reshape(8, 8))
    assert len(_visible_image_axes(fig)) == 12  # two tiles left over, hidden
    with pytest.raises(ValueError, match="12 filters"):
        FiltersDisplay.from_estimator(sae, ax=plt.subplots(2, 5)[1])


def test_three_displays_share_one_figure(sae):
    fig, axes = plt.subplots(1, 3)
    for ax, weights in zip(axes[:2], ["decoder", "encoder"], strict=True):
        FiltersDisplay.from_estimator(sae, weights=weights, ax=ax)
    curves = LossCurveDisplay.from_estimator(sae, ax=axes[2])
    assert len(_visible_image_axes(fig)) == 24
    assert curves.bounding_ax_ is axes[2] and len(curves.lines_) == 2


def test_displays_show_an_outlier_detectors_autoencoder(digits):
    X, _ = digits
    detector = SparseAutoencoderOutlierDetector(n_components=9, max_iter=3, random_state=0)
    detector.fit(X)
    autoencoder = detector.autoencoder_
    filters = FiltersDisplay.from_estimator(detector)
    np.testing.assert_array_equal(
        filters.images_[0].get_array(), autoencoder.components_[0].reshape(8, 8)
    )
    reconstructions = ReconstructionDisplay.from_estimator(detector, X, n_samples=3)
    np.testing.assert_allclose(
        reconstructions.images_[1, 2].get_array(),
        autoencoder.inverse_transform(autoencoder.transform(X[2:3])).reshape(8, 8),
    )
    curves = LossCurveDisplay.from_estimator(detector)
    np.testing.assert_array_equal(
        curves.lines_["training objective"].get_ydata(), autoencoder.loss_curve_
    )
    histogram = ActivationHistogramDisplay.from_estimator(detector, X)
    assert histogram.counts_.sum() == autoencoder.n_components


def test_displays_refuse_an_unfitted_estimator(digits):
    X, _ = digits
    from sklearn.exceptions import NotFittedError

    for make in [
        lambda est: FiltersDisplay.from_estimator(est),
        lambda est: ReconstructionDisplay.from_estimator(est, X),
        lambda est: LossCurveDisplay.from_estimator(est),
    ]:
        for est in [SparseAutoencoderTransformer(), SparseAutoencoderOutlierDetector()]:
            with pytest.raises(NotFittedError):
                make(est)


def test_reconstructions_sit_below_their_inputs(sae, digits):
    X, _ = digits
    display = ReconstructionDisplay.from_estimator(sae, X, n_samples=6)
    assert display.axes_.shape == (2, 6)
    assert len(_visible_image_axes(display.figure_)) == 12
    reconstructions = sae.inverse_transform(sae.transform(X[:6]))
    for j in range(6):
        np.testing.assert_array_equal(display.images_[0, j].get_array(), X[j].reshape(8, 8))
        np.testing.assert_allclose(
            display.images_[1, j].get_array(), reconstructions[j].reshape(8, 8)
        )


def test_denoising_shows_noisy_denoised_and_clean_rows(sae, digits):
    X, _ = digits
    noisy = np.clip(X + np.random.default_rng(0).normal(scale=0.3, size=X.shape), 0, 1)
    display = ReconstructionDisplay.from_estimator(sae, noisy, clean=X, n_samples=4)
    assert display.axes_.shape == (3, 4)
    assert [ax.get_ylabel() for ax in display.axes_[:, 0]] == ["input", "reconstruction", "clean"]
    np.testing.assert_array_equal(display.images_[2, 3].get_array(), X[3].reshape(8, 8))


def test_reconstructions_drawn_in_one_axes_or_an_array_of_axes(sae, digits):
    X, _ = digits
    fig, (top, bottom) = plt.subplots(2, 1)
    display = ReconstructionDisplay.from_estimator(sae, X, n_samples=5, ax=bottom)
    assert display.bounding_ax_ is bottom and display.axes_.shape == (2, 5)
    fig, axes = plt.subplots(2, 4)
    display = ReconstructionDisplay.from_estimator(sae, X, n_samples=4, ax=axes)
    assert display.axes_[1, 3] is axes[1, 3]
    np.testing.assert_array_equal(display.images_[0, 3].get_array(), X[3].reshape(8, 8))
    with pytest.raises(ValueError, match=r"need \(2, 5\)"):
        ReconstructionDisplay.from_estimator(sae, X, n_samples=5, ax=axes)


def _panels(display):
    """(title, y label, curve labels) of each panel drawn."""
    return [
        (
            ax.get_title(),
            ax.get_ylabel(),
            [label for label, line in display.lines_.items() if line.axes is ax],
        )
        for ax in display.axes_
    ]


def test_loss_curves_put_the_objective_and_the_validation_score_on_their_own_axes(sae):
    display = LossCurveDisplay.from_estimator(sae)
    assert _panels(display) == [
        (
            "training objective",
            "loss (unexplained variance + penalties)",
            ["training objective"],
        ),
        ("validation score", "explained variance (held out)", ["validation score"]),
    ]
    assert display.ax_ is display.axes_[0] and display.bounding_ax_ is None
    assert display.figure_ is display.axes_[1].figure
    training, validation = display.lines_["training objective"], display.lines_["validation score"]
    assert training.axes is not validation.axes
    np.testing.assert_array_equal(training.get_ydata(), sae.loss_curve_)
    np.testing.assert_array_equal(validation.get_ydata(), sae.validation_scores_)
    np.testing.assert_array_equal(training.get_xdata(), np.arange(1, sae.n_iter_ + 1))
    assert all(ax.get_xlabel() == "epoch" for ax in display.axes_)


def test_loss_curves_without_early_stopping_draw_in_the_axes_given(digits):
    X, _ = digits
    sae = SparseAutoencoderTransformer(6, max_iter=2, random_state=0).fit(X)
    fig, ax = plt.subplots()
    display = LossCurveDisplay.from_estimator(sae, ax=ax)
    assert display.ax_ is ax and list(display.axes_) == [ax]
    assert display.bounding_ax_ is None and ax.axison
    assert list(display.lines_) == ["training objective"]
    assert ax.get_ylabel() == "loss (unexplained variance + penalties)"


def test_loss_curve_panels_take_the_place_of_one_axes_or_fill_an_array(sae):
    fig, (left, right) = plt.subplots(1, 2)
    display = LossCurveDisplay.from_estimator(sae, ax=right)
    assert display.bounding_ax_ is right and not right.axison
    assert display.figure_ is fig and len(display.axes_) == 2
    box = right.get_position()
    for ax in display.axes_:
        centre = ax.get_position().get_points().mean(axis=0)
        assert box.x0 <= centre[0] <= box.x1 and box.y0 <= centre[1] <= box.y1
    fig, axes = plt.subplots(2, 1)
    display = LossCurveDisplay.from_estimator(sae, ax=axes)
    assert display.axes_[1] is axes[1] and display.bounding_ax_ is None
    assert display.lines_["validation score"].axes is axes[1]
    with pytest.raises(ValueError, match="3 Axes for 2 panels"):
        LossCurveDisplay.from_estimator(sae, ax=plt.subplots(1, 3)[1])


def test_loss_curves_of_the_classifier_show_each_stage_on_its_own_axes(digits):
    X, y = digits
    clf = StackedSparseAutoencoderClassifier(
        (8, 4), pretrain_max_iter=3, max_iter=4, early_stopping=True, random_state=0
    ).fit(X, y)
    display = LossCurveDisplay.from_estimator(clf)
    assert _panels(display) == [
        (
            "pre-training (autoencoders)",
            "loss (unexplained variance + penalties)",
            ["pre-training, layer 1", "pre-training, layer 2"],
        ),
        ("softmax layer", "loss (cross-entropy + weight decay)", ["softmax layer"]),
        ("fine-tuning", "loss (cross-entropy + weight decay)", ["fine-tuning"]),
        ("validation score", "accuracy (held out)", ["validation score"]),
    ]
    expected = {
        "pre-training, layer 1": clf.pretrain_loss_curves_[0],
        "pre-training, layer 2": clf.pretrain_loss_curves_[1],
        "softmax layer": clf.softmax_loss_curve_,
        "fine-tuning": clf.loss_curve_,
        "validation score": clf.validation_scores_,
    }
    for label, curve in expected.items():
        np.testing.assert_array_equal(display.lines_[label].get_ydata(), curve)
    assert len(clf.softmax_loss_curve_) == 3  # the softmax stage ran, and is shown
    assert display.axes_[0].get_legend() is not None  # two layers: a legend names them


def test_loss_curves_of_the_classifier_without_fine_tuning_or_pre_training(digits):
    X, y = digits
    frozen = StackedSparseAutoencoderClassifier(
        (8,), pretrain_max_iter=2, max_iter=3, fine_tune=False, random_state=0
    ).fit(X, y)
    display = LossCurveDisplay.from_estimator(frozen)
    # The softmax layer is the last stage: loss_curve_ is its curve.
    assert [title for title, _, _ in _panels(display)] == [
        "pre-training (autoencoders)",
        "softmax layer",
    ]
    np.testing.assert_array_equal(display.lines_["softmax layer"].get_ydata(), frozen.loss_curve_)
    unpretrained = StackedSparseAutoencoderClassifier(
        (8,), pretrain_max_iter=0, max_iter=2, random_state=0
    ).fit(X, y)
    display = LossCurveDisplay.from_estimator(unpretrained)
    assert list(display.lines_) == ["fine-tuning"]


def test_loss_curve_labels_are_unique_across_panels():
    display = LossCurveDisplay([("a", "x", {"one": [1.0, 0.5]}), ("b", "y", {"two": [3.0]})])
    assert display.plot().lines_["two"].axes is display.axes_[1]
    with pytest.raises(ValueError, match="unique"):
        LossCurveDisplay([("a", "x", {"one": [1.0]}), ("b", "y", {"one": [2.0]})]).plot()


def test_activation_histogram_counts_every_unit_and_marks_the_target(sae, digits):
    X, _ = digits
    display = ActivationHistogramDisplay.from_estimator(sae, X, bins=5)
    assert display.counts_.sum() == 12 and len(display.bars_) == 5
    assert display.target_line_.get_xdata()[0] == sae.sparsity_target
    np.testing.assert_allclose(display.mean_activations, sae.transform(X).mean(axis=0))


def test_no_target_line_without_the_kl_penalty(digits):
    X, _ = digits
    sae = SparseAutoencoderTransformer(10, sparsity="l1", max_iter=2, random_state=0).fit(X)
    assert ActivationHistogramDisplay.from_estimator(sae, X).target_line_ is None


def test_a_clear_error_names_the_plot_extra_without_matplotlib(sae, monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib.pyplot", None)
    with pytest.raises(ImportError, match=r"skl_sae\[plot\]"):
        FiltersDisplay.from_estimator(sae)


@pytest.mark.parametrize(
    "params, network", [({}, "deep"), ({"image_shape": (8, 8)}, "convolutional")]
)
def test_filters_of_an_imputer_without_whole_image_filters_are_refused_by_its_network(
    params, network
):
    X = np.random.default_rng(0).random((40, 64))
    X[np.random.default_rng(1).random(X.shape) < 0.2] = np.nan
    imputer = SparseAutoencoderImputer(n_components=4, max_iter=1, random_state=0, **params).fit(X)
    with pytest.raises(ValueError, match=f"network='{network}' has no filters"):
        FiltersDisplay.from_estimator(imputer)
