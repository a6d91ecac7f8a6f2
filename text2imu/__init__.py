"""text2imu: activity descriptions -> synthetic IMU data, benchmarked on real sensors."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("text2imu")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0.0.0+unknown"

__all__ = ["__version__"]
