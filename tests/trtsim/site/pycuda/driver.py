"""Shim: pycuda.driver from trtsim (bounds-checked device memory, per-thread context stacks, deferred stream work),
held to shared/trt-api/pycuda-api-*.json like the tensorrt shim is to its json."""

import sys

from tests.trtsim.cuda import driver_module

sys.modules[__name__] = driver_module()
