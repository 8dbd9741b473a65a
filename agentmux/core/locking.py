"""File locks (``flock``): released by the kernel even when the holder is killed."""

from __future__ import annotations

import fcntl
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def repo_lock(path: Path) -> Iterator[None]:
    """Hold an exclusive lock on ``path``, waiting for it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_CREAT | os.O_RDWR, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)


@contextmanager
def try_lock(path: Path) -> Iterator[bool]:
    """Take an exclusive lock on ``path`` if it is free; yield whether it was taken."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_CREAT | os.O_RDWR, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        try:
            yield True
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


@contextmanager
def wait_lock(path: Path, timeout: float) -> Iterator[bool]:
    """Take an exclusive lock on ``path``, waiting up to ``timeout`` seconds for it to be free;
    yield whether it was taken."""
    deadline = time.monotonic() + timeout
    while True:
        with try_lock(path) as mine:
            if mine or time.monotonic() >= deadline:
                yield mine
                return
        time.sleep(0.05)
