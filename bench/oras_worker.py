"""The oras-py SDK in a process of its own, so its wall time and peak RSS are measured like a CLI's.

python -m bench.oras_worker push HOST/REPO:TAG FILE...
python -m bench.oras_worker pull HOST/REPO:TAG OUTDIR
"""

from __future__ import annotations

import sys


def main(argv: list[str]) -> int:
    import oras.client

    action, target, *rest = argv
    client = oras.client.OrasClient(hostname=target.split("/", 1)[0], insecure=True)
    if action == "push":
        client.push(target=target, files=rest, disable_path_validation=True, quiet=True)
    elif action == "pull":
        client.pull(target=target, outdir=rest[0])
    else:
        print(f"unknown action {action!r}: push or pull", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
