"""Files syncd writes for people: plans, reports, the audit log. They hold names, e-mails and
phones, so each is readable and writable by its owner only (0600), whatever the umask."""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path
from typing import Final

PRIVATE_MODE: Final = 0o600


def write_private(path: Path, text: str | Iterable[str]) -> None:
    """Write ``text`` (UTF-8; or its parts one after the other) to ``path`` with mode 0600, an
    existing file included.

    Raises ``OSError`` as ``open`` does (a missing folder: ``FileNotFoundError``).
    """
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, PRIVATE_MODE)
    try:
        os.fchmod(fd, PRIVATE_MODE)  # the umask only takes bits off; an old file keeps its own
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as out:
            fd = -1
            out.writelines([text] if isinstance(text, str) else text)
    finally:
        if fd != -1:
            os.close(fd)
