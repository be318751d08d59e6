"""The variant enums (keras_preact/models/variants.py): stable values, aliases that mean the
paper's figure letters, and refusals that list the choices."""

import pytest

from keras_preact.models.variants import Block, Downsample, Placement, Shortcut, StrideAt


def test_values_are_stable():
    assert [m.value for m in Placement] == ["original", "bn_after_add", "relu_before_add",
                                            "relu_preact", "full_preact"]
    assert [m.value for m in Shortcut] == ["identity", "constant_scaling", "exclusive_gating",
                                           "shortcut_only_gating", "conv1x1", "dropout"]
    assert [m.value for m in Block] == ["basic", "bottleneck"]
    assert [m.value for m in StrideAt] == ["first", "conv3x3"]


@pytest.mark.parametrize("letter,member", zip("abcde", Placement))
def test_placement_letters_are_the_letters_of_figure_4(letter, member):
    assert Placement.parse(letter) is member
    assert Placement.parse(letter.upper()) is member


@pytest.mark.parametrize("word", ["preact", "pre-activation", "Pre_Activation"])
def test_preact_is_ambiguous_between_figure_4d_and_4e(word):
    with pytest.raises(ValueError, match=r"Ambiguous Placement.*4\(d\).*4\(e\).*Allowed "
                                         r"values: 'original'"):
        Placement.parse(word)


@pytest.mark.parametrize("letter", list("abcdef"))
def test_shortcut_letters_are_refused_with_the_figure_2_names(letter):
    with pytest.raises(ValueError, match=r"Ambiguous Shortcut.*c exclusive_gating.*"
                                         r"e conv1x1.*Allowed values: 'identity'"):
        Shortcut.parse(letter)


def test_word_aliases_and_unknown_values():
    assert Shortcut.parse("1x1") is Shortcut.CONV1X1
    assert Shortcut.parse("gating") is Shortcut.EXCLUSIVE_GATING
    assert Placement.parse("post-activation") is Placement.ORIGINAL
    assert Downsample.parse("a") is Downsample.ZERO_PAD  # option A of He et al. 2015
    with pytest.raises(ValueError, match="Unknown Block 'wide'. Allowed values: 'basic', "
                                         "'bottleneck'"):
        Block.parse("wide")
