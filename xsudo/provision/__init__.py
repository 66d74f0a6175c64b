"""Provisioning: the authentication policy, one device session, credential writes, key
slots and the fleet runner.

Modules: :mod:`.policy` (auto/required/never as a pure decision), :mod:`.session`
(plain or ``%XSUDO`` per the plan, audit records), :mod:`.offline` (CFUN handling),
:mod:`.writer` (:class:`~xsudo.provision.writer.CredentialWriter`), :mod:`.keyslots`
(``%XPMNG`` slots), :mod:`.manifest` and :mod:`.fleet` (many devices from one manifest).

This file only makes the directory a regular package (so documentation tools find its
modules); it imports nothing.
"""
