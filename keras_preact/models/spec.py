"""How a network is named everywhere outside the builders: a "spec" dict,
`{"model": "preact_resnet164"}` (a zoo name) or `{"depth": 110, "family": "cifar",
"placement": "original", ...}` (the builder's arguments), plus `model_options` (shortcut
options such as `gate_bias_init`). Training records it in `model.json`, a registered
weights entry converts to it (`entry_spec`), and `build_model` is the one place that turns
a spec into a network.
"""

from keras_preact.models.archs import ARCHS, parse_model_name

MODEL_FIELDS = ("family", "block", "placement", "shortcut", "downsample", "stride_at")


def model_family(spec):
    """"cifar" or "imagenet" for a model spec (a dict with "model" or "depth"/"family")."""
    if spec.get("model"):
        key, _ = parse_model_name(spec["model"])
        if key not in ARCHS:
            from keras_preact.models.builder import create_model

            create_model(spec["model"])  # raises the zoo's "unknown model" error
        return ARCHS[key].family.value
    return spec.get("family") or "cifar"


def entry_spec(entry):
    """The spec of a registered `WeightsEntry`: its `model_args` (build_resnet keyword
    arguments) when it has them, else its zoo name."""
    if not entry.model_args:
        return {"model": entry.architecture}
    args = dict(entry.model_args)
    spec = {key: args.pop(key) for key in ("depth", *MODEL_FIELDS) if key in args}
    return {**spec, "model_options": args}


def build_model(spec, **kwargs):
    """Builds a network from a spec: `{"model": name}` or `{"depth": d, "family": ...}`,
    plus the variant fields of `MODEL_FIELDS` and `model_options`; `kwargs` go to the
    builder (classes, input_shape, weights, ...)."""
    from keras_preact.models.builder import build_resnet, create_model

    variant = {k: spec.get(k) for k in MODEL_FIELDS if spec.get(k) is not None}
    kwargs = {**variant, **(spec.get("model_options") or {}), **kwargs}
    if spec.get("model"):
        if spec.get("depth") is not None:
            raise ValueError("Give either a model name or a depth, not both.")
        return create_model(spec["model"], **kwargs)
    if spec.get("depth") is None:
        raise ValueError("Give a model name (e.g. preact_resnet164) or a depth.")
    return build_resnet(spec["depth"], **kwargs)


__all__ = ["MODEL_FIELDS", "build_model", "entry_spec", "model_family"]
