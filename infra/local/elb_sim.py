"""ELB listener certificates as Elastic Load Balancing treats them, for the local stack.

``ListenerCertificates`` corrects moto's ELBv2 where it differs from Elastic Load Balancing
on certificates: moto's ModifyListener replaces the listener's whole certificate list with the
given one (dropping its SNI certificates) and ignores certificates on TLS listeners; ELB's
``Certificates`` parameter sets the default certificate only. AddListenerCertificates no longer
adds a certificate the listener already has.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from moto.elbv2.models import ELBv2Backend

__all__ = ["ListenerCertificates"]

ModifyListener = Callable[..., Any]
AddListenerCertificates = Callable[..., Any]


class ListenerCertificates:
    """moto's ELBv2 (in-process) treating listener certificates as ELB does (see module doc)."""

    def __init__(self) -> None:
        self._originals: tuple[ModifyListener, AddListenerCertificates] | None = None

    def install(self) -> None:
        """Patch ModifyListener and AddListenerCertificates."""
        if self._originals is not None:
            return
        original_modify: ModifyListener = ELBv2Backend.modify_listener
        original_add: AddListenerCertificates = ELBv2Backend.add_listener_certificates

        def modify_listener(
            backend: ELBv2Backend,
            arn: str,
            port: str | None = None,
            protocol: str | None = None,
            ssl_policy: str | None = None,
            certificates: list[dict[str, Any]] | None = None,
            actions: list[dict[str, Any]] | None = None,
        ) -> Any:
            listener = backend.describe_listeners(load_balancer_arn=None, listener_arns=[arn])[0]
            sni = list(listener.certificates[1:])
            result = original_modify(
                backend, arn, port, protocol, ssl_policy, certificates, actions or []
            )
            if certificates:
                default = certificates[0]["CertificateArn"]
                if result.protocol == "TLS" and not backend._certificate_exists(default):
                    from moto.elbv2.exceptions import ELBClientError

                    raise ELBClientError("CertificateNotFound", f"Certificate {default} not found")
                result.certificate = default
                result.certificates = [default, *[c for c in sni if c != default]]
            return result

        def add_listener_certificates(
            backend: ELBv2Backend, arn: str, certificates: list[dict[str, Any]]
        ) -> Any:
            listener = backend.describe_listeners(load_balancer_arn=None, listener_arns=[arn])[0]
            have = set(listener.certificates)
            fresh = []
            for cert in certificates:
                if cert["CertificateArn"] not in have:
                    have.add(cert["CertificateArn"])
                    fresh.append(cert)
            return original_add(backend, arn, fresh)

        self._originals = (original_modify, original_add)
        ELBv2Backend.modify_listener = modify_listener  # type: ignore[method-assign,assignment]
        ELBv2Backend.add_listener_certificates = add_listener_certificates  # type: ignore[method-assign,assignment]

    def stop(self) -> None:
        """Restore moto's own methods."""
        if self._originals is None:
            return
        original_modify, original_add = self._originals
        ELBv2Backend.modify_listener = original_modify  # type: ignore[method-assign]
        ELBv2Backend.add_listener_certificates = original_add  # type: ignore[method-assign]
        self._originals = None
