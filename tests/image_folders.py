"""Synthetic `split/class/*.jpg|png` folders for the data and training tests."""

import numpy as np
from PIL import Image

CLASSES = ("cat", "dog", "frog")


def make_image_folder(root, per_class=8, test_per_class=4, size=32, corrupt=True, seed=0):
    """Writes tiny class-coloured images (alternating JPEG and PNG) under `root`.

    Class c is noise around grey level 60 + 70 c, so a small net separates the classes
    in a few steps. With `corrupt`, `train/cat/broken.jpg` holds bytes that are no image.

    Returns:
        `root`.
    """
    rng = np.random.default_rng(seed)
    for split, count in (("train", per_class), ("test", test_per_class)):
        for c, name in enumerate(CLASSES):
            folder = root / split / name
            folder.mkdir(parents=True, exist_ok=True)
            for i in range(count):
                pixels = np.clip(rng.normal(60 + 70 * c, 25, (size, size, 3)), 0, 255)
                extension = "png" if i % 2 else "jpg"
                Image.fromarray(pixels.astype(np.uint8)).save(folder / f"{i:03d}.{extension}")
    (root / "train" / "cat" / "notes.txt").write_text("not an image, not listed")
    if corrupt:
        (root / "train" / "cat" / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 truncated")
    return root
