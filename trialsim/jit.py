"""The one jit policy of trialsim: every kernel is compiled with ``jit`` from here."""

from numba import njit

#: ``@jit`` compiles a function in nopython mode and caches the machine code on disk, so a
#: second run of the tool does not pay the compilation again.
jit = njit(cache=True, nogil=True)
