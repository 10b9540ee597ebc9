"""MNIST accuracy of the stacked classifier before and after fine-tuning.

In one process, on the 60k training images (pixels / 255), scored on the 10k
test images:

- StackedSparseAutoencoderClassifier with the README's settings, fitted twice
  from the same seed (hence the same pre-trained layers): with
  ``fine_tune=False`` (only the softmax layer trained on the pre-trained
  features: "before") and with fine-tuning ("after");
- the ablation, no pre-training (``pretrain_max_iter=0``): the same network
  with the same fine-tuning epochs, and with as many epochs as fit in the
  pre-trained model's whole fit time;
- MLPClassifier with the same hidden layers and the same number of epochs;
- Pipeline(SparseAutoencoderTransformer(1024, max_iter=30), LogisticRegression).

    python benchmarks/bench_mnist_classifier.py [--data DIR] [--n-train N] [--skip-pipeline]
"""

import argparse
import warnings

import torch
from _common import load_mnist, print_table, timed
from sklearn.base import clone
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.neural_network import MLPClassifier
from sklearn.pipeline import make_pipeline

from skl_sae import SparseAutoencoderTransformer, StackedSparseAutoencoderClassifier


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", help="folder with mnist_train.npz and mnist_test.npz")
    parser.add_argument("--n-train", type=int, default=None, help="first N training images")
    parser.add_argument("--hidden", type=int, nargs="+", default=[512, 512])
    parser.add_argument("--pretrain-epochs", type=int, default=20)
    parser.add_argument("--epochs", type=int, default=60, help="fine-tuning epochs")
    parser.add_argument("--skip-pipeline", action="store_true")
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args(argv)

    X_train, y_train, X_test, y_test = load_mnist(args.data, args.n_train)
    hidden = tuple(args.hidden)
    stacked = StackedSparseAutoencoderClassifier(
        hidden,
        pretrain_max_iter=args.pretrain_epochs,
        max_iter=args.epochs,
        device=args.device,
        random_state=0,
    )
    print(
        f"MNIST: {len(X_train)} train / {len(X_test)} test, pixels / 255 (float32); "
        f"torch threads {torch.get_num_threads()}, device {args.device}\n"
    )
    rows = []

    def report(name, model, seconds):
        accuracy = model.score(X_test, y_test)
        rows.append([name, f"{accuracy:.4f}", f"{seconds:.0f}"])
        print(f"  {name}: {accuracy:.4f} ({seconds:.0f} s)", flush=True)

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        name = f"StackedSparseAutoencoderClassifier({hidden}, pretrain_max_iter="
        name += f"{args.pretrain_epochs}, max_iter={args.epochs})"

        # The same seed gives the same pre-trained layers in both fits: the
        # first trains only the softmax layer on them, the second fine-tunes.
        frozen = clone(stacked).set_params(fine_tune=False)
        _, seconds = timed(frozen.fit, X_train, y_train)
        report(f"{name}, fine_tune=False (before fine-tuning)", frozen, seconds)
        _, stacked_seconds = timed(stacked.fit, X_train, y_train)
        report(f"{name} (after fine-tuning)", stacked, stacked_seconds)

        # Ablation 1: the same epochs of fine-tuning, no pre-training.
        ablation = clone(stacked).set_params(pretrain_max_iter=0)
        _, seconds = timed(ablation.fit, X_train, y_train)
        report(f"no pre-training, same {ablation.n_iter_} fine-tuning epochs", ablation, seconds)
        # Ablation 2: no pre-training, as many epochs as fit in the pre-trained
        # model's whole fit time (pre-training included).
        epochs = round(stacked_seconds / (seconds / ablation.n_iter_))
        matched = clone(ablation).set_params(max_iter=epochs)
        _, seconds = timed(matched.fit, X_train, y_train)
        report(f"no pre-training, {matched.n_iter_} epochs (the same fit time)", matched, seconds)

        mlp = MLPClassifier(hidden, activation="logistic", max_iter=args.epochs, random_state=0)
        _, seconds = timed(mlp.fit, X_train, y_train)
        report(f"MLPClassifier({hidden}, logistic, max_iter={args.epochs})", mlp, seconds)

        mlp_relu = MLPClassifier(hidden, max_iter=args.epochs, random_state=0)
        _, seconds = timed(mlp_relu.fit, X_train, y_train)
        report(f"MLPClassifier({hidden}, relu, max_iter={args.epochs})", mlp_relu, seconds)

        if not args.skip_pipeline:
            pipeline = make_pipeline(
                SparseAutoencoderTransformer(1024, max_iter=30, random_state=0),
                LogisticRegression(max_iter=1000),
            )
            _, seconds = timed(pipeline.fit, X_train, y_train)
            report("SparseAutoencoderTransformer(1024, max_iter=30) + LR", pipeline, seconds)
    print()
    print_table(["method", "test accuracy", "fit seconds"], rows)


if __name__ == "__main__":
    main()
