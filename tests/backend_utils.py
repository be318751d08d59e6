"""Small backend-specific helpers for tests that need gradients (keras.ops has none)."""

import keras
import numpy as np


def input_gradient(model, x, weights, training=True):
    """Returns (outputs, d sum(outputs * weights) / d x) as numpy arrays."""
    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        x = tf.constant(x)
        with tf.GradientTape() as tape:
            tape.watch(x)
            y = model(x, training=training)
            energy = tf.reduce_sum(y * weights)
        return np.asarray(y), np.asarray(tape.gradient(energy, x))
    if backend == "jax":
        import jax
        import jax.numpy as jnp

        trainable = [v.value for v in model.trainable_variables]
        non_trainable = [v.value for v in model.non_trainable_variables]

        def energy(inputs):
            y, _ = model.stateless_call(trainable, non_trainable, inputs, training=training)
            return jnp.sum(y * weights), y

        grad, y = jax.grad(energy, has_aux=True)(jnp.asarray(x))
        return np.asarray(y), np.asarray(grad)
    import pytest

    pytest.skip(f"no gradient helper for the {backend} backend")
