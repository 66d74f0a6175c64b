"""The station's tests: the loop with fake boards, and the command end to end against
simulated boards on real ptys (fixtures in :mod:`tests.support.boards`)."""

from tests.support.boards import board, xsudo  # noqa: F401  (fixtures)
