"""The small enums that name every variant of He et al., "Identity Mappings in Deep
Residual Networks" (ECCV 2016, arXiv:1603.05027).

Their string values are stable: they appear in configs, CLI flags and weight names.
Every enum parses its own values (and a few documented aliases) through `parse`, which
raises a `ValueError` listing what is allowed. A letter alias means the paper's figure
letter (placements: Fig. 4a-e) or does not exist; words that would name more than one
variant (e.g. "preact": Fig. 4d and 4e are both pre-activations) are refused with the
choices they could mean.
"""

import enum


class _Variant(enum.Enum):
    """Base for the variant enums: string values, lenient parsing, helpful errors."""

    @classmethod
    def _aliases(cls):
        return {}

    @classmethod
    def _ambiguous(cls):
        """Words refused because they could mean several members: word -> explanation."""
        return {}

    @classmethod
    def parse(cls, value):
        """Returns the member named by `value` (a member, its value or an alias).

        Raises:
            ValueError: `value` names no member; the message lists the allowed values.
        """
        if isinstance(value, cls):
            return value
        if isinstance(value, str):
            key = value.strip().lower().replace("-", "_")
            for member in cls:
                if member.value == key:
                    return member
            if key in cls._aliases():
                return cls(cls._aliases()[key])
            if key in cls._ambiguous():
                allowed = ", ".join(repr(m.value) for m in cls)
                raise ValueError(f"Ambiguous {cls.__name__} {value!r}: "
                                 f"{cls._ambiguous()[key]} Allowed values: {allowed}.")
        allowed = ", ".join(repr(m.value) for m in cls)
        raise ValueError(
            f"Unknown {cls.__name__} {value!r}. Allowed values: {allowed}."
        )

    def __str__(self):
        return self.value


class Placement(_Variant):
    """Where BN and ReLU sit relative to the addition: the activation orders of Fig. 4
    and Table 2 of He et al. (2016).

    - ORIGINAL (Fig. 4a): conv-BN-ReLU-conv-BN, add, ReLU (He et al., CVPR 2016).
    - BN_AFTER_ADD (Fig. 4b): conv-BN-ReLU-conv, add, BN-ReLU.
    - RELU_BEFORE_ADD (Fig. 4c): conv-BN-ReLU-conv-BN-ReLU, add.
    - RELU_PREACT (Fig. 4d): ReLU-conv-BN-ReLU-conv-BN, add ("ReLU-only pre-activation").
    - FULL_PREACT (Fig. 4e): BN-ReLU-conv-BN-ReLU-conv, add ("full pre-activation").
    """

    ORIGINAL = "original"
    BN_AFTER_ADD = "bn_after_add"
    RELU_BEFORE_ADD = "relu_before_add"
    RELU_PREACT = "relu_preact"
    FULL_PREACT = "full_preact"

    @classmethod
    def _aliases(cls):
        return {"a": "original", "b": "bn_after_add", "c": "relu_before_add",
                "d": "relu_preact", "e": "full_preact", "post_activation": "original"}

    @classmethod
    def _ambiguous(cls):
        both = ("Fig. 4(d) 'relu_preact' (ReLU-only) and Fig. 4(e) 'full_preact' (BN and "
                "ReLU) are both pre-activations; name one.")
        return {"preact": both, "pre_activation": both}

    @property
    def is_preact(self):
        """True for the pre-activation orders (Fig. 4d, 4e), whose units end at the addition."""
        return self in (Placement.RELU_PREACT, Placement.FULL_PREACT)


class Shortcut(_Variant):
    """What the skip path does: the shortcut variants of Fig. 2 and Table 1.

    - IDENTITY (Fig. 2a): `h(x) = x`.
    - CONSTANT_SCALING (Fig. 2b): `h(x) = lambda * x`, optionally `F` scaled by `1 - lambda`.
    - EXCLUSIVE_GATING (Fig. 2c): `(1 - g(x)) * x + g(x) * F(x)`, `g = sigmoid(conv1x1(x) + b_g)`.
    - SHORTCUT_ONLY_GATING (Fig. 2d): `(1 - g(x)) * x + F(x)`.
    - CONV1X1 (Fig. 2e): a 1x1 convolution (+ BN) on every shortcut (option C of He et al. 2015).
    - DROPOUT (Fig. 2f): dropout on the output of the identity shortcut.
    """

    IDENTITY = "identity"
    CONSTANT_SCALING = "constant_scaling"
    EXCLUSIVE_GATING = "exclusive_gating"
    SHORTCUT_ONLY_GATING = "shortcut_only_gating"
    CONV1X1 = "conv1x1"
    DROPOUT = "dropout"

    @classmethod
    def _aliases(cls):
        return {"scaling": "constant_scaling", "gating": "exclusive_gating",
                "shortcut_gating": "shortcut_only_gating", "conv": "conv1x1",
                "1x1": "conv1x1"}

    @classmethod
    def _ambiguous(cls):
        letters = ("letters are not shortcut names (Fig. 2: a identity, b constant_scaling, "
                   "c exclusive_gating, d shortcut_only_gating, e conv1x1, f dropout; 'c' "
                   "once meant conv1x1, He et al. 2015's option C).")
        return {letter: letters for letter in "abcdef"}


class Block(_Variant):
    """The residual branch: two 3x3 convs (BASIC) or 1x1-3x3-1x1 with 4x expansion (BOTTLENECK)."""

    BASIC = "basic"
    BOTTLENECK = "bottleneck"

    @property
    def expansion(self):
        """Output channels divided by the branch width: 1 (basic) or 4 (bottleneck)."""
        return 4 if self is Block.BOTTLENECK else 1

    @property
    def convs(self):
        """Number of weight layers in the residual branch."""
        return 3 if self is Block.BOTTLENECK else 2


class Downsample(_Variant):
    """The shortcut of a unit that changes shape (He et al., CVPR 2016, §3.3).

    - ZERO_PAD (option A): subsample by the stride and append zero channels; no parameters.
    - PROJECTION (option B): a 1x1 convolution with the unit's stride.
    """

    ZERO_PAD = "zero_pad"
    PROJECTION = "projection"

    @classmethod
    def _aliases(cls):
        return {"a": "zero_pad", "b": "projection"}


class StrideAt(_Variant):
    """Which conv of a stage's first unit carries the stride.

    - FIRST: the first conv of the branch (the first 1x1 in a bottleneck): the paper's
      Caffe models and the authors' CIFAR code (resnet-1k-layers).
    - CONV3X3: the 3x3 conv of a bottleneck (fb.resnet.torch, torchvision "v1.5").
    Basic units have their stride on the first 3x3 either way.
    """

    FIRST = "first"
    CONV3X3 = "conv3x3"


class Family(_Variant):
    """The two network families of the paper: CIFAR (3x3 stem, 3 stages) and ImageNet
    (7x7/2 stem + max-pool, 4 stages)."""

    CIFAR = "cifar"
    IMAGENET = "imagenet"
