"""Class names of the datasets the zoo's weights are trained on, shipped with the package
so that `decode_predictions` never downloads anything.

The order is the label order of the datasets' own files (`batches.meta` of CIFAR-10,
`fine_label_names` of CIFAR-100's `meta`), which is also the order of
`keras.datasets` and `tensorflow_datasets`.
"""

CIFAR10_LABELS = (
    "airplane", "automobile", "bird", "cat", "deer",
    "dog", "frog", "horse", "ship", "truck",
)

CIFAR100_LABELS = (
    "apple", "aquarium_fish", "baby", "bear", "beaver", "bed", "bee", "beetle",
    "bicycle", "bottle", "bowl", "boy", "bridge", "bus", "butterfly", "camel",
    "can", "castle", "caterpillar", "cattle", "chair", "chimpanzee", "clock",
    "cloud", "cockroach", "couch", "crab", "crocodile", "cup", "dinosaur",
    "dolphin", "elephant", "flatfish", "forest", "fox", "girl", "hamster",
    "house", "kangaroo", "keyboard", "lamp", "lawn_mower", "leopard", "lion",
    "lizard", "lobster", "man", "maple_tree", "motorcycle", "mountain", "mouse",
    "mushroom", "oak_tree", "orange", "orchid", "otter", "palm_tree", "pear",
    "pickup_truck", "pine_tree", "plain", "plate", "poppy", "porcupine",
    "possum", "rabbit", "raccoon", "ray", "road", "rocket", "rose", "sea",
    "seal", "shark", "shrew", "skunk", "skyscraper", "snail", "snake", "spider",
    "squirrel", "streetcar", "sunflower", "sweet_pepper", "table", "tank",
    "telephone", "television", "tiger", "tractor", "train", "trout", "tulip",
    "turtle", "wardrobe", "whale", "willow_tree", "wolf", "woman", "worm",
)

DATASET_LABELS = {
    "cifar10": CIFAR10_LABELS,
    "cifar100": CIFAR100_LABELS,
}


def get_labels(dataset):
    """Returns the class names of a dataset shipped with the package.

    Args:
        dataset: "cifar10" or "cifar100".

    Returns:
        A tuple of class names, indexed by label id.

    Raises:
        ValueError: the dataset's names are not shipped (the message lists those that are).
    """
    try:
        return DATASET_LABELS[dataset]
    except KeyError:
        raise ValueError(
            f"No class names shipped for dataset {dataset!r}; known: "
            f"{', '.join(sorted(DATASET_LABELS))}."
        ) from None
