"""Who made a call to the embedded AWS, as CloudTrail's ``userIdentity`` says it: the STS
session of an assumed role, an IAM user moto knows, or else the account's root (the local
``testing`` key). ``install`` makes moto's STS ``GetCallerIdentity`` say the same for a key it
does not know (the account's root, as AWS answers for root keys; moto says ``user/moto``), so
what opsbot learns of its own identity is what its CloudTrail events carry."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any


def identity(access_key: str, account: str, now: datetime) -> tuple[dict[str, Any], str]:
    """``userIdentity`` for a call made with ``access_key``, and the event's ``Username``."""
    role = _assumed_role(access_key)
    if role is not None:
        role_name = role.role_arn.rsplit("/", 1)[-1]
        role_id = role.user_id.split(":", 1)[0]
        return {
            "type": "AssumedRole",
            "principalId": role.user_id,
            "arn": role.arn,
            "accountId": role.account_id,
            "accessKeyId": access_key,
            "sessionContext": {
                "sessionIssuer": {
                    "type": "Role",
                    "principalId": role_id,
                    "arn": role.role_arn,
                    "accountId": role.account_id,
                    "userName": role_name,
                },
                "attributes": {
                    "creationDate": now.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
                    "mfaAuthenticated": "false",
                },
            },
        }, role.session_name
    user = _iam_user(access_key, account)
    if user is not None:
        return {
            "type": "IAMUser",
            "principalId": user.id,
            "arn": user.arn,
            "accountId": account,
            "accessKeyId": access_key,
            "userName": user.name,
        }, user.name
    return {
        "type": "Root",
        "principalId": account,
        "arn": f"arn:aws:iam::{account}:root",
        "accountId": account,
        "accessKeyId": access_key,
    }, "root"


def _assumed_role(access_key: str) -> Any:
    from moto.sts.models import sts_backends

    for _, by_partition in list(sts_backends.items()):
        for backend in list(by_partition.values()):
            role = backend.get_assumed_role_from_access_key(access_key)
            if role is not None:
                return role
    return None


def _iam_user(access_key: str, account: str) -> Any:
    from moto.iam.models import iam_backends

    try:
        backend = iam_backends[account]["aws"]
    except KeyError:
        return None
    if access_key not in backend.access_keys:
        return None
    return backend.get_user_from_access_key_id(access_key)


_original: list[Any] = []


def install() -> None:
    """moto's ``GetCallerIdentity`` answers an unknown key as the account's root."""
    from moto.sts.models import STSBackend

    if _original:
        return
    original = STSBackend.get_caller_identity

    def get_caller_identity(backend: Any, access_key_id: str, region: str) -> tuple[str, str, str]:
        user_id, arn, account = original(backend, access_key_id, region)
        if arn.endswith(":user/moto") and user_id == "AKIAIOSFODNN7EXAMPLE":
            return account, f"arn:{arn.split(':')[1]}:iam::{account}:root", account
        return user_id, arn, account

    _original.append(original)
    STSBackend.get_caller_identity = get_caller_identity  # type: ignore[method-assign,assignment]


def uninstall() -> None:
    """Give moto its own ``GetCallerIdentity`` back."""
    from moto.sts.models import STSBackend

    if _original:
        STSBackend.get_caller_identity = _original.pop()  # type: ignore[method-assign]
