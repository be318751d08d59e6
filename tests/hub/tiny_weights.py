"""Tiny real weight sets for the weights tests: ResNet-8 (6n+2, n=1, ~76k parameters)
in three flavours, their registry entries, and a helper that lays a repo out on the
fake Hub the way `keras_preact.pretrained.publish` does."""

import dataclasses
import json
import pathlib

from keras_preact.pretrained import hub, labels
from keras_preact.pretrained.registry import Metric, PaperResult, Preprocessing, WeightsEntry

REPO_ID = "kp-test/preact-resnet8-cifar10"
ARCH = "preact_resnet8_basic"
PREPROCESSING = Preprocessing(scale=1 / 255, mean=(0.4914, 0.4822, 0.4465),
                              std=(0.2470, 0.2435, 0.2616))


@dataclasses.dataclass
class TinyWeights:
    """Weights files saved from freshly initialised models (different seeds).

    Attributes:
        path: `preact_resnet8_basic`, 10 classes.
        cifar100_path: `preact_resnet8_basic`, 100 classes.
        deeper_path: `preact_resnet14_basic`, 10 classes (another architecture).
        original_path: `resnet8_basic` (original units; same shapes as `path`).
        outputs: predictions of the `path` model on `images`.
        images: a small batch of inputs.
    """

    path: pathlib.Path
    cifar100_path: pathlib.Path
    deeper_path: pathlib.Path
    original_path: pathlib.Path
    outputs: object
    images: object
    num_params: int
    cifar100_params: int


def build(folder):
    """Builds the models once and saves their weights into `folder`."""
    import keras
    import numpy as np

    import keras_preact as kp

    folder = pathlib.Path(folder)
    paths = {}
    specs = {
        "path": dict(depth=8),
        "cifar100_path": dict(depth=8, classes=100),
        "deeper_path": dict(depth=14),
        "original_path": dict(depth=8, placement="original"),
    }
    models = {}
    for seed, (key, kwargs) in enumerate(specs.items()):
        keras.utils.set_random_seed(seed)
        models[key] = kp.build_resnet(family="cifar", **kwargs)
        paths[key] = folder / f"{models[key].name}_{key}.weights.h5"
        models[key].save_weights(paths[key])
    images = np.random.default_rng(0).uniform(0, 1, (2, 32, 32, 3)).astype("float32")
    return TinyWeights(
        **paths,
        outputs=np.asarray(models["path"].predict(images, verbose=0)),
        images=images,
        num_params=models["path"].count_params(),
        cifar100_params=models["cifar100_path"].count_params(),
    )


def entry(path, *, revision="0" * 40, repo_id=REPO_ID, num_params, num_classes=10,
          tag="cifar10", architecture=ARCH, depth=8, **overrides):
    """A registry entry describing the weights file `path`."""
    dataset = "cifar10" if num_classes == 10 else "cifar100"
    values = dict(
        architecture=architecture, tag=tag, repo_id=repo_id, revision=revision,
        filename="model.weights.h5", sha256=hub.sha256sum(path),
        file_size=pathlib.Path(path).stat().st_size, num_params=num_params,
        num_classes=num_classes, label_names=labels.get_labels(dataset),
        input_size=(32, 32), preprocessing=PREPROCESSING,
        metrics=(Metric(dataset, "test", 90.0),),
        recipe="keras-preact train --model preact_resnet8_basic --epochs 0",
        paper=PaperResult("He et al. 2016, Table 3 (not ResNet-8)", 5.46),
        dataset=f"uoft-cs/{dataset}", description="An untrained test network.",
        model_args={"depth": depth, "family": "cifar"},
    )
    values.update(overrides)
    return WeightsEntry(**values)


def seed_repo(fake_hub, the_entry, weights_path, *, metadata_name="keras_preact.json",
              extra=None):
    """Commits a published-style repo (weights + metadata) and returns the commit sha."""
    metadata = the_entry.to_dict()
    metadata["revision"] = ""
    files = {the_entry.filename: pathlib.Path(weights_path).read_bytes()}
    if metadata_name:
        files[metadata_name] = json.dumps(metadata).encode()
    files.update(extra or {})
    return fake_hub.seed(the_entry.repo_id, files)
