"""The layers the zoo adds to Keras for the networks of He et al. (2015, 2016).

`ZeroPadShortcut` and `UnscaledDropout` are shortcuts Keras lacks; `BatchNormalization`
is Keras' own layer with TensorFlow's fused kernel underneath (same variables, config
and results, a fraction of the time on a CPU); `InferenceMode` runs a fine-tuned backbone
in inference mode (see `keras_preact.deploy.finetune`). All four are registered serializable
under the package name "keras_preact"; `import keras_preact` arranges for this module to
be imported together with Keras (`keras_preact.runtime`), so models that use them load
with `keras.saving.load_model(path)` in safe mode. Everything else in the zoo is a stock
Keras layer.
"""

import keras
from keras import ops

# Input dtypes TensorFlow's FusedBatchNormV3 kernel takes; statistics stay float32.
_FUSED_DTYPES = ("float32", "bfloat16", "float16")


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


@keras.saving.register_keras_serializable(package="keras_preact")
class BatchNormalization(keras.layers.BatchNormalization):
    """`keras.layers.BatchNormalization` that runs TensorFlow's fused kernel.

    Keras 3 computes BN on the TensorFlow backend as separate moment, subtract, scale
    and shift ops; a PreActResNet-164 has 163 BN layers and pays for that on every
    step. This subclass calls `FusedBatchNormV3` instead, in training and in inference,
    and otherwise is Keras' layer: same constructor, variables (`gamma`, `beta`,
    `moving_mean`, `moving_variance`), config and class name, so `.weights.h5` files
    written with the stock layer load unchanged and vice versa.

    The stock implementation runs instead on other backends (JAX), for
    `synchronized=True` (the fused kernel cannot reduce across replicas), with a mask,
    with `renorm`, for inputs that are not 4-D channels-last, or when `fused=False`.

    Numerics follow Keras, not TensorFlow 1: in training the kernel returns the
    Bessel-corrected batch variance (times n / (n - 1), n = batch x height x width);
    the layer undoes that factor, so `moving_variance` is the moving average of the
    biased variance exactly as the stock layer keeps it. Under a mixed-precision policy
    the kernel reads and writes the compute dtype (bfloat16, float16) and keeps its
    statistics, scale and shift in float32.

    Args:
        fused: None (default) uses the fused kernel wherever it applies; False always
            uses Keras' implementation; True raises a `ValueError` at build time if the
            kernel cannot be used.
        **kwargs: the arguments of `keras.layers.BatchNormalization`.
    """

    def __init__(self, *args, fused=None, **kwargs):
        super().__init__(*args, **kwargs)
        if fused not in (None, True, False):
            raise ValueError(f"fused must be None, True or False; got {fused!r}.")
        self.fused = fused

    def build(self, input_shape):
        super().build(input_shape)
        reason = self._unfused_reason(len(input_shape))
        if self.fused and reason:
            raise ValueError(f"fused=True, but the fused kernel cannot be used: {reason}. "
                             "Pass fused=None to fall back to Keras' implementation.")
        self._use_fused = reason is None

    def _unfused_reason(self, rank):
        if self.fused is False:
            return "fused=False"
        if keras.backend.backend() != "tensorflow":
            return f"the {keras.backend.backend()} backend has no fused kernel"
        if self.synchronized:
            return "synchronized=True needs cross-replica statistics"
        if self.renorm:
            return "renorm=True"
        if rank != 4 or self.axis not in (-1, 3):
            return "it needs 4-D channels-last inputs normalised over the last axis"
        return None

    def call(self, inputs, training=None, mask=None):
        if mask is not None or not getattr(self, "_use_fused", False):
            return super().call(inputs, training=training, mask=mask)
        import tensorflow as tf

        x = inputs
        if keras.backend.standardize_dtype(x.dtype) not in _FUSED_DTYPES:
            x = tf.cast(x, "float32")
        channels = x.shape[-1]
        gamma = tf.cast(self.gamma, "float32") if self.scale else tf.ones([channels])
        beta = tf.cast(self.beta, "float32") if self.center else tf.zeros([channels])
        if training and self.trainable:
            empty = tf.constant([], "float32")
            y, mean, variance, _, _, _ = tf.raw_ops.FusedBatchNormV3(
                x=x, scale=gamma, offset=beta, mean=empty, variance=empty,
                epsilon=self.epsilon, exponential_avg_factor=1.0, data_format="NHWC",
                is_training=True)
            # Trap: the kernel returns variance * n / max(n - 1, 1) (Bessel); Keras keeps
            # the biased variance in its moving average.
            count = tf.cast(tf.size(x, out_type=tf.int64) // channels, "float32")
            variance = variance * tf.maximum(count - 1.0, 1.0) / count
            momentum = self.momentum
            self.moving_mean.assign(self.moving_mean * momentum + mean * (1.0 - momentum))
            self.moving_variance.assign(
                self.moving_variance * momentum + variance * (1.0 - momentum))
        else:
            y, _, _, _, _, _ = tf.raw_ops.FusedBatchNormV3(
                x=x, scale=gamma, offset=beta,
                mean=tf.cast(self.moving_mean, "float32"),
                variance=tf.cast(self.moving_variance, "float32"),
                epsilon=self.epsilon, data_format="NHWC", is_training=False)
        return tf.cast(y, self.compute_dtype)

    def get_config(self):
        return {**super().get_config(), "fused": self.fused}


@keras.saving.register_keras_serializable(package="keras_preact")
class InferenceMode(keras.layers.Wrapper):
    """Runs the wrapped layer or model in inference mode, always: BN uses its moving
    statistics (and never updates them) and dropout is off, even during `fit`, while
    the wrapped weights stay trainable if their layers are.

    Args:
        layer: the layer or model to wrap (e.g. a pretrained backbone).
    """

    def call(self, inputs):
        return self.layer(inputs, training=False)

    def compute_output_shape(self, input_shape):
        return self.layer.compute_output_shape(input_shape)
