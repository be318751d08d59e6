"""`keras-preact predict`, run as a user would."""

import re
import shutil

import pytest
from PIL import Image

from keras_preact import cli

from keras_preact.pretrained import labels, registry

from hub import tiny_weights as tw


@pytest.fixture
def local_weights(hub_env, tiny_weights, monkeypatch):
    entry = tw.entry(tiny_weights.path, num_params=tiny_weights.num_params,
                     revision=registry.UNPUBLISHED)
    (hub_env.weights_dir / entry.name).mkdir()
    shutil.copyfile(tiny_weights.path, hub_env.weights_dir / entry.name / entry.filename)
    monkeypatch.setattr(registry, "WEIGHTS", {entry.name: entry})
    return entry


def test_bundled_samples_get_their_top5(local_weights, capsys):
    assert cli.main(["predict", "preact_resnet8_basic"]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"{local_weights.name} ({local_weights.num_params:,} parameters) "
                          "on 10 bundled sample images:")
    for name in labels.get_labels("cifar10"):
        assert f"{name}_0000.jpg" in out and f"(labelled {name})" in out
    ranks = re.findall(r"^    ([1-5])\. (\w+) +(\d+\.\d\d)%$", out, re.MULTILINE)
    assert len(ranks) == 50
    assert re.search(r"Top-1 matches the label on \d+ of 10 samples\.", out)


def test_own_images_and_top(local_weights, tmp_path, capsys):
    Image.new("RGB", (40, 40), (0, 90, 200)).save(tmp_path / "sky.png")
    assert cli.main(["predict", "preact_resnet8_basic", str(tmp_path / "sky.png"),
                     "--top", "2"]) == 0
    out = capsys.readouterr().out
    assert "sky.png" in out and "labelled" not in out
    assert len(re.findall(r"^    [12]\. ", out, re.MULTILINE)) == 2


def _status(argv):
    try:
        return cli.main(argv)
    except SystemExit as exit_:  # argparse refusals
        return exit_.code


@pytest.mark.parametrize("argv, status, complaint", [
    (["predict", "preact_resnet8_basic", "missing.jpg"], 2, "No such image file"),
    (["predict", "preact_resnet8_basic", "--top", "0"], 2,
     "argument --top: must be a positive integer"),
    (["predict", "preact_resnet8_basic", "--weights", "imagenet"], 2,
     "Unknown weights 'imagenet'"),
])
def test_errors_say_what_to_do(local_weights, capsys, argv, status, complaint):
    assert _status(argv) == status
    assert complaint in capsys.readouterr().err


def test_a_file_that_fails_its_checksum_exits_3(local_weights, hub_env, capsys):
    path = hub_env.weights_dir / local_weights.name / local_weights.filename
    path.write_bytes(path.read_bytes() + b"tampered")
    assert _status(["predict", "preact_resnet8_basic"]) == 3
    err = capsys.readouterr().err
    assert "Checksum mismatch" in err and "git checkout --" in err and "NOT loaded" in err
