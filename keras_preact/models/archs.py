"""The architectures of He et al. (ECCV 2016) as one declarative table.

CIFAR family (He et al., CVPR 2016, §4.2; ECCV 2016 appendix): a 3x3/16 stem and three
stages on 32x32, 16x16 and 8x8 maps. Basic nets have `6n + 2` layers (ResNet-20 ...
ResNet-1202), bottleneck nets `9n + 2` (ResNet-164, ResNet-1001, stage outputs 64/128/256).

ImageNet family (CVPR 2016 Table 1; ECCV 2016 §5 and footnote 3): a 7x7/2 stem and a
3x3/2 max-pool, then four stages of widths 64/128/256/512 on 56/28/14/7 maps (224 input).
ResNet-200 is ResNet-152 with 16 more units at 28x28: `(3, 24, 36, 3)`.
"""

import dataclasses

from keras_preact.models.variants import Block, Downsample, Family


@dataclasses.dataclass(frozen=True)
class Arch:
    """One network layout.

    Attributes:
        family: CIFAR or IMAGENET; decides the stem, stage strides and default input size.
        block: BASIC or BOTTLENECK residual branches.
        depths: units per stage.
        widths: branch width per stage (a bottleneck's output is 4x this).
        downsample: the paper's shortcut for units that change shape (option A or B).
    """

    family: Family
    block: Block
    depths: tuple
    widths: tuple
    downsample: Downsample = Downsample.PROJECTION

    @property
    def depth(self):
        """Weight layers on the longest path: stem conv + branch convs + classifier."""
        return 2 + self.block.convs * sum(self.depths)

    @property
    def stem_width(self):
        """Output channels of the stem convolution (16 on CIFAR, 64 on ImageNet)."""
        return 16 if self.family is Family.CIFAR else 64

    @property
    def strides(self):
        """Stride of each stage's first unit."""
        return (1,) + (2,) * (len(self.depths) - 1)

    @property
    def reduction(self):
        """Total down-sampling from the input to the last feature map."""
        stem = 1 if self.family is Family.CIFAR else 4
        out = stem
        for s in self.strides:
            out *= s
        return out

    @property
    def default_size(self):
        """The input side the paper trains at: 32 (CIFAR) or 224 (ImageNet)."""
        return 32 if self.family is Family.CIFAR else 224

    @property
    def min_size(self):
        """The smallest input side that leaves at least a 1x1 last feature map... with margin:
        8 on CIFAR (2x2 at the end) and 32 on ImageNet (1x1), as keras.applications."""
        return 8 if self.family is Family.CIFAR else 32

    @property
    def default_classes(self):
        """Classes of the paper's dataset for this family: CIFAR-10 or ImageNet-1k."""
        return 10 if self.family is Family.CIFAR else 1000


def _cifar(depth, block):
    n = (depth - 2) // block.convs // 3
    widths = (16, 32, 64)
    downsample = Downsample.ZERO_PAD if block is Block.BASIC else Downsample.PROJECTION
    return Arch(Family.CIFAR, block, (n, n, n), widths, downsample)


def _imagenet(block, depths):
    return Arch(Family.IMAGENET, block, depths, (64, 128, 256, 512))


ARCHS = {
    # CIFAR, basic units, option A shortcuts (He et al. 2015, Table 6).
    "resnet20": _cifar(20, Block.BASIC),
    "resnet32": _cifar(32, Block.BASIC),
    "resnet44": _cifar(44, Block.BASIC),
    "resnet56": _cifar(56, Block.BASIC),
    "resnet110": _cifar(110, Block.BASIC),
    "resnet1202": _cifar(1202, Block.BASIC),
    # CIFAR, bottleneck units, projection shortcuts (He et al. 2016, appendix; Table 3).
    "resnet164": _cifar(164, Block.BOTTLENECK),
    "resnet1001": _cifar(1001, Block.BOTTLENECK),
    # ImageNet (He et al. 2015, Table 1; He et al. 2016, §5).
    "resnet18": _imagenet(Block.BASIC, (2, 2, 2, 2)),
    "resnet34": _imagenet(Block.BASIC, (3, 4, 6, 3)),
    "resnet50": _imagenet(Block.BOTTLENECK, (3, 4, 6, 3)),
    "resnet101": _imagenet(Block.BOTTLENECK, (3, 4, 23, 3)),
    "resnet152": _imagenet(Block.BOTTLENECK, (3, 8, 36, 3)),
    "resnet200": _imagenet(Block.BOTTLENECK, (3, 24, 36, 3)),
}


def get_arch(depth, family=Family.CIFAR, block=None):
    """Returns the `Arch` for a depth of a family.

    CIFAR accepts any depth of the form `6n + 2` (basic) or `9n + 2` (bottleneck); when
    `block` is omitted the table's choice is used for the paper's depths (e.g. 164 is a
    bottleneck net), otherwise basic is tried first. ImageNet accepts the table's depths.

    Args:
        depth: number of weight layers, e.g. 110 or 164.
        family: `Family` or its string value.
        block: optional `Block` or string; checked against the depth formula.

    Raises:
        ValueError: the depth does not fit the family/block; the message says what does.
    """
    family = Family.parse(family)
    block = None if block is None else Block.parse(block)
    if not isinstance(depth, int) or isinstance(depth, bool) or depth < 1:
        raise ValueError(f"depth must be a positive integer, got {depth!r}.")
    known = {name: arch for name, arch in ARCHS.items()
             if arch.family is family and arch.depth == depth}
    if family is Family.IMAGENET:
        allowed = sorted(a.depth for a in ARCHS.values() if a.family is Family.IMAGENET)
        if not known:
            raise ValueError(
                f"Unknown ImageNet depth {depth}. Allowed: {allowed}. For another layout, "
                "pass an `Arch(Family.IMAGENET, block, depths, widths)` to build_resnet."
            )
        arch = next(iter(known.values()))
        if block is not None and block is not arch.block:
            raise ValueError(
                f"ImageNet ResNet-{depth} uses {arch.block.value} units, not {block.value}."
            )
        return arch
    if block is None:
        if known:
            return next(iter(known.values()))
        if (depth - 2) % 6 and (depth - 2) % 9:
            raise ValueError(
                f"CIFAR ResNets have depth 6n + 2 (basic units: 8, 14, 20, ...) or 9n + 2 "
                f"(bottleneck units: 11, 20, 29, ...); {depth} is neither."
            )
        block = Block.BASIC if (depth - 2) % 6 == 0 else Block.BOTTLENECK
    per_unit = 3 * block.convs
    if depth < 2 + per_unit or (depth - 2) % per_unit:
        formula = "6n + 2 (8, 14, 20, ...)" if block is Block.BASIC else "9n + 2 (11, 20, 29, ...)"
        raise ValueError(
            f"CIFAR {block.value} ResNets have depth {formula}; {depth} is not of that form."
        )
    return _cifar(depth, block)


# Zoo names: "resnet{depth}" (original units, Fig. 4a), "preact_resnet{depth}" (Fig. 4e).
PREACT_PREFIX = "preact_"


def parse_model_name(name):
    """Splits a zoo name into (key of `ARCHS`, full pre-activation or not); the key is
    not checked against the table, so callers can word their own error.

    >>> parse_model_name(" PreAct_ResNet164 ")
    ('resnet164', True)
    """
    key = name.strip().lower()
    return key.removeprefix(PREACT_PREFIX), key.startswith(PREACT_PREFIX)
