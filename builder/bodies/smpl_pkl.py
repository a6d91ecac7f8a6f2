"""Read the official SMPL ``.pkl`` files without chumpy and without trusting the pickle.

The official files (``basicModel_*_lbs_10_207_0_v1.0.0.pkl``, ``SMPL_<GENDER>.pkl``) pickle a dict whose
``v_template``, ``shapedirs`` and ``posedirs`` are ``chumpy.ch.Ch`` objects (the array is their ``x``) and whose
``J_regressor`` is a scipy sparse matrix. :func:`load_model_pickle` unpickles such a file with an unpickler that
resolves only the few globals those files use (numpy arrays and dtypes, scipy sparse matrices, chumpy classes,
the builtins ``object``/``set``/...) and refuses every other global, so a hostile pickle cannot run code; chumpy
classes resolve to :class:`ChumpyStandIn`, which keeps the pickled state. :func:`to_array` then turns a stored
value into a dense numpy array.
"""

from __future__ import annotations

import importlib
import pickle
from pathlib import Path

import numpy as np

from ..errors import FormatError


class ChumpyStandIn:
    """Takes the place of any chumpy class while unpickling; keeps the pickled state (``x`` is the array)."""

    def __init__(self, *args, **kwargs) -> None:
        self.state: object = None

    def __setstate__(self, state: object) -> None:
        self.state = state


def _scipy_sparse(name: str):
    import scipy.sparse

    return getattr(scipy.sparse, name)


_NUMPY_GLOBALS = {"_reconstruct", "scalar", "ndarray", "dtype", "_frombuffer"}
_SPARSE_CLASSES = {"csc_matrix", "csr_matrix", "coo_matrix"}


class _RestrictedUnpickler(pickle.Unpickler):
    """Resolves numpy arrays, scipy sparse matrices and chumpy objects (as stand-ins); refuses everything else."""

    def find_class(self, module: str, name: str):
        root = module.split(".")[0]
        if root == "chumpy":
            return ChumpyStandIn
        if module in ("copy_reg", "copyreg") and name == "_reconstructor":
            import copyreg

            return copyreg._reconstructor
        if module in ("__builtin__", "builtins") and name in ("object", "set", "frozenset", "list", "dict"):
            import builtins

            return getattr(builtins, name)
        if module == "_codecs" and name == "encode":  # bytes in protocol-2 pickles written by Python 3
            import codecs

            return codecs.encode
        if root == "numpy" and name in _NUMPY_GLOBALS:
            if name in ("ndarray", "dtype"):
                return getattr(np, name)
            # numpy.core was renamed numpy._core in numpy 2; old pickles name the former
            for mod in ("numpy._core.multiarray", "numpy._core.numeric", "numpy.core.multiarray"):
                try:
                    return getattr(importlib.import_module(mod), name)
                except (ImportError, AttributeError):
                    continue
        if root == "scipy" and ".sparse" in module and name in _SPARSE_CLASSES:
            return _scipy_sparse(name)
        raise pickle.UnpicklingError(f"it refers to {module}.{name}, which an SMPL model file never does")


def to_array(value: object, key: str, path: Path) -> np.ndarray:
    """A pickled value (ndarray, chumpy stand-in, scipy sparse) -> dense numpy array."""
    seen = 0
    while isinstance(value, ChumpyStandIn):
        state = value.state
        if not isinstance(state, dict) or "x" not in state:
            raise FormatError(
                f"{path}: '{key}' is a chumpy expression, not a stored array; it cannot be evaluated without "
                "chumpy (convert the file with chumpy installed, or use smplx's .npz files)"
            )
        value = state["x"]
        seen += 1
        if seen > 8:
            raise FormatError(f"{path}: '{key}' nests chumpy objects too deeply")
    if hasattr(value, "toarray"):  # scipy sparse
        value = value.toarray()
    try:
        return np.asarray(value)
    except (TypeError, ValueError) as err:
        raise FormatError(f"{path}: '{key}' is not an array ({type(value).__name__})") from err


def load_model_pickle(path: Path) -> dict:
    """Unpickle an SMPL model file with the restricted unpickler; FormatError naming it when that fails."""
    try:
        with open(path, "rb") as f:
            raw = _RestrictedUnpickler(f, encoding="latin1").load()
    except (
        pickle.UnpicklingError,
        EOFError,
        ValueError,
        TypeError,
        AttributeError,
        ImportError,
        IndexError,
    ) as err:
        raise FormatError(f"{path}: not an SMPL model pickle ({err})") from err
    if not isinstance(raw, dict):
        raise FormatError(f"{path}: not an SMPL model pickle (holds a {type(raw).__name__}, not a dict)")
    return raw
