"""The exit codes of ``opsbot``: each outcome a script may want to tell apart has its own."""

from __future__ import annotations

from enum import IntEnum


class Exit(IntEnum):
    """What ``opsbot`` exits with (docs/reference/cli.md lists them)."""

    OK = 0  # the request was done; with --wait: the deployment succeeded
    API_ERROR = 1  # opsbot refused the request (4xx): its message is printed
    POLICY_INVALID = 1  # `policy validate`/`diff`: the policy file has problems (each printed)
    USAGE = 2  # the command line is wrong (argparse's own code)
    UNREACHABLE = 3  # no answer, or 5xx, after every retry
    NOT_CONFIGURED = 4  # no API token (OPSBOT_API_TOKEN or a profile)
    ROLLED_BACK = 10
    FAILED = 11
    REJECTED = 12
    DENIED = 13
    EXPIRED = 14
    WAIT_TIMEOUT = 20  # --timeout passed while the deployment was still queued or in progress
    APPROVAL_TIMEOUT = 21  # --timeout passed while the deployment still awaited approval
    BROKEN_PIPE = 141  # standard output was closed by its reader (as a shell's SIGPIPE)


# A deployment's terminal status -> the exit code of ``--wait``.
TERMINAL: dict[str, Exit] = {
    "succeeded": Exit.OK,
    "rolled_back": Exit.ROLLED_BACK,
    "failed": Exit.FAILED,
    "rejected": Exit.REJECTED,
    "denied": Exit.DENIED,
    "expired": Exit.EXPIRED,
}
