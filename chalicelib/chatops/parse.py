"""What a slash command says: its fields, who sent it, and the words after the verb."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import parse_qs

from chalicelib.core.errors import Forbidden, InvalidRequest
from chalicelib.domain.policy import Permission

if TYPE_CHECKING:
    from chalicelib.deps import Deps
    from chalicelib.domain.policy import Environment


def form_fields(body: bytes) -> dict[str, str]:
    """The first value of each field of a form-encoded body."""
    return {k: v[0] for k, v in parse_qs(body.decode("utf-8", "replace")).items()}


@dataclass(frozen=True)
class SlashCommand:
    """The fields of a slash command opsbot uses."""

    user_id: str
    command: str
    text: str
    response_url: str | None
    channel_id: str | None = None

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
            response_url=fields.get("response_url"),
            channel_id=fields.get("channel_id"),
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


def principal(deps: Deps, user_id: str) -> str:
    """The person a Slack user is in the policy; Forbidden for a stranger."""
    who = deps.policy.person_for_slack_user(user_id)
    if who is None:
        raise Forbidden(f"Slack user {user_id} is not in the opsbot policy", slack_user=user_id)
    return who


def env_and_args(
    deps: Deps, args: list[str], needed: int, usage: str
) -> tuple[Environment, list[str]]:
    """``needed`` arguments and the environment: named by one more word, else the default."""
    if len(args) == needed + 1:  # the last word names the environment
        return deps.policy.environment(args[-1]), args[:-1]
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
    env = deps.policy.environment(name)
    deps.policy.require(actor, env.name, Permission.READ)
    return env
