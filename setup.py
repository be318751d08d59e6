"""Packaging for keras_preact: every ResNet of He et al., "Identity Mappings in Deep
Residual Networks" (ECCV 2016), as Keras 3 builders."""

import pathlib
import re

from setuptools import find_namespace_packages, setup

HERE = pathlib.Path(__file__).parent
VERSION = re.search(
    r'__version__ = "([^"]+)"', (HERE / "keras_preact" / "version.py").read_text()
).group(1)

setup(
    name="keras_preact",
    version=VERSION,
    description=(
        "Original and pre-activation ResNets (He et al., ECCV 2016) for Keras 3, "
        "with pretrained weights on the Hugging Face Hub"
    ),
    long_description=(HERE / "README.md").read_text(),
    long_description_content_type="text/markdown",
    license="Apache-2.0",
    python_requires=">=3.10",
    packages=find_namespace_packages(include=["keras_preact", "keras_preact.*"]),
    include_package_data=True,
    package_data={"keras_preact": ["pretrained/sample_images/*/*.jpg"]},
    # Lower bounds are the versions .ci/run installs and tests (keras 3.15.1, TF 2.21,
    # huggingface-hub 2.4, jax 0.10); upper bounds stop at the next major release.
    install_requires=[
        "keras>=3.15,<4",
        "numpy>=1.26",
        "h5py>=3.10",
        "pillow>=10",
        "huggingface-hub>=2.4,<3",
    ],
    extras_require={
        "tf": ["tensorflow-cpu>=2.21,<2.22; platform_machine == 'x86_64'",
               "tensorflow>=2.21,<2.22; platform_machine != 'x86_64'",
               "tensorflow-datasets>=4.9,<5",
               "tensorboard>=2.21"],
        "jax": ["jax>=0.10"],
        "export": ["ai-edge-litert>=2.3,<3"],
        "onnx": ["tf2onnx>=1.17", "onnxruntime>=1.20"],
        "test": ["pytest>=8", "pytest-xdist>=3"],
        "plots": ["matplotlib>=3.8", "tqdm>=4.60"],
    },
    entry_points={"console_scripts": ["keras-preact=keras_preact.cli:main"]},
)
