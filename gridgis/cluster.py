"""The Dask cluster the ``dask`` engines run on: a running scheduler, or a local one started for the job.

Used by :func:`gridgis.assign.cluster.assign_parquet_dask` and by
:func:`gridgis.partition.partition` with ``engine="dask"``. The workers of a
remote cluster must have gridgis installed (they import it to run the tasks).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack, contextmanager

from gridgis.errors import InputError

__all__ = ["ENGINES", "check_engine", "dask_client", "local_cluster"]

#: ``local``: this machine (processes or chunks); ``dask``: a dask.distributed cluster
ENGINES = ("local", "dask")

#: seconds to reach a scheduler and to see its first worker
CONNECT_TIMEOUT = 5.0


def check_engine(engine: str, scheduler: str | None) -> None:
    """Reject an unknown engine, or a scheduler address given to the local engine.

    Examples
    --------
    >>> check_engine("dask", "tcp://10.0.0.5:8786")
    >>> check_engine("spark", None)
    Traceback (most recent call last):
    ...
    gridgis.errors.InputError: Unknown engine 'spark'. Fix: use one of ['local', 'dask'].
    """
    if engine not in ENGINES:
        raise InputError(f"Unknown engine {engine!r}.", fix=f"use one of {list(ENGINES)}.")
    if scheduler and engine != "dask":
        raise InputError(f"A scheduler ({scheduler}) needs the dask engine.", fix="add --engine dask.")


def local_cluster(n_workers: int = 2, **options):
    """A ``distributed.LocalCluster`` of ``n_workers`` single-threaded processes, without a dashboard.

    Its HTTP endpoint takes a free port rather than 8787, so runs side by side do not collide.

    Examples
    --------
    It starts worker processes, so it is shown here, not run (tests/partition/test_dask.py runs it)::

        with local_cluster(2) as cluster:
            len(cluster.workers)  # 2
    """
    from distributed import LocalCluster

    return LocalCluster(
        n_workers=n_workers,
        threads_per_worker=1,
        processes=True,
        dashboard_address=None,
        scheduler_kwargs={"dashboard_address": ":0"},
        **options,
    )


@contextmanager
def dask_client(scheduler: str | None = None, *, n_workers: int = 2, timeout: float = CONNECT_TIMEOUT) -> Iterator:
    """A ``distributed.Client`` on the scheduler at ``scheduler``, or on a new ``LocalCluster``.

    Parameters
    ----------
    scheduler
        Address ``tcp://HOST:PORT`` of a running scheduler with workers; default:
        a ``LocalCluster`` of ``n_workers`` single-threaded worker processes,
        closed on exit.
    n_workers
        Workers of the local cluster.
    timeout
        Seconds to wait for the scheduler to answer and to have a worker.

    Raises
    ------
    InputError
        The address is malformed, the scheduler does not answer, or it has no worker.

    Examples
    --------
    Without a scheduler it starts a local cluster, so it is shown here, not run::

        with dask_client() as client:
            client.gather(client.map(abs, [-1, 2]))  # [1, 2]
    """
    from distributed import Client

    with ExitStack() as stack:
        if scheduler:
            try:
                client = stack.enter_context(Client(scheduler, timeout=f"{timeout}s"))
            except (OSError, ValueError) as exc:
                raise InputError(
                    f"Cannot reach the Dask scheduler {scheduler!r} ({exc}).",
                    fix="start one (dask scheduler; dask worker tcp://HOST:8786) and pass its tcp://HOST:PORT, "
                    "or drop --scheduler to run a local cluster.",
                ) from None
            try:
                client.wait_for_workers(1, timeout=timeout)
            except TimeoutError:
                raise InputError(
                    f"The Dask scheduler {scheduler!r} has no worker after {timeout:g} s.",
                    fix="start workers with gridgis installed: dask worker " + scheduler,
                ) from None
        else:
            cluster = stack.enter_context(local_cluster(n_workers))
            client = stack.enter_context(Client(cluster))
        yield client
