"""IAM: the demo task execution role."""

from __future__ import annotations

import json
from typing import Any

from infra.local.demo.names import EXECUTION_ROLE


def seed_iam(iam: Any) -> str:
    """Create the task execution role; its ARN."""
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": "ecs-tasks.amazonaws.com"},
                "Action": "sts:AssumeRole",
            }
        ],
    }
    role = iam.create_role(
        RoleName=EXECUTION_ROLE,
        AssumeRolePolicyDocument=json.dumps(trust),
        Description="ECS task execution role for the opsbot demo",
    )["Role"]
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Action": [
                    "ecr:GetAuthorizationToken",
                    "ecr:BatchCheckLayerAvailability",
                    "ecr:GetDownloadUrlForLayer",
                    "ecr:BatchGetImage",
                    "logs:CreateLogStream",
                    "logs:PutLogEvents",
                ],
                "Resource": "*",
            }
        ],
    }
    iam.put_role_policy(
        RoleName=EXECUTION_ROLE, PolicyName="task-execution", PolicyDocument=json.dumps(policy)
    )
    return str(role["Arn"])
