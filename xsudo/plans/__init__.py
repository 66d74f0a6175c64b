"""Pre-signed plans: every protected command of a manifest, signed ahead of time, approved
by one or more keys, and applied at a station that holds no private key.

* :mod:`.model` - the plan's values (:class:`PlanEntry`, :class:`VerifiedPlan`) and its
  payload schema;
* :mod:`.jws` - the JWS JSON general serialization (RFC 7515) the plan travels in, ES256;
* :mod:`.build` - create a plan from a manifest and a :class:`~xsudo.signing.Signer`, and
  add approvals;
* :mod:`.verify` - :func:`load_and_verify`: strict parsing and every check, before any port
  is opened;
* :mod:`.apply` - :func:`apply_to_port`: one device, its slot, the ledger, the writes.

docs/how-to/plans.md is the guide and states the threat model.
"""

from __future__ import annotations

from xsudo.plans.model import PlanEntry, PlanError, VerifiedPlan

__all__ = ["PlanEntry", "PlanError", "VerifiedPlan"]
