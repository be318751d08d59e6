"""evaluate_weights' arguments that do not apply are refused (keras_preact.training.evaluation)."""

import pytest

from image_folders import make_image_folder
from keras_preact.training import evaluation


def test_crop_fraction_is_refused_for_cifar_size_images(tmp_path):
    folder = make_image_folder(tmp_path / "images", per_class=2, test_per_class=2)
    with pytest.raises(ValueError, match="--crop-fraction applies to ImageNet-size"):
        evaluation.evaluate_weights({"depth": 8, "family": "cifar"}, str(tmp_path / "w.h5"),
                                    str(folder), crop_fraction=1.0)
