"""A provisioning station: apply one verified plan to every board that is plugged in.

:mod:`.watch` says which boards are present (Nordic kits by USB, a fixed list, a file that
lists ports, a glob); :mod:`.runner` polls that, starts one worker per new board and keeps
each board's state; :mod:`.events` turns a board's outcome into the JSON line a station
prints without a terminal; :mod:`.dashboard` is the live view on a terminal. The board work
itself is a function given to the runner (``xsudo station`` gives
:func:`xsudo.plans.apply.apply_to_port`), so the loop is tested without a modem.

Layer: beside the command line (it prints through :mod:`xsudo.cli.output`), above the plans
and the ledger it drives.
"""
