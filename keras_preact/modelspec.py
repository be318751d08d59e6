"""How a training run names its network: a "spec" dict, `{"model": "preact_resnet164"}`
(a zoo name) or `{"depth": 110, "family": "cifar", "placement": "original", ...}` (the
builder's arguments), plus `model_options` (shortcut options). Training records it in
`model.json` so that evaluation can rebuild the same network."""

MODEL_FIELDS = ("family", "block", "placement", "shortcut", "downsample", "stride_at")


def model_family(spec):
    """"cifar" or "imagenet" for a model spec (a dict with "model" or "depth"/"family")."""
    import keras_preact

    if spec.get("model"):
        key = spec["model"].strip().lower().removeprefix("preact_")
        if key not in keras_preact.ARCHS:
            keras_preact.create_model(spec["model"])  # raises the zoo's "unknown model" error
        return keras_preact.ARCHS[key].family.value
    return spec.get("family") or "cifar"


def build_model(spec, **kwargs):
    """Builds a network from a spec: `{"model": name}` or `{"depth": d, "family": ...}`,
    plus the variant fields of `MODEL_FIELDS` and `model_options`; `kwargs` go to the
    builder (classes, input_shape, weights, ...)."""
    import keras_preact

    variant = {k: spec.get(k) for k in MODEL_FIELDS if spec.get(k) is not None}
    kwargs = {**variant, **(spec.get("model_options") or {}), **kwargs}
    if spec.get("model"):
        if spec.get("depth") is not None:
            raise ValueError("Give either a model name or a depth, not both.")
        return keras_preact.create_model(spec["model"], **kwargs)
    if spec.get("depth") is None:
        raise ValueError("Give a model name (e.g. preact_resnet164) or a depth.")
    return keras_preact.build_resnet(spec["depth"], **kwargs)


__all__ = ["MODEL_FIELDS", "build_model", "model_family"]
