"""Run by the Dockerfile, at build time: MNIST into the image, and the chapter's notebooks set to read it.

1. MNIST in /app/mnist: the files the build's docker/mnist/ folder brought there, and the ones it lacks
   downloaded from MNIST_URL (nothing is downloaded where MNIST_URL is empty). Files with paddle's md5 are
   linked into paddle's dataset cache as well, so that `docker run IMAGE` finds them as its download. The
   build fails, saying what to do, when the image would hold no whole split.
2. The chapter's notebooks, rewritten in place with their settings cell reading that folder: data_dir
   "/app/mnist", and mnist_split "test" where only the test split is there.

    python docker/stock.py MNIST_DIR CACHE_DIR MNIST_URL NOTEBOOK...
"""
import hashlib
import http.client
import json
import os
import re
import shutil
import sys
import urllib.request

from dcgan_port.data import MNIST_FILES

DOWNLOAD_TIMEOUT = 60  # seconds without an answer before a download is given up


def md5(path):
    with open(path, "rb") as f:
        return hashlib.md5(f.read()).hexdigest()


def present(folder, stem):
    """The file of this stem in folder, gzip-compressed or raw, as dcgan_port.data reads it, or None."""
    for name in (stem + ".gz", stem):
        if os.path.isfile(os.path.join(folder, name)):
            return name
    return None


def stock_mnist(folder, cache, url):
    can_download = bool(url)
    for split, files in MNIST_FILES.items():
        for stem, expected in files:
            name = present(folder, stem)
            if name is not None:
                print("MNIST {}: {} from the build's docker/mnist/".format(split, name))
            elif can_download:
                name = stem + ".gz"
                address = url.rstrip("/") + "/" + name
                try:
                    with urllib.request.urlopen(address, timeout=DOWNLOAD_TIMEOUT) as answer, \
                            open(os.path.join(folder, name), "wb") as f:
                        shutil.copyfileobj(answer, f)
                except (OSError, http.client.HTTPException) as e:
                    print("MNIST {}: {} could not be downloaded ({}); no more downloads are tried".format(
                        split, address, e))
                    can_download = False
                    if os.path.exists(os.path.join(folder, name)):
                        os.remove(os.path.join(folder, name))
                    continue
                if md5(os.path.join(folder, name)) != expected:
                    os.remove(os.path.join(folder, name))
                    sys.exit("stock.py: {} arrived altered (its md5 is not paddle's)".format(address))
                print("MNIST {}: {} downloaded from {}".format(split, name, address))
            else:
                continue
            if name.endswith(".gz") and md5(os.path.join(folder, name)) == expected:
                os.makedirs(cache, exist_ok=True)
                os.symlink(os.path.join(folder, name), os.path.join(cache, name))
                print("MNIST {}: {} is the original (paddle's md5): linked into paddle's dataset cache "
                      "{}".format(split, name, cache))
    splits = [split for split, files in MNIST_FILES.items()
              if all(present(folder, stem) for stem, _ in files)]
    if not splits:
        sys.exit("stock.py: the image would hold no whole MNIST split: the build could not download one "
                 "from {!r}, and docker/mnist/ holds none. Put MNIST's t10k-images-idx3-ubyte.gz and "
                 "t10k-labels-idx1-ubyte.gz (and the train- files) in docker/mnist/ and build again "
                 "(docker/mnist/README.md)".format(url))
    print("MNIST in {}: the {} split{}".format(folder, " and ".join(splits), "s" if len(splits) > 1 else ""))
    return splits


SETTINGS = {
    "en": ('data_dir = "{}"  # this image\'s copy of MNIST: the container trains offline',
           'mnist_split = "{}"  # {}',
           {"train": '"train" (60,000 digits) or "test" (10,000)',
            "test": 'this image holds only the test split (10,000 digits)'}),
    "cn": ('data_dir = "{}"  # 镜像内的 MNIST：容器无需联网即可训练',
           'mnist_split = "{}"  # {}',
           {"train": '"train"（60,000 个数字）或 "test"（10,000 个）',
            "test": "本镜像只含测试集（10,000 个数字）"}),
}


def set_notebook(path, data_dir, split):
    with open(path, encoding="utf-8") as f:
        notebook = json.load(f)
    (cell,) = [c for c in notebook["cells"] if "parameters" in c.get("metadata", {}).get("tags", [])]
    data_line, split_line, split_notes = SETTINGS["cn" if ".cn." in os.path.basename(path) else "en"]
    text = "".join(cell["source"])
    for variable, line in (("data_dir", data_line.format(data_dir)),
                           ("mnist_split", split_line.format(split, split_notes[split]))):
        text, count = re.subn(r"^{} = .*$".format(variable), lambda _: line, text, flags=re.M)
        if count != 1:
            sys.exit("stock.py: {} sets {} {} times in its settings cell, not once".format(
                path, variable, count))
    cell["source"] = text.splitlines(keepends=True)
    with open(path, "w", encoding="utf-8") as f:
        json.dump(notebook, f, ensure_ascii=False, indent=1)
        f.write("\n")


def main(argv):
    folder, cache, url, *notebooks = argv
    splits = stock_mnist(folder, cache, url)
    for notebook in notebooks:
        set_notebook(notebook, folder, "train" if "train" in splits else "test")
        print("{} reads MNIST from {}".format(notebook, folder))


if __name__ == "__main__":
    main(sys.argv[1:])
