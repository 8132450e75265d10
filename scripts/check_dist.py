"""Checks the built wheel and sdist: tags, license texts, metadata, tests in the sdist, no build path.

Usage: python scripts/check_dist.py DIST_DIR   (run from the repository root by scripts/wheel.sh)
"""

from __future__ import annotations

import base64
import csv
import hashlib
import io
import os
import subprocess
import sys
import tarfile
import zipfile
from email.parser import Parser
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LICENSES = ("LICENSE-MIT", "LICENSE-APACHE")
EXPRESSION = "MIT OR Apache-2.0"


def fail(msg: str) -> None:
    sys.exit(f"check_dist: {msg}")


def check_metadata(text: str, where: str) -> None:
    meta = Parser().parsestr(text)
    if meta["License-Expression"] != EXPRESSION:
        fail(f"{where}: License-Expression is {meta['License-Expression']!r}, not {EXPRESSION!r}")
    if sorted(meta.get_all("License-File") or []) != sorted(LICENSES):
        fail(f"{where}: License-File entries are {meta.get_all('License-File')}")
    if "Typing :: Typed" not in (meta.get_all("Classifier") or []):
        fail(f"{where}: no 'Typing :: Typed' classifier")
    if not meta.get_all("Project-URL"):
        fail(f"{where}: no project URLs")


def check_wheel(path: Path) -> None:
    if "-cp310-abi3-" not in path.name or "manylinux2014_x86_64" not in path.name:
        fail(f"{path.name}: not a cp310-abi3 manylinux2014_x86_64 wheel")
    with zipfile.ZipFile(path) as z:
        names = set(z.namelist())
        info = next(n.split("/")[0] for n in names if n.endswith(".dist-info/METADATA"))
        for lic in LICENSES:
            member = f"{info}/licenses/{lic}"
            if member not in names:
                fail(f"{path.name}: {member} missing")
            if z.read(member) != (ROOT / lic).read_bytes():
                fail(f"{path.name}: {member} differs from the repository's")
        check_metadata(z.read(f"{info}/METADATA").decode(), path.name)
        # RECORD lists every file with its hash (scripts/normalize_sbom.py rewrites one of them).
        rows = list(csv.reader(io.StringIO(z.read(f"{info}/RECORD").decode())))
        if {r[0] for r in rows} != names:
            fail(f"{path.name}: RECORD does not list exactly the wheel's files")
        for name, digest, size in rows:
            if name == f"{info}/RECORD":
                continue
            data = z.read(name)
            want = "sha256=" + base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
            if digest != want or int(size) != len(data):
                fail(f"{path.name}: RECORD entry of {name} does not match the file")
        for needed in ("softgrad/py.typed", "softgrad/_core.abi3.so", "softgrad/_core/__init__.pyi"):
            if needed not in names:
                fail(f"{path.name}: {needed} missing")
        # Paths are remapped (scripts/wheel.sh): no file names the checkout or ~/.cargo.
        cargo_home = os.environ.get("CARGO_HOME") or str(Path.home() / ".cargo")
        for name in names:
            data = z.read(name)
            for local in (str(ROOT), cargo_home):
                if local.encode() in data:
                    fail(f"{path.name}: {name} contains the build path {local}")
    print(f"   wheel ok: {path.name} ({path.stat().st_size // 1024} KiB), licenses in {info}/licenses/")


def check_sdist(path: Path) -> None:
    tracked = subprocess.run(
        ["git", "ls-files", "tests"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.split()
    with tarfile.open(path) as t:
        top = t.getnames()[0].split("/")[0]
        names = {n.removeprefix(f"{top}/") for n in t.getnames()}
        for needed in (*LICENSES, "Cargo.lock", "pyproject.toml", *tracked):
            if needed not in names:
                fail(f"{path.name}: {needed} missing")
        pkg_info = t.extractfile(f"{top}/PKG-INFO")
        assert pkg_info is not None
        check_metadata(pkg_info.read().decode(), path.name)
    print(f"   sdist ok: {path.name} (licenses, Cargo.lock, {len(tracked)} test files)")


def main() -> None:
    dist = Path(sys.argv[1])
    wheels = sorted(dist.glob("*.whl"))
    sdists = sorted(dist.glob("*.tar.gz"))
    if len(wheels) != 1 or len(sdists) != 1:
        fail(f"expected one wheel and one sdist in {dist}, found {wheels + sdists}")
    check_wheel(wheels[0])
    check_sdist(sdists[0])


if __name__ == "__main__":
    main()
