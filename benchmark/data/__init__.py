"""The bundled real evaluation set (UCI HAPT, waist, 20 Hz) and the script that makes it."""

from .hapt_bundle import BUNDLE_FILE, load_bundled_hapt

__all__ = ["BUNDLE_FILE", "load_bundled_hapt"]
