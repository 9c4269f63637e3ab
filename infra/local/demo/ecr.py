"""ECR: the demo repositories and their tagged images (schema 2 manifests)."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from infra.local.demo.names import ECR_TAGS

_MANIFEST_V2 = "application/vnd.docker.distribution.manifest.v2+json"


def _sha256(data: str | bytes) -> str:
    raw = data.encode() if isinstance(data, str) else data
    return "sha256:" + hashlib.sha256(raw).hexdigest()


def _image_manifest(repo: str, tag: str) -> str:
    """A docker v2 schema 2 manifest whose blob digests are unique per repo:tag."""
    layers = [
        {
            "mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip",
            "size": 2_800_000 + 7_919 * i + len(repo) * 131 + int(float(tag) * 1000),
            "digest": _sha256(f"{repo}:{tag}:layer{i}"),
        }
        for i in range(3)
    ]
    manifest = {
        "schemaVersion": 2,
        "mediaType": _MANIFEST_V2,
        "config": {
            "mediaType": "application/vnd.docker.container.image.v1+json",
            "size": 7_023,
            "digest": _sha256(f"{repo}:{tag}:config"),
        },
        "layers": layers,
    }
    return json.dumps(manifest, indent=3)


def seed_ecr(ecr: Any) -> dict[str, str]:
    """Create the web and api repositories and push their tags; their URIs."""
    out: dict[str, str] = {}
    for repo, tags in ECR_TAGS.items():
        created = ecr.create_repository(repositoryName=repo)["repository"]
        out[f"ecr_{repo}_uri"] = created["repositoryUri"]
        for tag in tags:
            manifest = _image_manifest(repo, tag)
            ecr.put_image(
                repositoryName=repo,
                imageManifest=manifest,
                imageManifestMediaType=_MANIFEST_V2,
                imageTag=tag,
                imageDigest=_sha256(manifest),
            )
    return out
