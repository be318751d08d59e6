"""keras_preact.training.evaluation: counts, confusion matrix and flip averaging on a model
whose outputs are known in closed form; arguments that do not apply are refused."""

import keras
import numpy as np
import pytest

from image_folders import make_image_folder
from keras_preact.training import evaluation


def test_crop_fraction_is_refused_for_cifar_size_images(tmp_path):
    folder = make_image_folder(tmp_path / "images", per_class=2, test_per_class=2)
    with pytest.raises(ValueError, match="--crop-fraction applies to ImageNet-size"):
        evaluation.evaluate_weights({"depth": 8, "family": "cifar"}, str(tmp_path / "w.h5"),
                                    str(folder), crop_fraction=1.0)


def _mirror_sensitive_model():
    """Images of 1x2 pixels, one channel [a, b]; outputs [a, b, 0.6 (a + b)]. A mirrored
    image swaps a and b, so the flip-averaged outputs always rank class 2 first."""
    model = keras.Sequential([keras.Input((1, 2, 1)), keras.layers.Flatten(),
                              keras.layers.Dense(3, use_bias=False)])
    model.layers[-1].kernel.assign(np.array([[1.0, 0.0, 0.6], [0.0, 1.0, 0.6]], "float32"))
    return model


def _batches(pixels, labels, weights):
    images = np.array(pixels, "float32").reshape(-1, 1, 2, 1)
    return [(images, np.array(labels), np.array(weights, "float32"))]


def test_confusion_matrix_and_flip_tta_are_counted_apart():
    # [1,0] true 2: plain says 0, flipped 2.  [0,1] true 1: plain 1, flipped 2.
    # [2,0] true 0: plain 0, flipped 2.  The last row is padding (weight 0).
    batches = _batches([[1, 0], [0, 1], [2, 0], [0, 5]], [2, 1, 0, 1], [1, 1, 1, 0])
    result = evaluation.evaluate_classifier(_mirror_sensitive_model(), batches,
                                            ["a", "b", "c"], top_k=2, flip_tta=True)
    assert result["confusion_matrix"] == [[1, 0, 0], [0, 1, 0], [1, 0, 0]]
    assert result["examples"] == 3
    assert result["top1_error"] == pytest.approx(100 / 3, abs=1e-3)
    assert result["per_class_accuracy"] == {"a": 100.0, "b": 100.0, "c": 0.0}
    # top-2 of [1, 0, 0.6] is {0, 2}: the true class 2 is in it.
    assert result["top2_error"] == 0.0
    flipped = result["flip_tta"]
    assert flipped["confusion_matrix"] == [[0, 0, 1], [0, 0, 1], [0, 0, 1]]
    assert flipped["top1_error"] == pytest.approx(200 / 3, abs=1e-3)
    assert flipped["per_class_accuracy"] == {"a": 0.0, "b": 0.0, "c": 100.0}
    assert "seconds" not in flipped and "flip_tta" not in flipped


def test_flip_tta_is_off_by_default_and_matrices_sum_over_processes():
    batches = _batches([[1, 0], [0, 1], [2, 0]], [2, 1, 0], [1, 1, 1])
    model = _mirror_sensitive_model()
    alone = evaluation.evaluate_classifier(model, batches, ["a", "b", "c"], top_k=1)
    assert "flip_tta" not in alone
    doubled = evaluation.evaluate_classifier(model, batches, ["a", "b", "c"], top_k=1,
                                             reduce=lambda counts: 2 * counts)
    assert np.array_equal(doubled["confusion_matrix"], 2 * np.array(alone["confusion_matrix"]))
    assert doubled["top1_error"] == alone["top1_error"]


def test_no_confusion_matrix_in_the_report_beyond_the_class_limit():
    classes = evaluation.CONFUSION_MAX_CLASSES + 1
    model = keras.Sequential([keras.Input((1, 2, 1)), keras.layers.Flatten(),
                              keras.layers.Dense(classes)])
    result = evaluation.evaluate_classifier(
        model, _batches([[1, 0]], [3], [1]), [f"c{i}" for i in range(classes)], top_k=5)
    assert "confusion_matrix" not in result and result["examples"] == 1


def test_progress_bar_counts_the_batches_and_shows_the_running_error(capsys):
    batches = _batches([[1, 0], [0, 1]], [2, 1], [1, 1]) * 3
    result = evaluation.evaluate_classifier(_mirror_sensitive_model(), batches,
                                            ["a", "b", "c"], top_k=1, progress=True)
    shown = capsys.readouterr().out
    assert "3/3" in shown and "top1_error: 50.0000" in shown
    assert result["examples"] == 6 and result["top1_error"] == 50.0
    evaluation.evaluate_classifier(_mirror_sensitive_model(), batches, ["a", "b", "c"],
                                   top_k=1)
    assert capsys.readouterr().out == ""
