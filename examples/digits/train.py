"""The digits data set and a float 64-64-32-10 MLP trained on it.

scikit-learn ships the data set (`sklearn.datasets.load_digits`: 1797 8x8
images, pixel values 0..16, 10 classes), so nothing is downloaded. This script

- splits it once, stratified 70/30 with a fixed seed, and writes the split as
  integer arrays: data/{train,test}_x.npy ([n, 64] uint8, 0..16) and
  data/{train,test}_y.npy ([n] int64 labels);
- trains a float MLP 64-64-32-10 with ReLU on the pixels scaled by 1/16
  (so every input is in [0, 1]) and reports train/test accuracy;
- writes the float parameters as float32 arrays float/fc{0,1,2}_weight.npy
  ([out, in], the orientation of the model format) and float/fc{0,1,2}_bias.npy,
  and the accuracies to float/metrics.json.

The quantizer starts from these files; the integer split is what the
accuracy studies feed to the integer reference.

Run from the repository root:
    pip install -r examples/digits/requirements.txt
    python3 examples/digits/train.py
Every output is byte-identical on a rerun.
"""

import os

# One BLAS thread: a multi-threaded matrix product may sum in a different
# order from run to run, and the weights must be the same bytes every time.
for variable in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[variable] = "1"

import json  # noqa: E402
import warnings  # noqa: E402

import numpy as np  # noqa: E402
import sklearn  # noqa: E402
from sklearn.datasets import load_digits  # noqa: E402
from sklearn.exceptions import ConvergenceWarning  # noqa: E402
from sklearn.model_selection import train_test_split  # noqa: E402
from sklearn.neural_network import MLPClassifier  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
DATA_DIR = os.path.join(HERE, "data")
FLOAT_DIR = os.path.join(HERE, "float")

SPLIT_SEED = 20260101
TRAIN_SEED = 7
TEST_FRACTION = 0.3
HIDDEN_SIZES = (64, 32)
PIXEL_MAX = 16  # load_digits pixels are integers 0..16
MAX_EPOCHS = 300
L2_PENALTY = 1e-3


def split_data():
    """The fixed stratified split, as integer arrays."""
    digits = load_digits()
    x = digits.data.astype(np.uint8)  # float64 holding integers 0..16
    assert np.array_equal(x, digits.data) and x.max() == PIXEL_MAX
    y = digits.target.astype(np.int64)
    return train_test_split(x, y, test_size=TEST_FRACTION, stratify=y, random_state=SPLIT_SEED)


def scale(x):
    return x.astype(np.float64) / PIXEL_MAX


def train(train_x, train_y):
    mlp = MLPClassifier(
        hidden_layer_sizes=HIDDEN_SIZES,
        activation="relu",
        solver="adam",
        alpha=L2_PENALTY,
        batch_size=64,
        learning_rate_init=1e-3,
        max_iter=MAX_EPOCHS,
        # Run every epoch: a fixed amount of training is easier to reproduce
        # than a stopping rule, and this data set does not overfit badly.
        tol=0.0,
        n_iter_no_change=MAX_EPOCHS,
        shuffle=True,
        random_state=TRAIN_SEED,
    )
    with warnings.catch_warnings():
        # tol = 0 means "never converged" by sklearn's definition.
        warnings.simplefilter("ignore", ConvergenceWarning)
        mlp.fit(scale(train_x), train_y)
    return mlp


def accuracy(mlp, x, y):
    return float(np.mean(mlp.predict(scale(x)) == y))


def save(folder, name, array):
    os.makedirs(folder, exist_ok=True)
    np.save(os.path.join(folder, name), array)


def save_split(train_x, test_x, train_y, test_y):
    save(DATA_DIR, "train_x.npy", train_x)
    save(DATA_DIR, "train_y.npy", train_y)
    save(DATA_DIR, "test_x.npy", test_x)
    save(DATA_DIR, "test_y.npy", test_y)


def save_parameters(mlp):
    # sklearn stores weights as [in, out]; the model format wants [out, in].
    for index, (weight, bias) in enumerate(zip(mlp.coefs_, mlp.intercepts_)):
        save(FLOAT_DIR, f"fc{index}_weight.npy", np.ascontiguousarray(weight.T, dtype=np.float32))
        save(FLOAT_DIR, f"fc{index}_bias.npy", bias.astype(np.float32))


def save_metrics(metrics):
    os.makedirs(FLOAT_DIR, exist_ok=True)
    with open(os.path.join(FLOAT_DIR, "metrics.json"), "w") as f:
        json.dump(metrics, f, indent=2, sort_keys=True)
        f.write("\n")


def main():
    train_x, test_x, train_y, test_y = split_data()
    save_split(train_x, test_x, train_y, test_y)
    mlp = train(train_x, train_y)
    save_parameters(mlp)
    metrics = {
        "layers": [64, *HIDDEN_SIZES, 10],
        "input_scale": f"1/{PIXEL_MAX}",
        "train_samples": int(len(train_y)),
        "test_samples": int(len(test_y)),
        "epochs": int(mlp.n_iter_),
        "train_accuracy": round(accuracy(mlp, train_x, train_y), 6),
        "test_accuracy": round(accuracy(mlp, test_x, test_y), 6),
        "numpy": np.__version__,
        "scikit_learn": sklearn.__version__,
    }
    save_metrics(metrics)
    print(
        f"float MLP 64-64-32-10: train accuracy {metrics['train_accuracy']:.4f} "
        f"({metrics['train_samples']} samples), test accuracy "
        f"{metrics['test_accuracy']:.4f} ({metrics['test_samples']} samples)"
    )


if __name__ == "__main__":
    main()
