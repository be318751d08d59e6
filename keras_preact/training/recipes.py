"""Training recipes: the paper's, and a short-budget one, with every value overridable.

The paper (He et al. 2016, appendix; He et al. 2015 Sec. 4.2) trains CIFAR nets with
SGD, momentum 0.9, weight decay 1e-4, batch 128, learning rate 0.1 with 0.01 for the
first 400 iterations, divided by 10 at 32k and 48k iterations, stopping at 64k. Here the
iteration counts are turned into epochs of CIFAR's 50,000 training images (400 it =
1.024 epochs, 32k = 81.92, 48k = 122.88, 64k = 163.84), so the schedule keeps its shape
for any batch size, and the learning rate (warm-up included) scales linearly with the
batch (0.1 per 128 images). At batch 128 on 50,000 images the steps are exactly the
paper's 400/32,000/48,000; training runs round(163.84 * 50,000 / 128 / 390) = 164 epochs
of 390 full batches (63,960 iterations).

Weight decay is *coupled* L2, as in Caffe/Torch: it is added to the loss as
`kernel_regularizer=L2(weight_decay / 2)` on every conv/dense kernel (Keras' L2 is
`l2 * sum(w**2)`, gradient `2 * l2 * w`), so it passes through momentum like the paper's.
Keras' optimizer `weight_decay=` argument is decoupled and is never used here.
BN gamma/beta and biases are not decayed (the paper does not say; fb.resnet.torch
decays them).
"""

import dataclasses
import math

from keras_preact.training.schedules import WarmupSchedule

RECIPES = ("paper", "fast")
MIXED_PRECISION = ("off", "bf16", "fp16", "auto")
LR_SCALING = ("linear", "none")


@dataclasses.dataclass(frozen=True)
class Recipe:
    """Hyper-parameters of a training run (schedule lengths in epochs).

    Attributes:
        name: "paper", "fast" or a custom label.
        epochs: training length in epochs (fractional values follow the paper's
            iteration counts; the run does `fit_epochs()` whole epochs).
        batch_size: global batch size.
        lr: peak learning rate at `reference_batch`; the run uses `peak_lr()`.
        reference_batch: batch size that `lr` refers to.
        lr_scaling: "linear" (lr * batch / reference_batch) or "none".
        momentum: SGD momentum.
        nesterov: Nesterov momentum.
        weight_decay: coupled L2 weight decay (kernel regulariser `weight_decay / 2`).
        schedule: "step", "cosine", "onecycle" or "constant" (`WarmupSchedule`).
        milestones: epochs at which "step" multiplies the rate by `factor`.
        factor: the "step" multiplier.
        warmup_epochs: warm-up length in epochs.
        warmup_lr: warm-up rate at `reference_batch` (scaled like `lr`); None: default.
        warmup: "constant" (paper) or "linear".
        final_lr: end rate of cosine / one-cycle, at `reference_batch`.
        label_smoothing: label smoothing of the cross-entropy.
        cutout: side in pixels of the Cutout square added to the CIFAR augmentation
            (DeVries & Taylor 2017; not in the paper); 0: none.
        mixed_precision: "off", "bf16", "fp16" or "auto" (bf16 where the hardware
            computes it natively: GPUs of compute capability >= 8, TPUs).
    """

    name: str
    epochs: float
    batch_size: int
    lr: float
    reference_batch: int = 128
    lr_scaling: str = "linear"
    momentum: float = 0.9
    nesterov: bool = False
    weight_decay: float = 1e-4
    schedule: str = "step"
    milestones: tuple = ()
    factor: float = 0.1
    warmup_epochs: float = 0.0
    warmup_lr: float = None
    warmup: str = "constant"
    final_lr: float = 0.0
    label_smoothing: float = 0.0
    mixed_precision: str = "off"
    cutout: int = 0

    def __post_init__(self):
        if self.lr_scaling not in LR_SCALING:
            raise ValueError(f"lr_scaling must be one of {LR_SCALING}, got {self.lr_scaling!r}.")
        if self.mixed_precision not in MIXED_PRECISION:
            raise ValueError(f"mixed_precision must be one of {MIXED_PRECISION}, got "
                             f"{self.mixed_precision!r}.")
        if self.epochs <= 0 or self.batch_size <= 0 or self.lr <= 0:
            raise ValueError("epochs, batch_size and lr must be positive.")
        if not 0 <= self.label_smoothing < 1:
            raise ValueError(f"label_smoothing must be in [0, 1), got {self.label_smoothing}.")
        if self.cutout < 0 or self.cutout != int(self.cutout):
            raise ValueError(f"cutout is a side in pixels (an integer >= 0), got {self.cutout}.")

    def override(self, **values):
        """A copy with the given fields replaced (None values are ignored). Changing
        `epochs` without `milestones` moves the milestones proportionally."""
        values = {k: v for k, v in values.items() if v is not None}
        if "epochs" in values and "milestones" not in values and self.milestones:
            ratio = values["epochs"] / self.epochs
            values["milestones"] = tuple(round(m * ratio, 4) for m in self.milestones)
        if "milestones" in values:
            values["milestones"] = tuple(float(m) for m in values["milestones"])
        return dataclasses.replace(self, **values)

    def scale(self):
        """The learning-rate multiplier for this batch size."""
        return self.batch_size / self.reference_batch if self.lr_scaling == "linear" else 1.0

    def peak_lr(self):
        """The peak learning rate used at `batch_size`."""
        return self.lr * self.scale()

    def steps_per_pass(self, num_train, steps_per_epoch):
        """Optimizer steps that one epoch of the schedule stands for: `num_train /
        batch_size` (not rounded), or `steps_per_epoch` when a dry run caps it lower."""
        per_pass = num_train / self.batch_size
        return steps_per_epoch if steps_per_epoch < math.floor(per_pass) else per_pass

    def fit_epochs(self, num_train, steps_per_epoch):
        """Whole epochs of `steps_per_epoch` steps that cover `epochs` passes."""
        passes = self.epochs * self.steps_per_pass(num_train, steps_per_epoch)
        return max(1, int(round(passes / steps_per_epoch)))

    def learning_rate_schedule(self, num_train, steps_per_epoch):
        """The `WarmupSchedule` of this recipe, in optimizer steps.

        Epoch values become steps as `round(epochs * num_train / batch_size)`, so that at
        batch 128 on 50,000 images the paper's schedule has its exact iteration counts.
        `steps_per_epoch` (full batches actually run per epoch) sets the total length.
        """
        per_pass = self.steps_per_pass(num_train, steps_per_epoch)
        to_steps = lambda epochs: int(round(epochs * per_pass))  # noqa: E731
        total = self.fit_epochs(num_train, steps_per_epoch) * steps_per_epoch
        warmup_lr = None if self.warmup_lr is None else self.warmup_lr * self.scale()
        return WarmupSchedule(
            self.peak_lr(), total, kind=self.schedule,
            boundaries=[to_steps(m) for m in self.milestones], factor=self.factor,
            warmup_steps=to_steps(self.warmup_epochs), warmup_lr=warmup_lr,
            warmup=self.warmup, final_lr=self.final_lr * self.scale())

    def as_dict(self):
        """JSON-ready fields plus the derived `peak_lr`."""
        values = dataclasses.asdict(self)
        values["milestones"] = list(self.milestones)
        values["peak_lr"] = self.peak_lr()
        return values


# 64k iterations of batch 128 over 50,000 CIFAR images, in epochs.
_CIFAR_EPOCHS_PER_1K_ITERATIONS = 1000 * 128 / 50_000

PAPER_CIFAR = Recipe(
    name="paper", epochs=64 * _CIFAR_EPOCHS_PER_1K_ITERATIONS, batch_size=128, lr=0.1,
    reference_batch=128, momentum=0.9, nesterov=False, weight_decay=1e-4, schedule="step",
    milestones=(32 * _CIFAR_EPOCHS_PER_1K_ITERATIONS, 48 * _CIFAR_EPOCHS_PER_1K_ITERATIONS),
    factor=0.1, warmup_epochs=0.4 * _CIFAR_EPOCHS_PER_1K_ITERATIONS, warmup_lr=0.01,
    warmup="constant")

# ImageNet (paper appendix / He et al. 2015 Sec. 3.4): batch 256, lr 0.1, /10 at epochs
# 30 and 60. The paper does not state the end; 90 epochs as fb.resnet.torch.
PAPER_IMAGENET = Recipe(
    name="paper", epochs=90, batch_size=256, lr=0.1, reference_batch=256, momentum=0.9,
    nesterov=False, weight_decay=1e-4, schedule="step", milestones=(30, 60), factor=0.1)

# Short budgets: cosine decay after a 2-epoch linear warm-up, Nesterov, label smoothing,
# a larger batch with the linearly scaled rate, bf16 where native.
FAST_CIFAR = Recipe(
    name="fast", epochs=30, batch_size=512, lr=0.1, reference_batch=128, momentum=0.9,
    nesterov=True, weight_decay=5e-4, schedule="cosine", warmup_epochs=2, warmup_lr=0.0,
    warmup="linear", label_smoothing=0.1, mixed_precision="auto")
FAST_IMAGENET = dataclasses.replace(FAST_CIFAR, batch_size=1024, reference_batch=256,
                                    weight_decay=1e-4, epochs=32, warmup_epochs=3)


def get_recipe(name, family="cifar"):
    """The preset `name` ("paper" or "fast") for a model family ("cifar"/"imagenet")."""
    presets = {("paper", "cifar"): PAPER_CIFAR, ("paper", "imagenet"): PAPER_IMAGENET,
               ("fast", "cifar"): FAST_CIFAR, ("fast", "imagenet"): FAST_IMAGENET}
    key = (name, getattr(family, "value", family))
    if key not in presets:
        raise ValueError(f"Unknown recipe {name!r} for family {key[1]!r}; recipes: {RECIPES}.")
    return presets[key]


__all__ = ["FAST_CIFAR", "FAST_IMAGENET", "LR_SCALING", "MIXED_PRECISION", "PAPER_CIFAR",
           "PAPER_IMAGENET", "RECIPES", "Recipe", "get_recipe"]
