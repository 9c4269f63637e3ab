"""Certificates: rotate ALB listener certificates before they expire (ACM, Route 53, ELB).

For every environment with ``load_balancers``, the HTTPS and TLS listeners of those load
balancers are read, with their default and SNI certificates. A certificate that expires within
``certificates.renew_before_days`` (or has expired) is rotated, each step in its own invocation
and none of them sleeping:

1. **start** (``check_all`` on its schedule, or an "ACM Certificate Approaching Expiration"
   event): request a new ACM certificate for the same names with DNS validation (the
   idempotency token is derived from the old certificate's ARN, so a repeat never requests
   twice), UPSERT its validation CNAMEs in the public Route 53 zone of each name (the longest
   matching zone), record the rotation (a conditional write: two checks never start two),
   audit, tell people. ACM may take a moment to publish the CNAMEs: the rotation then stays
   ``requested`` and the next check or event writes them (``validating``).
2. **swap** (the "ACM Certificate Available" event, or the next check seeing ISSUED): every
   listener that served the old certificate gets the new one (ModifyListener for a default
   certificate; AddListenerCertificates then RemoveListenerCertificates for an SNI one), is
   read back to verify, and the rotation is ``completed``.
3. **fail**: a rotation still not validated after ``certificates.validation_timeout_hours``, or
   whose certificate ACM failed, is ``failed``, loudly, with what to check. If the old
   certificate still needs it, a new attempt starts a day later.

The old certificate stays in ACM: deleting it is a human decision.

Modules, by stage: ``discover`` (listeners, certificates in use, what needs rotating),
``request`` (record, request the replacement, validation progress, failure), ``dns`` (Route 53
zones and validation records), ``swap`` (listener swap and verification), ``messages`` (what
people are told), ``context`` (one check: who, where, when; audit), ``flow`` (the entry points).
"""

from __future__ import annotations

from chalicelib.certificates.context import ACTION, Check
from chalicelib.certificates.discover import listener_certificates
from chalicelib.certificates.flow import (
    APPROACHING,
    AVAILABLE,
    check_all,
    check_environment,
    on_certificate_event,
)
from chalicelib.certificates.request import idempotency_token
from chalicelib.records.rotation import Rotation, Usage

__all__ = [
    "ACTION",
    "APPROACHING",
    "AVAILABLE",
    "Check",
    "Rotation",
    "Usage",
    "check_all",
    "check_environment",
    "idempotency_token",
    "listener_certificates",
    "on_certificate_event",
]
