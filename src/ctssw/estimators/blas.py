"""BLAS on one thread while an estimator runs.

The products in the estimators' fits are small (k × k, periods × periods, one
per group) or tall and thin (k × n): threaded BLAS gains little on them and, on
a busy machine, loses much, its threads waiting for one another (a 260,000-row
within fit took 1.5 s with two threads while other work ran on the two cores,
0.1 s with one). The libraries are found once per process: a fresh scan costs
about 2 ms, which a small model's whole fit can be.
"""

from __future__ import annotations

_controller = None


def one_blas_thread():
    """Context manager: BLAS limited to one thread while it is open, restored after.

    The limit is process-wide (as every BLAS thread setting is), so fits running
    at the same time in other threads share it.
    """
    global _controller
    if _controller is None:
        from threadpoolctl import ThreadpoolController

        _controller = ThreadpoolController()
    return _controller.limit(limits=1, user_api="blas")
