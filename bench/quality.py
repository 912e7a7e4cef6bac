"""Sample quality measured on MNIST features: a classifier FID, the confident share, the class entropy.

    python bench/quality.py --calibrate                        # what the numbers mean
    python bench/quality.py output_dcgan/generated.npy         # digits written by dc_gan.py --generate
    python bench/quality.py --generator output_dcgan           # draw --count digits with a saved generator

A small Paddle CNN is trained (fixed seed) on the first 8,000 digits of the real MNIST test split (MNIST's
t10k files) in $DCGAN_MNIST_DIR, by default ../shared/data/mnist, and cached in bench/.cache; its accuracy on
the other 2,000 is printed. Samples are then scored against those 2,000 held-out digits:
- FID: the Frechet distance between Gaussian fits of the classifier's penultimate features (128 numbers)
  of the samples and of the held-out digits; lower is closer, real digits score near 0;
- confident: the share of samples the classifier puts in one class with probability above 0.9;
- entropy: of the histogram of predicted classes, in bits; 3.32 is all ten digits equally often, 0 is one.
"""
import argparse
import hashlib
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))

import dc_gan  # noqa: E402  (its package sets paddle's flags before paddle is imported)
import numpy as np  # noqa: E402
import paddle  # noqa: E402
from dcgan_port.data import IDX_LABELS_MAGIC, MNIST_FILES, find_idx_file, load_mnist, read_idx  # noqa: E402
from dcgan_port.drawing import draw_digits  # noqa: E402
from dcgan_port.errors import UsageError  # noqa: E402

# the real MNIST test split: DCGAN_MNIST_DIR, or where the port's development machines keep it
SHARED_MNIST = (os.environ.get("DCGAN_MNIST_DIR")
                or os.path.join(os.path.dirname(HERE), "..", "shared", "data", "mnist"))
CACHE = os.path.join(HERE, ".cache")
TRAIN_PART = 8000  # digits the classifier learns from; the rest of the split is held out
SEED = 2024
EPOCHS = 4


class Classifier(paddle.nn.Layer):
    def __init__(self):
        super().__init__()
        self.body = paddle.nn.Sequential(
            paddle.nn.Conv2D(1, 32, 3, padding=1), paddle.nn.ReLU(), paddle.nn.MaxPool2D(2),
            paddle.nn.Conv2D(32, 64, 3, padding=1), paddle.nn.ReLU(), paddle.nn.MaxPool2D(2),
            paddle.nn.Flatten(), paddle.nn.Linear(64 * 7 * 7, 128), paddle.nn.ReLU())
        self.head = paddle.nn.Linear(128, 10)

    def forward(self, x):
        features = self.body(x.reshape([-1, 1, 28, 28]))
        return features, self.head(features)


def load_split():
    images = load_mnist("test", SHARED_MNIST)
    labels_path = find_idx_file(SHARED_MNIST, MNIST_FILES["test"][1][0])
    labels = read_idx(labels_path, IDX_LABELS_MAGIC).astype("int64")
    return images, labels


def train_classifier(images, labels):
    paddle.seed(SEED)
    rng = np.random.default_rng(SEED)
    model = Classifier()
    opt = paddle.optimizer.Adam(learning_rate=1e-3, parameters=model.parameters())
    for _ in range(EPOCHS):
        order = rng.permutation(len(images))
        for start in range(0, len(order), 128):
            rows = order[start:start + 128]
            _, logits = model(paddle.to_tensor(images[rows]))
            loss = paddle.nn.functional.cross_entropy(logits, paddle.to_tensor(labels[rows]))
            loss.backward()
            opt.step()
            opt.clear_grad()
    return model


def classifier(images, labels):
    """The cached classifier, trained anew when the data or the recipe changed."""
    key = hashlib.md5(images[:TRAIN_PART].tobytes() + repr((SEED, EPOCHS)).encode()).hexdigest()[:12]
    path = os.path.join(CACHE, "classifier-{}.pdparams".format(key))
    model = Classifier()
    if os.path.isfile(path):
        model.set_state_dict(paddle.load(path))
    else:
        print("training the MNIST classifier on {} digits (cached in {})".format(TRAIN_PART, path))
        model = train_classifier(images[:TRAIN_PART], labels[:TRAIN_PART])
        os.makedirs(CACHE, exist_ok=True)
        paddle.save(model.state_dict(), path + ".tmp")
        os.replace(path + ".tmp", path)
    model.eval()
    return model


def embed(model, images):
    """Penultimate features and class probabilities of float images in [-1, 1]."""
    features, probs = [], []
    with paddle.no_grad():
        for start in range(0, len(images), 500):
            f, logits = model(paddle.to_tensor(images[start:start + 500].astype("float32")))
            features.append(f.numpy())
            probs.append(paddle.nn.functional.softmax(logits).numpy())
    return np.concatenate(features).astype("float64"), np.concatenate(probs)


def frechet_distance(a, b):
    """||mu_a - mu_b||^2 + Tr(Ca + Cb - 2 (Ca Cb)^1/2), the trace of the root from a symmetric form."""
    mu_a, mu_b = a.mean(0), b.mean(0)
    cov_a, cov_b = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    w, v = np.linalg.eigh(cov_a)
    root_a = (v * np.sqrt(np.clip(w, 0, None))) @ v.T
    cross = np.sqrt(np.clip(np.linalg.eigvalsh(root_a @ cov_b @ root_a), 0, None)).sum()
    return float(((mu_a - mu_b) ** 2).sum() + np.trace(cov_a) + np.trace(cov_b) - 2 * cross)


def score(model, reference, samples):
    features, probs = embed(model, samples)
    counts = np.bincount(probs.argmax(1), minlength=10) / len(probs)
    nonzero = counts[counts > 0]
    return {"FID": frechet_distance(features, reference),
            "confident": float((probs.max(1) > 0.9).mean()),
            "entropy": float(-(nonzero * np.log2(nonzero)).sum())}


def blurred(images):
    """A 3x3 box blur, twice."""
    x = images.reshape(-1, 28, 28)
    for _ in range(2):
        p = np.pad(x, ((0, 0), (1, 1), (1, 1)), mode="edge")
        x = sum(p[:, i:i + 28, j:j + 28] for i in range(3) for j in range(3)) / 9.0
    return x.reshape(-1, 784)


def calibration(images, labels, count):
    rng = np.random.default_rng(SEED)
    known = images[:count]
    return [
        ("real digits the classifier saw", known),
        ("real + noise (sigma 0.5)", np.clip(known + rng.normal(0, 0.5, known.shape), -1, 1)),
        ("blurred real", blurred(known)),
        ("one class only (ones)", images[:TRAIN_PART][labels[:TRAIN_PART] == 1][:count]),
        ("uniform noise", rng.uniform(-1, 1, known.shape)),
    ]


def draw_from_generator(output, count, seed):
    noise = np.random.default_rng(seed).uniform(-1, 1, (count, dc_gan.NOISE_SIZE))
    paddle.enable_static()
    try:
        return draw_digits(output, noise.astype("float32"), paddle.CPUPlace())
    except UsageError as e:
        sys.exit("quality.py: error: {}".format(e))
    finally:
        paddle.disable_static()


def load_samples(path):
    try:
        samples = np.load(path)
    except (OSError, ValueError) as e:
        sys.exit("quality.py: error: cannot read {} ({}); pass a .npy from dc_gan.py "
                 "--generate".format(path, e))
    if samples.ndim != 2 or samples.shape[1] != 784:
        sys.exit("quality.py: error: {} holds an array of shape {}; expected N x 784 digits in "
                 "[-1, 1], as dc_gan.py --generate writes".format(path, samples.shape))
    return samples


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("samples", nargs="*", help=".npy files of N x 784 digits in [-1, 1]")
    parser.add_argument("--generator", action="append", default=[], metavar="OUTPUT",
                        help="a dc_gan.py output folder holding generator.pdmodel (repeatable)")
    parser.add_argument("--count", type=int, default=5000, help="digits to draw per generator")
    parser.add_argument("--seed", type=int, default=0, help="seed of the generators' noise")
    parser.add_argument("--calibrate", action="store_true", help="score reference sets too")
    args = parser.parse_args()
    if not os.path.isfile(os.path.join(SHARED_MNIST, "t10k-images-idx3-ubyte.gz")):
        print("skipped: the real MNIST digits are not in {} (they are not part of this "
              "repository)".format(os.path.normpath(SHARED_MNIST)))
        return 0
    if not (args.samples or args.generator or args.calibrate):
        parser.error("give samples (.npy), --generator OUTPUT, or --calibrate")

    images, labels = load_split()
    model = classifier(images, labels)
    held_out, held_out_labels = images[TRAIN_PART:], labels[TRAIN_PART:]
    reference, probs = embed(model, held_out)
    print("classifier accuracy on the {} held-out digits: {:.2%}".format(
        len(held_out), (probs.argmax(1) == held_out_labels).mean()))

    sets = calibration(images, labels, len(held_out)) if args.calibrate else []
    sets += [(path, load_samples(path)) for path in args.samples]
    sets += [("{} ({} drawn)".format(out, args.count),
              draw_from_generator(out, args.count, args.seed)) for out in args.generator]
    print("{:52s} {:>8s} {:>10s} {:>8s}".format("samples", "FID", "confident", "entropy"))
    for name, samples in sets:
        s = score(model, reference, samples)
        print("{:52s} {:8.2f} {:10.1%} {:8.2f}".format(name, s["FID"], s["confident"],
                                                       s["entropy"]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
