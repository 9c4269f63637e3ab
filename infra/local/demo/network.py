"""EC2 networking: the demo VPC, its two subnets and security group."""

from __future__ import annotations

from typing import Any

from infra.local.demo.names import name_tag


def seed_network(ec2: Any, region: str) -> dict[str, Any]:
    """Create the VPC, subnets and security group; their ids."""
    vpc_id = ec2.create_vpc(CidrBlock="10.0.0.0/16", TagSpecifications=name_tag("vpc", "demo"))[
        "Vpc"
    ]["VpcId"]
    subnets = [
        ec2.create_subnet(
            VpcId=vpc_id,
            CidrBlock=f"10.0.{i}.0/24",
            AvailabilityZone=f"{region}{az}",
            TagSpecifications=name_tag("subnet", f"demo-{az}"),
        )["Subnet"]["SubnetId"]
        for i, az in enumerate("ab", start=1)
    ]
    sg_id = ec2.create_security_group(
        GroupName="demo", Description="opsbot demo ALB and tasks", VpcId=vpc_id
    )["GroupId"]
    ec2.authorize_security_group_ingress(
        GroupId=sg_id,
        IpPermissions=[
            {
                "IpProtocol": "tcp",
                "FromPort": 443,
                "ToPort": 443,
                "IpRanges": [{"CidrIp": "0.0.0.0/0"}],
            },
            {
                "IpProtocol": "tcp",
                "FromPort": 8080,
                "ToPort": 9090,
                "IpRanges": [{"CidrIp": "10.0.0.0/16"}],
            },
        ],
    )
    return {"vpc_id": vpc_id, "subnets": subnets, "security_group": sg_id}
