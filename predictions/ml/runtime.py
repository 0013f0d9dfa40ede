"""Thread limits for the native libraries (OpenMP, BLAS) while the models train or predict.

Why: scikit-learn's histogram gradient boosting uses OpenMP, whose threads spin while they wait. On a small
machine that is also running the web server or another job, two spinning threads on two cores made one boosting
fit 10-50× slower than a single thread in our measurements (0.5 s → 15-28 s). The data here are small (1,500 rows),
so one thread per library loses little when the machine is idle and avoids that collapse when it is not. The
platform can raise the limit with the ``n_jobs`` option.
"""

from __future__ import annotations

import contextlib
import threading

from threadpoolctl import ThreadpoolController

_controller: ThreadpoolController | None = None
_lock = threading.Lock()


def controller() -> ThreadpoolController:
    """One controller per process: finding the loaded libraries takes milliseconds, too slow for every call."""
    global _controller
    with _lock:
        if _controller is None:
            _controller = ThreadpoolController()
        return _controller


@contextlib.contextmanager
def limited_threads(n_threads: int | None = 1):
    """Limit OpenMP and BLAS thread pools to ``n_threads`` (None or <= 0: leave them alone) inside the block."""
    if not n_threads or n_threads <= 0:
        yield
        return
    with controller().limit(limits=int(n_threads)):
        yield
