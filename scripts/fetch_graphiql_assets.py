#!/usr/bin/env python
"""Refetch GraphiQL's third-party files from the npm registry into Nexus's static files.

    scripts/fetch_graphiql_assets.py

``backend/api/static/graphiql/vendor/manifest.json`` pins each file: its npm package, the exact
version and the path inside the package, in the order the page loads them. This script runs
``npm pack`` for each pinned package in a temporary directory, copies the pinned files to
``vendor/<package>@<version>/<path>`` (the path unpkg serves them under) and records each
file's sha256 in the manifest. To move to a newer GraphiQL, edit the versions in the manifest
and run the script; tests/api/test_explorers.py checks the copies against the manifest.
"""

import hashlib
import json
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
VENDOR = REPO_ROOT / "backend" / "api" / "static" / "graphiql" / "vendor"
MANIFEST = VENDOR / "manifest.json"


def packed(package: str, version: str, into: Path) -> Path:
    """The unpacked ``package`` directory of ``package@version``'s npm tarball."""
    output = subprocess.run(
        ["npm", "pack", "--silent", f"{package}@{version}"],
        cwd=into,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    tarball = into / output.strip().splitlines()[-1]
    unpacked = into / tarball.name.removesuffix(".tgz")
    with tarfile.open(tarball) as archive:
        archive.extractall(unpacked, filter="data")
    return unpacked / "package"


def main() -> None:
    manifest = json.loads(MANIFEST.read_text())
    shutil.rmtree(VENDOR)
    VENDOR.mkdir(parents=True)
    with tempfile.TemporaryDirectory() as scratch:
        packages: dict[tuple[str, str], Path] = {}
        for asset in manifest["assets"]:
            key = (asset["package"], asset["version"])
            if key not in packages:
                packages[key] = packed(*key, into=Path(scratch))
            target = VENDOR / f"{asset['package']}@{asset['version']}" / asset["file"]
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(packages[key] / asset["file"], target)
            asset["sha256"] = hashlib.sha256(target.read_bytes()).hexdigest()
            print(f"{target.relative_to(REPO_ROOT)}  {asset['sha256']}", file=sys.stderr)
    MANIFEST.write_text(json.dumps(manifest, indent=2) + "\n")


if __name__ == "__main__":
    main()
