"""``python -m chalicelib.domain.compile_policy POLICY_FILE...``: validate each policy file and
write its compiled form (``domain.compiled``), as ``make package`` and ``make bench`` do."""

from __future__ import annotations

import sys
from pathlib import Path

from chalicelib.domain.policy import validate_policy_bytes


def compile_policy_file(path: Path) -> Path:
    """Validate a policy file and write its compiled form even where bytecode is not written
    (``make package``, ``make bench``); where it went (PolicyError, OSError)."""
    from chalicelib.domain import compiled

    data = path.read_bytes()
    return compiled.write(path, data, validate_policy_bytes(data, str(path)))


def main(argv: list[str]) -> int:
    """Compile each file named; 2 without any."""
    if not argv:
        print(__doc__, file=sys.stderr)
        return 2
    for name in argv:
        print(f"{name}: compiled to {compile_policy_file(Path(name))}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
