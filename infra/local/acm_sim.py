"""Simulate ACM DNS validation (and ELB listener certificates) for the local stack.

moto's ACM issues every ``AMAZON_ISSUED`` certificate ``MOTO_ACM_VALIDATION_WAIT`` seconds
(default 60) after it was requested, validation records or not, and only when someone happens
to describe it; it never emits an event. ``AcmSimulator`` patches moto's in-process
``CertBundle.check`` so that issuance follows the AWS documentation instead:

* "DNS validation" (ACM User Guide): a ``PENDING_VALIDATION`` certificate is issued only once
  the CNAME record ACM gives for each of its names (``DomainValidationOptions[].ResourceRecord``)
  exists in public DNS. Here: in a public hosted zone of the moto Route 53 backend of the same
  account whose name is a suffix of the record's name, with the same value. Issuance follows
  ``validation_seconds`` after every record is seen (``OPSBOT_LOCAL_ACM_SECONDS``, default 2;
  ACM takes minutes); a record removed before then resets the wait.
* "ACM certificate characteristics": a public certificate is valid for 13 months (395 days)
  from issuance. moto's generated certificate runs 365 days from the *request*, so on issuance
  the certificate is re-signed (same key, subject and names) for ``validity_days`` from now.
* "Amazon EventBridge support for ACM": on issuance ACM sends "ACM Certificate Available"
  (``Action`` ISSUANCE, the certificate ARN in ``resources``). It is handed to ``emit``, in the
  shape EventBridge delivers to a target, from the simulator's own thread (never from inside a
  request: ``emit`` may call back into the server).

Issuance does not wait for anyone to describe the certificate: a timer thread polls the backend
every ``poll_seconds`` (0.5 s). A describe (``check``) applies the same rule, so a caller never
sees a certificate issued late. Expiry (``EXPIRED`` once past NotAfter) is kept from moto.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
import uuid
from collections.abc import Callable
from typing import Any

from moto.acm.models import AWSCertificateManagerBackend, CertBundle, acm_backends
from moto.core.utils import utcnow

__all__ = ["AcmSimulator"]

log = logging.getLogger(__name__)

DETAIL_TYPE = "ACM Certificate Available"
VALIDITY_DAYS = 395  # ACM: "valid for 13 months (395 days)"

Emit = Callable[[dict[str, Any]], None]
Check = Callable[[CertBundle], None]


def _iso(moment: dt.datetime) -> str:
    """Format a naive-UTC datetime (moto's convention) as EventBridge does."""
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _norm(name: str) -> str:
    return name.strip().rstrip(".").lower()


def _values(records: Any) -> set[str]:
    """The values of a moto record set's ResourceRecords (strings or {"Value": ...})."""
    out: set[str] = set()
    for record in records or []:
        value = record.get("Value") if isinstance(record, dict) else record
        if value:
            out.add(_norm(str(value)))
    return out


class AcmSimulator:
    """Make moto's ACM issue DNS-validated certificates as ACM does, and say so."""

    def __init__(
        self,
        *,
        account_id: str = "123456789012",
        region: str = "us-east-1",
        emit: Emit,
        validation_seconds: float = 2.0,
        poll_seconds: float = 0.5,
        validity_days: int = VALIDITY_DAYS,
    ) -> None:
        self._account_id = account_id
        self._region = region
        self._emit = emit
        self.validation_seconds = max(0.0, validation_seconds)
        self._poll_seconds = poll_seconds
        self._validity = dt.timedelta(days=validity_days)
        self._lock = threading.RLock()
        self._seen: dict[str, float] = {}  # certificate ARN -> when all its records were seen
        self._outbox: list[dict[str, Any]] = []
        self._wake = threading.Condition()
        self._stopping = False
        self._thread: threading.Thread | None = None
        self._original: Check | None = None
        self._patched: Check | None = None

    # -- public interface -------------------------------------------------------------------

    def install(self, *, poll: bool = True) -> None:
        """Patch moto's ACM (in-process); with ``poll``, start the issuing thread."""
        with self._lock:
            if self._patched is None:
                original: Check = CertBundle.check

                def check(bundle: CertBundle) -> None:
                    self._check(original, bundle)

                check.__wrapped__ = original  # type: ignore[attr-defined]
                self._original, self._patched = original, check
                CertBundle.check = check  # type: ignore[method-assign,assignment]
        if poll:
            self._start_thread()

    def uninstall(self) -> None:
        """Restore moto's own ``check``."""
        with self._lock:
            if self._patched is not None and CertBundle.check is self._patched:
                CertBundle.check = self._original  # type: ignore[method-assign,assignment]
            self._original = self._patched = None

    def stop(self) -> None:
        """Stop the issuing thread and restore moto."""
        with self._wake:
            self._stopping = True
            self._wake.notify_all()
            thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout=5)
        self._thread = None
        self.uninstall()

    def poll_once(self) -> list[str]:
        """Apply the validation rule to every pending certificate of the simulated account and
        region now, then send the events of those issued; their ARNs."""
        backend = self._backend()
        issued: list[str] = []
        with self._lock:
            for bundle in list(backend._certificates.values()):
                if self._advance(bundle):
                    issued.append(bundle.arn)
        self._flush()
        return issued

    # -- the rule ---------------------------------------------------------------------------

    def _backend(self) -> AWSCertificateManagerBackend:
        return acm_backends[self._account_id][self._region]

    def _check(self, original: Check, bundle: CertBundle) -> None:
        with self._lock:
            if bundle.type == "AMAZON_ISSUED" and bundle.status == "PENDING_VALIDATION":
                if bundle._not_valid_after(bundle._cert) <= utcnow():
                    bundle.status = "EXPIRED"
                elif self._advance(bundle):
                    with self._wake:
                        self._wake.notify_all()  # the thread sends the event, not this request
                return
        original(bundle)  # everything else as moto does it (expiry)

    def _advance(self, bundle: CertBundle) -> bool:
        """Issue ``bundle`` if its validation records have been in DNS long enough."""
        if bundle.type != "AMAZON_ISSUED" or bundle.status != "PENDING_VALIDATION":
            self._seen.pop(bundle.arn, None)
            return False
        if not self._validated(bundle):
            self._seen.pop(bundle.arn, None)
            return False
        seen = self._seen.setdefault(bundle.arn, time.monotonic())
        if time.monotonic() - seen < self.validation_seconds:
            return False
        del self._seen[bundle.arn]
        self._issue(bundle)
        return True

    def _validated(self, bundle: CertBundle) -> bool:
        """Whether every validation CNAME of ``bundle`` is in a public zone of its account."""
        from moto.route53.models import route53_backends
        from moto.utilities.utils import get_partition

        options = bundle.describe()["Certificate"].get("DomainValidationOptions") or []
        if not options or any(not o.get("ResourceRecord") for o in options):
            return False
        wanted = {
            _norm(o["ResourceRecord"]["Name"]): _norm(o["ResourceRecord"]["Value"]) for o in options
        }
        parts = bundle.arn.split(":")
        account, region = parts[4], parts[3]
        route53 = route53_backends[account][get_partition(region)]
        for name, value in wanted.items():
            if not any(
                not zone.private_zone
                and (name == _norm(zone.name) or name.endswith("." + _norm(zone.name)))
                and any(
                    _norm(rrset.name) == name
                    and rrset.type == "CNAME"
                    and value in _values(rrset.records)
                    for rrset in zone.rrsets
                )
                for zone in list(route53.zones.values())
            ):
                return False
        return True

    def _issue(self, bundle: CertBundle) -> None:
        """ISSUED, re-signed for ``validity_days`` from now, and its event queued."""
        from cryptography import x509
        from cryptography.hazmat.primitives import hashes, serialization

        now = utcnow().replace(microsecond=0)
        old = bundle._cert
        builder = (
            x509.CertificateBuilder()
            .subject_name(old.subject)
            .issuer_name(old.issuer)
            .public_key(bundle._key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now)
            .not_valid_after(now + self._validity)
        )
        for extension in old.extensions:
            builder = builder.add_extension(extension.value, critical=extension.critical)
        cert = builder.sign(bundle._key, hashes.SHA256())
        bundle.cert = cert.public_bytes(serialization.Encoding.PEM)
        bundle._cert = cert
        bundle.status = "ISSUED"
        log.info("ACM issued %s (%s) after DNS validation", bundle.arn, bundle.common_name)
        self._outbox.append(self._event(bundle, now))

    def _event(self, bundle: CertBundle, now: dt.datetime) -> dict[str, Any]:
        """The "ACM Certificate Available" event, as EventBridge delivers it to a target."""
        parts = bundle.arn.split(":")
        not_after = bundle._not_valid_after(bundle._cert)
        return {
            "version": "0",
            "id": str(uuid.uuid4()),
            "detail-type": DETAIL_TYPE,
            "source": "aws.acm",
            "account": parts[4],
            "time": _iso(now),
            "region": parts[3],
            "resources": [bundle.arn],
            "detail": {
                "Action": "ISSUANCE",
                "CertificateType": "AMAZON_ISSUED",
                "CommonName": bundle.common_name,
                "FirstSubjectAlternativeName": (bundle.sans or [bundle.common_name])[0],
                "ValidityInDays": self._validity.days,
                "CertificateKeyPairOrigin": "AWS_MANAGED",
                "DomainValidationMethod": "DNS",
                "CertificateCreatedDate": _iso(bundle.created_at),
                "CertificateExpirationDate": _iso(not_after),
                "DaysToExpiry": (not_after - now).days,
                "InUse": bool(bundle.in_use_by),
                "Exported": False,
            },
        }

    # -- the thread -------------------------------------------------------------------------

    def _start_thread(self) -> None:
        with self._wake:
            self._stopping = False
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="acm-sim", daemon=True)
                self._thread.start()

    def _run(self) -> None:
        while True:
            with self._wake:
                if self._stopping:
                    return
                self._wake.wait(self._poll_seconds)
                if self._stopping:
                    return
            try:
                self.poll_once()
            except Exception:
                log.exception("acm simulator poll failed")

    def _flush(self) -> None:
        with self._lock:
            events, self._outbox = self._outbox, []
        for event in events:
            try:
                self._emit(event)
            except Exception:
                log.exception("acm simulator emit failed")
