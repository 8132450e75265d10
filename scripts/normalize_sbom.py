"""Rewrites the checkout path in a wheel's Rust SBOM (`*.dist-info/sboms/*.json`) as /softgrad.

cargo-cyclonedx names the workspace's own crates by their absolute path
(`path+file:///home/me/src/softgrad/rust/softgrad-core#0.1.0`), so without this the wheel records
where it was built and two checkouts never give the same bytes. The library itself is remapped the
same way at compile time (`--remap-path-prefix`, scripts/wheel.sh). The entries keep their order and
times; RECORD gets the new hash and size.

Usage: python scripts/normalize_sbom.py WHEEL CHECKOUT
"""

from __future__ import annotations

import base64
import hashlib
import sys
import zipfile
from pathlib import Path

NEUTRAL = "/softgrad"


def record_hash(data: bytes) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"sha256={digest}"


def main() -> None:
    wheel, checkout = Path(sys.argv[1]), str(Path(sys.argv[2]).resolve())
    with zipfile.ZipFile(wheel) as z:
        entries = [(info, z.read(info)) for info in z.infolist()]
    old = f"file://{checkout}/".encode()
    new = f"file://{NEUTRAL}/".encode()
    changed: dict[str, bytes] = {}
    for info, data in entries:
        if "/sboms/" in info.filename and old in data:
            changed[info.filename] = data.replace(old, new)
    if not changed:
        return
    out: list[tuple[zipfile.ZipInfo, bytes]] = []
    for info, data in entries:
        data = changed.get(info.filename, data)
        if info.filename.endswith(".dist-info/RECORD"):
            lines = []
            for line in data.decode().splitlines():
                name = line.split(",")[0]
                if name in changed:
                    body = changed[name]
                    line = f"{name},{record_hash(body)},{len(body)}"
                lines.append(line)
            data = ("\n".join(lines) + "\n").encode()
        out.append((info, data))
    tmp = wheel.with_suffix(".tmp")
    with zipfile.ZipFile(tmp, "w") as z:
        for info, data in out:
            z.writestr(info, data, compress_type=info.compress_type)
    tmp.replace(wheel)
    print(f"   SBOM: {checkout} recorded as {NEUTRAL} ({', '.join(sorted(changed))})")


if __name__ == "__main__":
    main()
