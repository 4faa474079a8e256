"""External tools the deploy tests need (Debian packages `prometheus` and `nginx-light`).

Missing locally → skip; missing under CI=true → fail, so CI can never pass by not testing.
"""

from __future__ import annotations

import os
import shutil

import pytest

APT_PACKAGES = {"promtool": "prometheus", "nginx": "nginx-light"}


def require_tool(name: str) -> str:
    """The tool's path, or skip (locally) / fail (CI) naming the apt package to install."""
    path = shutil.which(name) or next(
        (p for p in (f"/usr/bin/{name}", f"/usr/sbin/{name}") if os.path.exists(p)), None)
    if path:
        return path
    message = (f"{name} not found: apt-get install -y {APT_PACKAGES.get(name, name)}")
    if os.environ.get("CI") == "true":
        pytest.fail(message + " (required under CI=true)")
    pytest.skip(message)
