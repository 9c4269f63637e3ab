"""What a slash command says: its fields, who sent it, and the words after the verb.

Everything here is a caller's input: a body that is not UTF-8 form encoding is a 400; a
command from another workspace, under another name, or with a reply URL off Slack's hooks
host is refused before it runs; arguments are checked word by word (ASCII only).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import parse_qs

from pydantic import ValidationError

from chalicelib.core.errors import Forbidden, InvalidRequest
from chalicelib.core.slack import HOOKS_PREFIX, reply_url_allowed
from chalicelib.domain.messages import DeployRequest
from chalicelib.domain.policy import Permission

if TYPE_CHECKING:
    from chalicelib.deps import Deps
    from chalicelib.domain.policy import Environment


MAX_FIELDS = 50
_COUNT = re.compile(r"[+-]?[0-9]+", re.ASCII)
_COUNT_DIGITS = 4000  # Python refuses to int() a string of more than 4300 digits


def form_fields(body: bytes) -> dict[str, str]:
    """The first value of each field of a form-encoded UTF-8 body; InvalidRequest if it is not
    one."""
    try:
        fields = parse_qs(
            body.decode("utf-8"), encoding="utf-8", errors="strict", max_num_fields=MAX_FIELDS
        )
    except (UnicodeDecodeError, ValueError):
        raise InvalidRequest(
            "the body is not UTF-8 form encoding", fields={"body": "not UTF-8 form encoding"}
        ) from None
    return {k: v[0] for k, v in fields.items()}


@dataclass(frozen=True)
class SlashCommand:
    """The fields of a slash command opsbot uses."""

    user_id: str
    command: str
    text: str
    response_url: str | None
    channel_id: str | None = None
    team_id: str | None = None
    base_url: str | None = None  # the API's public URL (set by the Slack edge, for links)

    @classmethod
    def parse(cls, body: bytes) -> SlashCommand:
        """From the form-encoded body Slack posts."""
        fields = form_fields(body)
        if not fields.get("user_id"):
            raise InvalidRequest("not a Slack slash command", fields={"user_id": "missing"})
        return cls(
            user_id=fields["user_id"],
            command=fields.get("command", "/opsbot"),
            text=fields.get("text", "").strip(),
            response_url=fields.get("response_url") or None,
            channel_id=fields.get("channel_id"),
            team_id=fields.get("team_id") or None,
        )

    @property
    def verb(self) -> str:
        """The first word, lower-cased (``help`` when there is none)."""
        words = self.text.split()
        return words[0].lower() if words else "help"

    @property
    def args(self) -> list[str]:
        """The words after the verb."""
        return self.text.split()[1:]


def check_origin(deps: Deps, *, team_id: str | None, response_url: str | None) -> None:
    """Refuse a request from another workspace than the policy's (when it names one), or one
    whose reply URL is not Slack's hooks host (in a deployed stage)."""
    expected = deps.policy.slack.team_id
    if expected is not None and team_id != expected:
        raise Forbidden(
            "this opsbot answers one Slack workspace, not this one",
            fields={"team_id": "not this opsbot's workspace"},
        )
    if response_url is not None and not reply_url_allowed(response_url, deps.settings.stage):
        raise InvalidRequest(
            f"response_url must be on {HOOKS_PREFIX}", fields={"response_url": "not Slack's"}
        )


def check_command(deps: Deps, command: SlashCommand) -> None:
    """Refuse a command that is not this workspace's opsbot command, from elsewhere."""
    expected = deps.policy.slack.command
    if command.command != expected:
        raise InvalidRequest(
            f"this is {expected}, not {command.command[:32]!r}", fields={"command": expected}
        )
    check_origin(deps, team_id=command.team_id, response_url=command.response_url)


def count_arg(word: str, usage: str, *, name: str = "COUNT", field: str = "desired") -> int:
    """A COUNT argument: ASCII digits, of any size (the bounds are checked later, where they
    are known, so a huge count is refused naming them). A signed count is refused: ``+1`` or
    ``-1`` reads as "one more" or "one fewer", and setting the count to 1 instead would be the
    opposite of what was meant."""
    if _COUNT.fullmatch(word) and word[0] in "+-":
        raise InvalidRequest(
            f"COUNT is the number of tasks to run, not a change: {word[:20]!r} is not read as "
            f"a count of {word[1:21] or 0}, and nothing was done; give the count itself (e.g. 3); "
            f"usage: {usage}",
            fields={"desired": "a change, not a count", "text": usage},
        )
    if not _COUNT.fullmatch(word):
        raise InvalidRequest(
            f"{name} must be a whole number, not {word[:20]!r}; usage: {usage}",
            fields={field: "not a whole number", "text": usage},
        )
    if len(word) > _COUNT_DIGITS:
        raise InvalidRequest(
            f"{name} {word[:20]}... has more than {_COUNT_DIGITS} digits; usage: {usage}",
            fields={field: "too many digits", "text": usage},
        )
    return int(word)


def deploy_request(environment: str, service: str, what: str, usage: str) -> DeployRequest:
    """The deploy a command asks for (an image if ``what`` has ``/`` or ``@``, else a tag)."""
    key = "image" if "/" in what or "@" in what else "tag"
    try:
        return DeployRequest.model_validate(
            {"environment": environment, "service": service, key: what}
        )
    except ValidationError as exc:
        bad = sorted({str(e["loc"][0]) for e in exc.errors() if e["loc"]}) or [key]
        raise InvalidRequest(
            f"{', '.join(b.upper() for b in bad)} is not valid: {what[:80]!r}; usage: {usage}",
            fields={**{b: "invalid" for b in bad}, "text": usage},
        ) from None


def principal(deps: Deps, user_id: str) -> str:
    """The person a Slack user is in the policy; Forbidden for a stranger."""
    who = deps.policy.person_for_slack_user(user_id)
    if who is None:
        raise Forbidden(f"Slack user {user_id} is not in the opsbot policy", slack_user=user_id)
    return who


def env_and_args(
    deps: Deps, args: list[str], needed: int, usage: str, *, actor: str = ""
) -> tuple[Environment, list[str]]:
    """``needed`` arguments and the environment: named by one more word, else the default.
    An unknown environment's NotFound names only those ``actor`` may read."""
    if len(args) == needed + 1:  # the last word names the environment
        return deps.policy.environment(args[-1], reader=actor), args[:-1]
    if len(args) != needed:
        raise InvalidRequest(f"usage: {usage}", fields={"text": usage})
    default = deps.policy.slack.default_environment
    if default is None:
        raise InvalidRequest(f"name the environment: {usage}", fields={"text": usage})
    return deps.policy.environments[default], args


def read_env(deps: Deps, actor: str, args: list[str], usage: str) -> Environment:
    """The one optional argument of a read (else the default environment), readable by actor."""
    if len(args) > 1:
        raise InvalidRequest(f"usage: {usage}", fields={"text": usage})
    name = args[0] if args else deps.policy.slack.default_environment
    if name is None:
        raise InvalidRequest(f"name the environment: {usage}", fields={"text": usage})
    env = deps.policy.environment(name, reader=actor)
    deps.policy.require(actor, env.name, Permission.READ)
    return env
