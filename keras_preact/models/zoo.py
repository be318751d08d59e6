"""Named entry points in the keras.applications style, one per row of the architecture
table and per family: `ResNet110` (original units, He et al. 2015 / Fig. 4a of He et al.
2016) and `PreActResNet164` (full pre-activation, Fig. 4e). All of them call
`keras_preact.create_model`; see `keras_preact.build_resnet` for the arguments.
"""

import importlib

from keras_preact.models.archs import ARCHS, parse_model_name


def entry_point_name(model):
    """The keras.applications-style function of a zoo name, or None for other names.

    >>> entry_point_name("preact_resnet164")
    'PreActResNet164'
    """
    key, preact = parse_model_name(model)
    if key not in ARCHS:
        return None
    return f"{'PreAct' if preact else ''}ResNet{ARCHS[key].depth}"


def _entry_point(model):
    key, preact = parse_model_name(model)
    arch = ARCHS[key]

    def builder(
        include_top=True,
        weights=None,
        input_tensor=None,
        input_shape=None,
        pooling=None,
        classes=None,
        classifier_activation="softmax",
        name=None,
        **kwargs,
    ):
        # Imported here so that the names exist without a backend (keras_preact.runtime).
        create_model = importlib.import_module("keras_preact.models.builder").create_model
        return create_model(
            model,
            include_top=include_top,
            weights=weights,
            input_tensor=input_tensor,
            input_shape=input_shape,
            pooling=pooling,
            classes=classes,
            classifier_activation=classifier_activation,
            name=name,
            **kwargs,
        )

    builder.__name__ = builder.__qualname__ = entry_point_name(model)
    family = "CIFAR" if arch.family.value == "cifar" else "ImageNet"
    kind = "full pre-activation units (Fig. 4e)" if preact else "original units (Fig. 4a)"
    builder.__doc__ = (
        f"{family} ResNet-{arch.depth} with {kind}, {arch.block.value} branches, stages "
        f"{arch.depths} (He et al., ECCV 2016). Takes the keras.applications arguments; "
        "see `keras_preact.build_resnet` for them and for extra keyword arguments."
    )
    return builder


ResNet20 = _entry_point("resnet20")
ResNet32 = _entry_point("resnet32")
ResNet44 = _entry_point("resnet44")
ResNet56 = _entry_point("resnet56")
ResNet110 = _entry_point("resnet110")
ResNet1202 = _entry_point("resnet1202")
ResNet164 = _entry_point("resnet164")
ResNet1001 = _entry_point("resnet1001")
ResNet18 = _entry_point("resnet18")
ResNet34 = _entry_point("resnet34")
ResNet50 = _entry_point("resnet50")
ResNet101 = _entry_point("resnet101")
ResNet152 = _entry_point("resnet152")
ResNet200 = _entry_point("resnet200")
PreActResNet20 = _entry_point("preact_resnet20")
PreActResNet32 = _entry_point("preact_resnet32")
PreActResNet44 = _entry_point("preact_resnet44")
PreActResNet56 = _entry_point("preact_resnet56")
PreActResNet110 = _entry_point("preact_resnet110")
PreActResNet1202 = _entry_point("preact_resnet1202")
PreActResNet164 = _entry_point("preact_resnet164")
PreActResNet1001 = _entry_point("preact_resnet1001")
PreActResNet18 = _entry_point("preact_resnet18")
PreActResNet34 = _entry_point("preact_resnet34")
PreActResNet50 = _entry_point("preact_resnet50")
PreActResNet101 = _entry_point("preact_resnet101")
PreActResNet152 = _entry_point("preact_resnet152")
PreActResNet200 = _entry_point("preact_resnet200")

ENTRY_POINTS = {
    name: fn for name, fn in globals().items() if name.startswith(("ResNet", "PreActResNet"))
}
