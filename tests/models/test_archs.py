"""The architecture table against the paper: depth formulas, stage shapes and the exact
parameter counts of docs/architecture.md (independent counting of the paper's architectures)."""

import numpy as np
import pytest

import keras_preact as kp
from keras_preact import Block, Family, get_arch


def _counts(model):
    trainable = sum(int(np.prod(w.shape)) for w in model.trainable_weights)
    return trainable, model.count_params()


# (depth, downsample): {(placement): (trainable, total)}; CIFAR-10 heads.
CIFAR_BASIC = {
    20: {"A": (269_722, 271_098), "orig_B": (272_474, 274_042), "pre_B": (272_282, 273_658)},
    32: {"A": (464_154, 466_426), "orig_B": (466_906, 469_370), "pre_B": (466_714, 468_986)},
    44: {"A": (658_586, 661_754), "orig_B": (661_338, 664_698), "pre_B": (661_146, 664_314)},
    56: {"A": (853_018, 857_082), "orig_B": (855_770, 860_026), "pre_B": (855_578, 859_642)},
    110: {"A": (1_727_962, 1_736_058), "orig_B": (1_730_714, 1_739_002),
          "pre_B": (1_730_522, 1_738_618)},
}
CIFAR_BASIC_1202 = {"A": (19_421_274, 19_510_906), "orig_B": (19_424_026, 19_513_850),
                    "pre_B": (19_423_834, 19_513_466)}


def _check_basic(depth, table):
    for placement in ("original", "full_preact"):
        model = kp.build_resnet(depth, placement=placement)
        assert _counts(model) == table["A"], (depth, placement, "option A")
    original_b = kp.build_resnet(depth, placement="original", downsample="projection")
    assert _counts(original_b) == table["orig_B"]
    preact_b = kp.build_resnet(depth, placement="full_preact", downsample="projection")
    assert _counts(preact_b) == table["pre_B"]


@pytest.mark.parametrize("depth", sorted(CIFAR_BASIC))
def test_cifar_basic_parameter_counts(depth):
    _check_basic(depth, CIFAR_BASIC[depth])


@pytest.mark.slow
def test_cifar_resnet1202_parameter_counts():
    _check_basic(1202, CIFAR_BASIC_1202)


def test_resnet164_parameter_counts():
    assert _counts(kp.ResNet164()) == (1_704_154, 1_729_274)
    preact = kp.PreActResNet164()
    assert _counts(preact) == (1_703_258, 1_727_482)
    # The paper's "1.7M" is the count without BN gamma/beta.
    gammas_betas = sum(int(np.prod(w.shape)) for w in preact.trainable_weights
                       if w.path.endswith(("gamma", "beta")))
    assert _counts(preact)[0] - gammas_betas == 1_679_034


def test_resnet1001_parameter_counts():
    original = kp.ResNet1001()
    assert _counts(original) == (10_328_602, 10_478_714)
    del original
    preact = kp.PreActResNet1001()
    assert _counts(preact) == (10_327_706, 10_476_922)
    gammas_betas = sum(int(np.prod(w.shape)) for w in preact.trainable_weights
                       if w.path.endswith(("gamma", "beta")))
    # Table 4's "10.2M" matches the count without BN gamma/beta.
    assert _counts(preact)[0] - gammas_betas == 10_178_490


@pytest.mark.parametrize("model,trainable", [
    ("preact_resnet164", 1_726_388), ("preact_resnet110", 1_733_812)])
def test_cifar100_heads(model, trainable):
    assert _counts(kp.create_model(model, classes=100))[0] == trainable


# ImageNet: trainable (incl. BN gamma/beta) and, where known, total.
IMAGENET = {
    "resnet18": (11_689_512, None),   # = torchvision resnet18
    "resnet34": (21_797_672, None),   # = torchvision resnet34
    "resnet50": (25_557_032, None),
    "resnet101": (44_549_160, None),
    "resnet152": (60_192_808, None),
    "resnet200": (64_673_832, None),
    "preact_resnet18": (11_687_720, None),
    "preact_resnet34": (21_795_880, None),
    "preact_resnet50": (25_549_352, 25_594_792),
    "preact_resnet101": (44_541_480, 44_639_144),
    "preact_resnet152": (60_185_128, 60_328_872),
    "preact_resnet200": (64_666_152, 64_834_472),
}


@pytest.mark.parametrize("name", sorted(IMAGENET))
def test_imagenet_parameter_counts(name):
    trainable, total = _counts(kp.create_model(name))
    assert trainable == IMAGENET[name][0]
    if IMAGENET[name][1] is not None:
        assert total == IMAGENET[name][1]


def test_depth_formulas():
    assert get_arch(110).depths == (18, 18, 18) and get_arch(110).block is Block.BASIC
    assert get_arch(164).depths == (18, 18, 18) and get_arch(164).block is Block.BOTTLENECK
    assert get_arch(1001).depths == (111, 111, 111)
    assert get_arch(1202).depths == (200, 200, 200)
    assert get_arch(200, "imagenet").depths == (3, 24, 36, 3)
    assert get_arch(20, block="bottleneck").depths == (2, 2, 2)
    for name, arch in kp.ARCHS.items():
        assert name == f"resnet{arch.depth}"


@pytest.mark.parametrize("depth,family,block,message", [
    (165, "cifar", "bottleneck", "9n + 2"),
    (21, "cifar", "basic", "6n + 2"),
    (23, "cifar", None, "neither"),
    (42, "imagenet", None, "Allowed: [18, 34, 50, 101, 152, 200]"),
    (50, "imagenet", "basic", "bottleneck units"),
    (0, "cifar", None, "positive integer"),
])
def test_bad_depths_say_what_is_allowed(depth, family, block, message):
    with pytest.raises(ValueError, match=message.replace("[", r"\[").replace("+", r"\+")):
        get_arch(depth, family, block)


@pytest.mark.parametrize("name,sizes", [
    ("preact_resnet20", {"conv1_conv": 32, "conv2_block3_out": 32, "conv3_block3_out": 16,
                         "conv4_block3_out": 8}),
    ("resnet50", {"conv1_conv": 112, "pool1_pool": 56, "conv2_block3_out": 56,
                  "conv3_block4_out": 28, "conv4_block6_out": 14, "conv5_block3_out": 7}),
])
def test_stage_resolutions(name, sizes):
    model = kp.create_model(name)
    for layer, size in sizes.items():
        assert model.get_layer(layer).output.shape[1:3] == (size, size), layer


def test_bottleneck_stage_widths():
    model = kp.PreActResNet164()
    assert [model.get_layer(f"conv{k}_block1_out").output.shape[-1] for k in (2, 3, 4)] == [
        64, 128, 256]
    assert kp.get_arch(164).family is Family.CIFAR
