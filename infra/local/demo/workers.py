"""The demo worker fleet: its job queue, launch template and Auto Scaling group."""

from __future__ import annotations

from typing import Any

from infra.local.demo.names import ASG_NAME, QUEUE_NAME, WORKER_AMI, name_tag


def seed_workers(ec2: Any, autoscaling: Any, sqs: Any, network: dict[str, Any]) -> dict[str, str]:
    """Create the job queue, launch template and demo-workers group."""
    queue_url = sqs.create_queue(QueueName=QUEUE_NAME)["QueueUrl"]
    lt_id = ec2.create_launch_template(
        LaunchTemplateName=ASG_NAME,
        LaunchTemplateData={
            "ImageId": WORKER_AMI,
            "InstanceType": "t3.small",
            "SecurityGroupIds": [network["security_group"]],
            "TagSpecifications": name_tag("instance", ASG_NAME),
        },
    )["LaunchTemplate"]["LaunchTemplateId"]
    autoscaling.create_auto_scaling_group(
        AutoScalingGroupName=ASG_NAME,
        LaunchTemplate={"LaunchTemplateName": ASG_NAME, "Version": "$Latest"},
        MinSize=1,
        MaxSize=5,
        DesiredCapacity=2,
        VPCZoneIdentifier=",".join(network["subnets"]),
        Tags=[{"Key": "Queue", "Value": QUEUE_NAME, "PropagateAtLaunch": True}],
    )
    return {"asg_name": ASG_NAME, "launch_template_id": lt_id, "queue_url": queue_url}
