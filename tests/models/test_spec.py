"""keras_preact.models.spec: the one ModelSpec that training configs, registry entries, run
metadata and drafted entries share, and its one build path."""

import dataclasses
import json

import pytest

import keras_preact as kp
from keras_preact.models.spec import ModelSpec, build_model, model_family
from keras_preact.pretrained import registry
from keras_preact.training.loop import TrainConfig


def test_dict_form_round_trips_and_reads_a_model_json_build():
    spec = ModelSpec(depth=110, placement="relu_preact", shortcut="exclusive_gating",
                     options={"gate_bias_init": -6.0})
    data = json.loads(json.dumps(spec.to_dict()))
    assert data == {"depth": 110, "placement": "relu_preact", "shortcut": "exclusive_gating",
                    "model_options": {"gate_bias_init": -6.0}}
    assert ModelSpec.from_dict(data) == spec
    build = {"model": "preact_resnet20", "classes": 10, "input_shape": [32, 32, 3],
             "model_options": {}, "depth": None}
    assert ModelSpec.from_dict(build) == ModelSpec(model="preact_resnet20")
    assert ModelSpec.from_dict({}).empty and not spec.empty


def test_a_training_config_and_a_registry_entry_name_the_same_network():
    config = TrainConfig(output="x", depth=20, placement="full_preact",
                         model_options={"dropout_rate": 0.3})
    assert config.spec == ModelSpec(depth=20, placement="full_preact",
                                    options={"dropout_rate": 0.3})
    entry = registry.get_weights_entry("preact_resnet20.cifar10")
    assert ModelSpec.from_entry(entry) == ModelSpec(model="preact_resnet20")
    custom = dataclasses.replace(entry, model_args={"depth": 20, "placement": "relu_preact",
                                                    "gate_bias_init": -3.0})
    spec = ModelSpec.from_entry(custom)
    assert (spec.depth, spec.placement, dict(spec.options)) == (20, "relu_preact",
                                                              {"gate_bias_init": -3.0})
    assert spec.entry_args() == dict(custom.model_args)
    assert ModelSpec(model="resnet20").entry_args() == {}


def test_build_and_family():
    assert ModelSpec(model="preact_resnet20").build().count_params() == \
        kp.PreActResNet20().count_params()
    assert build_model({"depth": 20, "placement": "original"}).count_params() == \
        kp.ResNet20().count_params()
    assert model_family({"model": "resnet50"}) == "imagenet"
    assert ModelSpec(depth=18, family="imagenet").family_name() == "imagenet"
    assert ModelSpec(depth=56).family_name() == "cifar"
    with pytest.raises(ValueError, match="not both"):
        ModelSpec(model="resnet20", depth=20)
    with pytest.raises(ValueError, match="model name .* or a depth"):
        ModelSpec().build()
    with pytest.raises(ValueError, match="Unknown model"):
        ModelSpec(model="resnet21").family_name()
