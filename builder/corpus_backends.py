"""Running the units of a build: in this process, in a local process pool (joblib/loky), or on a Dask cluster.

Every backend yields :class:`~text2imu.builder.corpus_units.UnitResult` objects as units finish (in any order);
the caller writes them to staging at once, so memory holds only the results in flight. Workers need the same
``text2imu`` installation (Dask workers included); results travel back to this process, so the workers need
no file system shared with it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Sequence

from .errors import Text2ImuError
from .registry import Registry

log = logging.getLogger(__name__)

DASK_CONNECT_TIMEOUT = "20s"
BACKENDS: Registry[str] = Registry("backend")
BACKENDS.register("local", "joblib process pool (loky) on this machine; --workers 1 runs in this process")
BACKENDS.register("dask", "dask.distributed cluster at --scheduler ADDRESS (tcp://host:8786)")


_single_threaded = False


def single_threaded(fn: Callable, job, unit):
    """``fn(job, unit)`` with BLAS/OpenMP limited to one thread in this (worker) process from now on.

    A unit's numpy work is many small matrix products: threaded BLAS only contends with the other workers
    (one simulation took 22 ms with two BLAS threads on a busy 2-core machine, 9 ms with one).
    """
    global _single_threaded
    if not _single_threaded:
        from threadpoolctl import threadpool_limits

        threadpool_limits(limits=1)
        _single_threaded = True
    return fn(job, unit)


def run_local(fn: Callable, job, units: Sequence, workers: int) -> Iterator:
    """``fn(job, unit)`` for every unit: serially when ``workers`` is 1 (BLAS limited to one thread meanwhile),
    else in a loky pool of ``workers`` (joblib limits the workers' BLAS threads to CPUs / workers)."""
    if workers <= 1 or len(units) <= 1:
        from threadpoolctl import threadpool_limits

        with threadpool_limits(limits=1):
            for unit in units:
                yield fn(job, unit)
        return
    from joblib import Parallel, delayed

    parallel = Parallel(n_jobs=workers, backend="loky", return_as="generator_unordered", batch_size=1,
                        pre_dispatch="2*n_jobs")
    yield from parallel(delayed(fn)(job, u) for u in units)


def connect_dask(address: str):
    """A ``distributed.Client`` connected to the scheduler at ``address`` (Text2ImuError when unreachable)."""
    try:
        from distributed import Client
    except ImportError as err:  # pragma: no cover - a declared dependency
        raise Text2ImuError(f"--backend dask needs dask.distributed ({err})") from err
    try:
        return Client(address, timeout=DASK_CONNECT_TIMEOUT)
    except (OSError, TimeoutError, ValueError) as err:
        raise Text2ImuError(f"cannot reach the Dask scheduler at {address}: {err}") from err


def run_dask(fn: Callable, job, units: Sequence, scheduler, window: int | None = None) -> Iterator:
    """``fn(job, unit)`` for every unit on the Dask cluster at ``scheduler`` (an address or a Client).

    At most ``window`` units are in flight (default: twice the cluster's threads, at least 4), so results that
    wait for this process stay few whatever the corpus size.
    """
    from distributed import Client, as_completed

    own = not isinstance(scheduler, Client)
    client = connect_dask(scheduler) if own else scheduler
    try:
        if window is None:
            threads = sum(client.nthreads().values()) or 1
            window = max(4, 2 * threads)
        [job_future] = client.scatter([job], broadcast=True)
        pending = iter(units)
        started = []
        for unit in pending:
            started.append(client.submit(single_threaded, fn, job_future, unit, pure=False))
            if len(started) >= window:
                break
        done = as_completed(started, with_results=True)
        for future, result in done:
            future.release()
            nxt = next(pending, None)
            if nxt is not None:
                done.add(client.submit(single_threaded, fn, job_future, nxt, pure=False))
            yield result
    finally:
        if own:
            client.close()


def check_backend(backend: str, workers: int, scheduler) -> None:
    """Raise Text2ImuError for options that cannot work together (before anything is written)."""
    BACKENDS[backend]  # UnknownNameError with "did you mean"
    if backend == "dask" and scheduler is None:
        raise Text2ImuError("--backend dask needs --scheduler ADDRESS (e.g. tcp://127.0.0.1:8786)")
    if backend == "local" and scheduler is not None:
        raise Text2ImuError("--scheduler is only used with --backend dask")
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise Text2ImuError(f"workers must be a positive integer, got {workers!r}")


def run_units(fn: Callable, job, units: Sequence, *, backend: str = "local", workers: int = 1,
              scheduler=None) -> Iterator:
    """Dispatch to :func:`run_local` or :func:`run_dask` (``backend`` "local" or "dask")."""
    check_backend(backend, workers, scheduler)
    if backend == "dask":
        return run_dask(fn, job, units, scheduler)
    return run_local(fn, job, units, workers)
