"""Image tags come from the source: the git commit (+-dirty), else a digest of the build context."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from aksmcp_tui.core.deploy.image import content_tag, source_tag

needs_git = pytest.mark.skipif(shutil.which("git") is None, reason="git not installed")


def _git(path: Path, *args: str) -> str:
    env_args = ["-c", "user.name=t", "-c", "user.email=t@example.invalid", "-c", "commit.gpgsign=false"]
    return subprocess.run(["git", *env_args, "-C", str(path), *args], capture_output=True, text=True, check=True).stdout


def test_content_tag_follows_the_files_and_ignores_caches(tmp_path: Path) -> None:
    (tmp_path / "app.py").write_text("print(1)\n")
    first = content_tag(tmp_path)
    assert first.startswith("sha-") and len(first) == 16
    (tmp_path / "__pycache__").mkdir()
    (tmp_path / "__pycache__" / "app.pyc").write_bytes(b"cache")
    assert content_tag(tmp_path) == first
    (tmp_path / "app.py").write_text("print(2)\n")
    assert content_tag(tmp_path) != first


@needs_git
def test_source_tag_is_the_commit_and_says_dirty(tmp_path: Path) -> None:
    _git(tmp_path, "init", "-q")
    (tmp_path / "app.py").write_text("print(1)\n")
    _git(tmp_path, "add", ".")
    _git(tmp_path, "commit", "-q", "-m", "one")
    commit = _git(tmp_path, "rev-parse", "--short=12", "HEAD").strip()
    assert source_tag(tmp_path) == commit
    (tmp_path / "app.py").write_text("print(2)\n")
    assert source_tag(tmp_path) == f"{commit}-dirty"
