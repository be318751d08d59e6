"""keras_preact.training.schedules and keras_preact.training.recipes: the paper's schedule at its
boundaries, batch scaling, the short-budget schedules, overrides and serialisation."""

import keras
import numpy as np
import pytest

from keras_preact.training import recipes
from keras_preact.training.schedules import WarmupSchedule


def _rates(schedule, steps):
    return [float(keras.ops.convert_to_numpy(schedule(s))) for s in steps]


def test_paper_schedule_has_the_papers_iterations_at_batch_128():
    recipe = recipes.get_recipe("paper", "cifar")
    schedule = recipe.learning_rate_schedule(50_000, 50_000 // 128)
    config = schedule.get_config()
    assert config["warmup_steps"] == 400 and config["boundaries"] == [32_000, 48_000]
    assert recipe.fit_epochs(50_000, 390) == 164 and config["total_steps"] == 164 * 390
    steps = [0, 399, 400, 31_999, 32_000, 47_999, 48_000, 63_959]
    expected = [0.01, 0.01, 0.1, 0.1, 0.01, 0.01, 0.001, 0.001]
    np.testing.assert_allclose(_rates(schedule, steps), expected, rtol=1e-5)


def test_paper_schedule_scales_with_the_batch():
    recipe = recipes.get_recipe("paper").override(batch_size=256)
    config = recipe.learning_rate_schedule(50_000, 195).get_config()
    assert config["base_lr"] == pytest.approx(0.2) and config["warmup_lr"] == pytest.approx(0.02)
    assert config["warmup_steps"] == 200 and config["boundaries"] == [16_000, 24_000]
    assert recipe.fit_epochs(50_000, 195) == 164


def test_epoch_override_moves_milestones_and_dry_runs_keep_the_shape():
    recipe = recipes.get_recipe("paper").override(epochs=10)
    assert recipe.milestones == pytest.approx((5.0, 7.5))
    config = recipe.learning_rate_schedule(50_000, 3).get_config()  # capped dry run
    assert config["boundaries"] == [15, 22] and config["total_steps"] == 30
    assert recipe.override(milestones=(2, 4)).milestones == (2.0, 4.0)
    assert recipes.get_recipe("paper", "imagenet").milestones == (30, 60)


def test_coupled_weight_decay_is_documented_as_l2_over_two():
    assert recipes.PAPER_CIFAR.weight_decay == 1e-4  # training uses L2(1e-4 / 2)
    assert recipes.FAST_CIFAR.nesterov and recipes.FAST_CIFAR.label_smoothing == 0.1


def test_cosine_and_onecycle_with_linear_warmup():
    cosine = WarmupSchedule(0.4, 1000, kind="cosine", warmup_steps=100, warmup="linear")
    np.testing.assert_allclose(_rates(cosine, [0, 50, 100, 550, 1000]),
                               [0.0, 0.2, 0.4, 0.2, 0.0], atol=1e-6)
    onecycle = WarmupSchedule(1.0, 300, kind="onecycle", warmup_steps=100, warmup="linear",
                              final_lr=0.1)
    np.testing.assert_allclose(_rates(onecycle, [50, 100, 200, 300, 400]),
                               [0.5, 1.0, 0.55, 0.1, 0.1], atol=1e-6)


def test_schedule_serialises_and_rejects_bad_values():
    schedule = WarmupSchedule(0.1, 64_000, boundaries=(32_000, 48_000), warmup_steps=400)
    restored = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(schedule))
    assert restored.get_config() == schedule.get_config()
    with pytest.raises(ValueError, match="kind"):
        WarmupSchedule(0.1, 10, kind="exponential")
    with pytest.raises(ValueError, match="increasing"):
        WarmupSchedule(0.1, 10, boundaries=(5, 2))
    with pytest.raises(ValueError, match="mixed_precision"):
        recipes.get_recipe("fast").override(mixed_precision="int8")
    with pytest.raises(ValueError, match="Unknown recipe"):
        recipes.get_recipe("sota")
    assert recipes.get_recipe("fast").cutout == 0  # Cutout is never on unless asked for
    for side in (-4, 2.5):
        with pytest.raises(ValueError, match="cutout is a side in pixels"):
            recipes.get_recipe("fast").override(cutout=side)
