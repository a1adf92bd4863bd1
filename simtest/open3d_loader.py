"""Import Open3D on machines that lack the system libusb it links against.

Open3D's Linux wheel needs ``libusb-1.0.so.0`` at import time; bare machines and
slim containers do not have it. The ``libusb-package`` wheel ships the library,
so it is loaded globally first and Open3D then resolves the symbol from it.
"""

from __future__ import annotations

import ctypes
import functools
from types import ModuleType


@functools.cache
def import_open3d() -> ModuleType:
    """Return the ``open3d`` module, preloading libusb from ``libusb-package`` when needed."""
    try:
        import open3d
    except ImportError as first:
        if "libusb" not in str(first):
            raise
        import libusb_package

        path = libusb_package.get_library_path()
        if path is None:
            raise ImportError(
                "open3d needs libusb-1.0.so.0: install Debian's libusb-1.0-0 or the libusb-package wheel"
            ) from first
        ctypes.CDLL(str(path), mode=ctypes.RTLD_GLOBAL)
        import open3d
    return open3d
