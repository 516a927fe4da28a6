"""Shared fixtures: a temporary station home, a fixed clock, cheap KDF, a CLI runner."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
VECTORS = REPO / "tests" / "vectors"  # vendored external test vectors; see its README.md
DATA = REPO / "tests" / "data"  # other test inputs kept in the repository
CHEAP_WF = 10  # scrypt log2(N) for tests; the real default (18) is exercised in one test
PASS = "correct-horse-battery"


class FixedClock:
    """A clock tests can move; every call returns the same instant until advanced."""

    def __init__(self, start: datetime | None = None) -> None:
        self.now = start or datetime(2026, 11, 28, 9, 0, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **kw: float) -> None:
        self.now += timedelta(**kw)


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock()


@pytest.fixture
def home(tmp_path: Path) -> Path:
    h = tmp_path / "station"
    h.mkdir()
    return h


@pytest.fixture
def arc(home: Path, clock: FixedClock) -> Iterator[object]:
    """An initialised, unlocked archive with head user `zhangsan`."""
    from archive.app import Archive

    a, _code = Archive.init(home, user="zhangsan", role="head", passphrase=PASS, clock=clock,
                            kdf_work_factor=CHEAP_WF)
    yield a
    a.close()


@pytest.fixture
def make_file(tmp_path: Path) -> Callable[..., Path]:
    """Write a file outside the home; returns its path."""
    src = tmp_path / "src"
    src.mkdir(exist_ok=True)

    def _make(name: str, data: bytes | str) -> Path:
        p = src / name
        p.write_bytes(data.encode("utf-8") if isinstance(data, str) else data)
        return p

    return _make


def sgz_env(home: Path, user: str = "zhangsan", passphrase: str = PASS, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SGZ_")}
    env.update({
        "SGZ_HOME": str(home), "SGZ_USER": user, "SGZ_PASSPHRASE": passphrase,
        "SGZ_NEW_PASSPHRASE": passphrase, "SGZ_KDF_WORK_FACTOR": str(CHEAP_WF),
        "PYTHONDONTWRITEBYTECODE": "1",
    })
    env.update(extra)
    return env


def run_sgz(args: list[str], env: dict[str, str], **kw: object) -> subprocess.CompletedProcess[str]:
    """Run the real `sgz` in a subprocess (for concurrency, crash and RSS tests)."""
    return subprocess.run([sys.executable, "-m", "archive.cli.main", *args], env=env,
                          capture_output=True, text=True, **kw)  # type: ignore[call-overload]


@pytest.fixture
def cli_home(home: Path) -> tuple[Path, dict[str, str]]:
    """A home initialised through the real CLI; returns (home, env)."""
    env = sgz_env(home)
    r = run_sgz(["init", "--user", "zhangsan", "--role", "head"], env)
    assert r.returncode == 0, r.stderr
    return home, env
