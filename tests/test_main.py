"""The command line ``python -m skl_sae``."""

import csv

import numpy as np
import pytest
from sklearn.datasets import load_digits

from skl_sae.__main__ import load_data, main

FAST = ["--max-iter", "2", "--n-components", "8"]


def write_digits_csv(path, label=lambda y: f"digit-{y}", n_samples=200):
    """A CSV of the first ``n_samples`` digits: a header row, 64 pixel columns
    and the label, written as ``label(y)``, in the last column."""
    X, y = load_digits(return_X_y=True)
    with open(path, "w", newline="") as file:
        writer = csv.writer(file)
        writer.writerow([f"pixel_{j}" for j in range(X.shape[1])] + ["label"])
        for row, target in zip(X[:n_samples], y[:n_samples], strict=True):
            writer.writerow([f"{value:g}" for value in row] + [label(target)])
    return X[:n_samples], y[:n_samples]


def test_csv_with_string_labels_runs(tmp_path, capsys):
    path = tmp_path / "digits.csv"
    write_digits_csv(path)
    main(["--data", str(path), *FAST])
    out = capsys.readouterr().out
    assert f"data: {path}, 150 train / 50 test, 64 features" in out
    for model in ("raw features + LR", "sparse autoencoder + LR"):
        (line,) = [line for line in out.splitlines() if line.startswith(model)]
        accuracy = float(line[len(model) :].split()[0])
        assert 0.0 <= accuracy <= 1.0


def test_csv_string_labels_are_read_as_strings_and_features_as_floats(tmp_path):
    path = tmp_path / "digits.csv"
    X_expected, y_expected = write_digits_csv(path, n_samples=20)
    X, y = load_data(path)
    assert X.dtype == np.float64
    np.testing.assert_array_equal(X, X_expected)
    assert y.dtype.kind == "U"
    assert list(y) == [f"digit-{target}" for target in y_expected]


def test_csv_numeric_labels_are_read_as_numbers(tmp_path):
    path = tmp_path / "digits.csv"
    X_expected, y_expected = write_digits_csv(path, label=str, n_samples=20)
    X, y = load_data(path)
    np.testing.assert_array_equal(X, X_expected)
    assert y.dtype.kind == "i"
    np.testing.assert_array_equal(y, y_expected)


def test_csv_header_row_is_skipped_and_blank_lines_ignored(tmp_path):
    path = tmp_path / "tiny.csv"
    path.write_text("a,b,label\n1,2,cat\n\n3.5, 4 ,dog\n")
    X, y = load_data(path)
    np.testing.assert_array_equal(X, [[1.0, 2.0], [3.5, 4.0]])
    assert list(y) == ["cat", "dog"]


def test_csv_non_numeric_feature_raises_naming_the_file(tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text("a,colour,label\n1,2,cat\n\n3,red,dog\n")
    with pytest.raises(ValueError, match="bad.csv") as excinfo:
        load_data(path)
    message = str(excinfo.value)
    assert "'colour'" in message and "'red'" in message and "line 4" in message


def test_csv_non_numeric_feature_raises_from_the_command_line(tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text("a,b,label\nx,2,cat\n")
    with pytest.raises(ValueError, match="bad.csv"):
        main(["--data", str(path), *FAST])


def test_csv_ragged_row_raises_naming_the_file(tmp_path):
    path = tmp_path / "ragged.csv"
    path.write_text("a,b,label\n1,2,cat\n3,dog\n")
    with pytest.raises(ValueError, match="ragged.csv"):
        load_data(path)


def test_npz_still_loads(tmp_path):
    path = tmp_path / "data.npz"
    X, y = np.arange(12.0).reshape(4, 3), np.array(["a", "b", "a", "b"])
    np.savez(path, X=X, y=y)
    X_loaded, y_loaded = load_data(path)
    np.testing.assert_array_equal(X_loaded, X)
    np.testing.assert_array_equal(y_loaded, y)


def test_other_suffix_raises_naming_the_file(tmp_path):
    with pytest.raises(ValueError, match="data.txt"):
        load_data(tmp_path / "data.txt")


def test_help_has_no_rst_markup(capsys):
    with pytest.raises(SystemExit) as excinfo:
        main(["--help"])
    assert excinfo.value.code == 0
    out = capsys.readouterr().out
    assert "`" not in out
    assert "python -m skl_sae: sparse autoencoder features + logistic regression." in out
    assert "SparseAutoencoderTransformer" in out
