"""The only two layers Keras lacks for the networks of He et al. (2015, 2016).

Both are registered serializable under the package name "keras_preact", so models that
use them load with `keras.saving.load_model(path)` in safe mode once keras_preact is
imported. Everything else in the zoo is a stock Keras layer.
"""

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="keras_preact")
class ZeroPadShortcut(keras.layers.Layer):
    """Option A shortcut (He et al., CVPR 2016, §3.3): subsample by `strides`, then
    append zero channels up to `filters`. Parameter-free.

    The subsample keeps rows/columns 0, s, 2s, ... (the same positions a 1x1 conv with
    stride s samples), and the zeros are appended after the input channels, as
    fb.resnet.torch does for the CIFAR nets the paper trains.

    Args:
        filters: output channels; must be >= the input channels.
        strides: spatial subsampling factor.
    """

    def __init__(self, filters, strides=1, **kwargs):
        super().__init__(**kwargs)
        self.filters = int(filters)
        self.strides = int(strides)

    def build(self, input_shape):
        if input_shape[-1] is not None and input_shape[-1] > self.filters:
            raise ValueError(
                f"ZeroPadShortcut cannot reduce channels ({input_shape[-1]} -> "
                f"{self.filters}); use a projection shortcut (downsample='projection')."
            )

    def call(self, inputs):
        x = inputs
        if self.strides > 1:
            x = x[:, :: self.strides, :: self.strides, :]
        extra = self.filters - x.shape[-1]
        if extra:
            x = ops.pad(x, [[0, 0], [0, 0], [0, 0], [0, extra]])
        return x

    def compute_output_shape(self, input_shape):
        def sub(n):
            return None if n is None else -(-n // self.strides)

        return (input_shape[0], sub(input_shape[1]), sub(input_shape[2]), self.filters)

    def get_config(self):
        return {**super().get_config(), "filters": self.filters, "strides": self.strides}


@keras.saving.register_keras_serializable(package="keras_preact")
class UnscaledDropout(keras.layers.Layer):
    """Dropout without the inverted rescaling, for the dropout shortcut of Fig. 2(f).

    Keras' `Dropout` multiplies kept units by `1 / (1 - rate)` during training, so the
    shortcut keeps an expectation of 1. The paper's argument (§3.1) is that dropout
    "statistically imposes a scale of lambda with an expectation of 0.5 on the shortcut";
    this layer keeps that scale: training multiplies by a Bernoulli(1 - rate) mask,
    inference multiplies by its expectation `1 - rate`.

    Args:
        rate: probability of dropping a unit, in [0, 1).
        seed: optional integer seed.
    """

    def __init__(self, rate, seed=None, **kwargs):
        super().__init__(**kwargs)
        if not 0 <= rate < 1:
            raise ValueError(f"rate must be in [0, 1), got {rate}.")
        self.rate = float(rate)
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)

    def call(self, inputs, training=False):
        keep = 1.0 - self.rate
        if training and self.rate > 0:
            # keras.random.dropout rescales by 1/keep; undo it to get a bare mask.
            return keras.random.dropout(inputs, self.rate, seed=self.seed_generator) * keep
        return inputs * keep

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "rate": self.rate, "seed": self.seed}
