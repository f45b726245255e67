"""Fast-mode twins: numpy versions of routines in programs/.

`twins()` is the registry: routine name -> vm.accel.Twin. `vm.accel.attach`
binds them to a loaded program by symbol name; `vm.accel.detach_all` is the
one switch that turns them all off again.
"""

from __future__ import annotations


def twins():
    from vm.accel import Twin  # noqa: F401  (documentation of the value type)

    from .mnist import TWINS

    return dict(TWINS)
