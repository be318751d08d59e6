"""How a network is named everywhere outside the builders: one `ModelSpec`, either a zoo
name (`ModelSpec(model="preact_resnet164")`) or a depth with the variants of Figs. 2 and
4 (`ModelSpec(depth=110, placement="relu_preact", shortcut="exclusive_gating")`), plus
shortcut options (`gate_bias_init`, ...). A training config (`TrainConfig.spec`), a
registered weights entry (`ModelSpec.from_entry`), the `model.json` of a run
(`keras_preact.pretrained.metadata`) and a drafted registry entry
(`ModelSpec.entry_args`) all go through it, and `ModelSpec.build` is the one place that
turns a spec into a network.

Its dict form (`to_dict`, `from_dict`) is the "build" field of `model.json`.
"""

import dataclasses
import types

from keras_preact.models.archs import ARCHS, parse_model_name

MODEL_FIELDS = ("family", "block", "placement", "shortcut", "downsample", "stride_at")


@dataclasses.dataclass(frozen=True)
class ModelSpec:
    """A network of the zoo: a name, or a depth and variants.

    Attributes:
        model: a zoo name ("preact_resnet164"; `keras_preact.list_models()`), or None.
        depth: number of weight layers, with `family` ... `stride_at` (None: the
            builder's default), when `model` is None.
        family, block, placement, shortcut, downsample, stride_at: `build_resnet`'s
            variant arguments, as strings.
        options: further `build_resnet` keyword arguments (shortcut options).
    """

    model: str | None = None
    depth: int | None = None
    family: str | None = None
    block: str | None = None
    placement: str | None = None
    shortcut: str | None = None
    downsample: str | None = None
    stride_at: str | None = None
    options: types.MappingProxyType = dataclasses.field(default_factory=dict)

    def __post_init__(self):
        object.__setattr__(self, "options", types.MappingProxyType(dict(self.options or {})))
        if self.model and self.depth is not None:
            raise ValueError("Give either a model name or a depth, not both.")

    @property
    def empty(self):
        """Whether it names no network (neither a model name nor a depth)."""
        return not self.model and self.depth is None

    @classmethod
    def from_dict(cls, data):
        """Reads `to_dict()` output, or a `model.json` "build" (its "classes" and
        "input_shape" are not part of the spec); a `ModelSpec` is returned as it is."""
        if isinstance(data, cls):
            return data
        data = {k: v for k, v in (data or {}).items() if v not in (None, {}, "")}
        return cls(model=data.get("model"), depth=data.get("depth"),
                   options=data.get("model_options") or {},
                   **{k: data.get(k) for k in MODEL_FIELDS})

    @classmethod
    def from_entry(cls, entry):
        """The spec of a registered `WeightsEntry`: its `model_args` (build_resnet keyword
        arguments) when it has them, else its zoo name."""
        if not entry.model_args:
            return cls(model=entry.architecture)
        args = dict(entry.model_args)
        named = {key: args.pop(key) for key in ("depth", *MODEL_FIELDS) if key in args}
        return cls(**named, options=args)

    def to_dict(self):
        """JSON-ready: the fields that are set, options as "model_options"."""
        data = {k: getattr(self, k) for k in ("model", "depth", *MODEL_FIELDS)
                if getattr(self, k) is not None}
        if self.options:
            data["model_options"] = dict(self.options)
        return data

    def entry_args(self):
        """`WeightsEntry.model_args` for weights of this network: {} for a zoo name (the
        entry's architecture says it all), else the `build_resnet` keyword arguments."""
        if self.model:
            return {}
        return {k: v for k, v in self.to_dict().items() if k != "model_options"} | dict(
            self.options)

    def family_name(self):
        """"cifar" or "imagenet"."""
        if self.model:
            key, _ = parse_model_name(self.model)
            if key not in ARCHS:
                from keras_preact.models.builder import create_model

                create_model(self.model)  # raises the zoo's "unknown model" error
            return ARCHS[key].family.value
        return self.family or "cifar"

    def build(self, **kwargs):
        """Builds the network; `kwargs` go to the builder (classes, input_shape,
        weights, ...).

        Raises:
            ValueError: the spec names no network, or an unknown one.
        """
        from keras_preact.models.builder import build_resnet, create_model

        variant = {k: getattr(self, k) for k in MODEL_FIELDS if getattr(self, k) is not None}
        kwargs = {**variant, **self.options, **kwargs}
        if self.model:
            return create_model(self.model, **kwargs)
        if self.depth is None:
            raise ValueError("Give a model name (e.g. preact_resnet164) or a depth.")
        return build_resnet(self.depth, **kwargs)


def model_family(spec):
    """"cifar" or "imagenet" for a `ModelSpec` or its dict form."""
    return ModelSpec.from_dict(spec).family_name()


def build_model(spec, **kwargs):
    """Builds a network from a `ModelSpec` or its dict form (see `ModelSpec.build`)."""
    return ModelSpec.from_dict(spec).build(**kwargs)


__all__ = ["MODEL_FIELDS", "ModelSpec", "build_model", "model_family"]
