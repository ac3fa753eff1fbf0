"""Atomic file writes that otherwise behave like ``open(path, "w")``.

A reader of ``path`` sees the old file or the new one, never half of one: the data goes
to a temporary file in the same directory, which is renamed over ``path`` once complete.
Names, permissions and links behave as with a plain ``open``:

* the temporary name is short (at most 46 characters), so any legal file name works;
* a new file gets ``0o666`` less the umask (the kernel applies it, as for ``open``);
  a replaced file keeps its mode;
* a symbolic link is followed: its target is written and the link stays a link;
* an existing file that ``open(path, "w")`` could not write is refused (PermissionError).

On any error the old file is left as it was and the temporary file is removed.

nn/_atomic.py and viz/_atomic.py are the same file (a test keeps them identical): nn and
viz may not import each other, and autograd holds no file I/O.
"""

from __future__ import annotations

import contextlib
import errno
import os
import secrets
import stat
from collections.abc import Iterator
from typing import IO, Any

__all__ = ["atomic_open"]


@contextlib.contextmanager
def atomic_open(path: str | os.PathLike[str], binary: bool = False) -> Iterator[IO[Any]]:
    """A new file to write (UTF-8 text, or bytes when ``binary``) that replaces ``path`` on success."""
    target = os.path.realpath(os.fsdecode(path))  # through symlinks, to the file open() would write
    if os.path.islink(target):  # realpath stops at a link it cannot resolve: a loop
        raise OSError(errno.ELOOP, os.strerror(errno.ELOOP), os.fsdecode(path))
    if os.path.exists(target) and not os.access(target, os.W_OK):
        raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), os.fsdecode(path))
    handle, temporary = _create_temporary(target)
    try:
        with os.fdopen(handle, "wb" if binary else "w", encoding=None if binary else "utf-8") as file:
            yield file
            file.flush()
            os.fsync(file.fileno())
        with contextlib.suppress(FileNotFoundError):
            os.chmod(temporary, stat.S_IMODE(os.stat(target).st_mode))
        os.replace(temporary, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.remove(temporary)
        raise


def _create_temporary(target: str) -> tuple[int, str]:
    """A new, empty file next to ``target``, created as open() creates files (mode 0o666 less the umask)."""
    directory, name = os.path.split(target)
    for _ in range(100):
        # the start of the name tells a user whose file a leftover (after a power cut) was;
        # 32 characters are at most 128 bytes, far below any file system's NAME_MAX
        temporary = os.path.join(directory, f".{name[:32]}.{secrets.token_hex(4)}.tmp")
        try:
            return os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666), temporary
        except FileExistsError:
            continue
        except PermissionError as error:  # open(path, "w") might still write the file: say why this cannot
            raise PermissionError(
                error.errno, f"{error.strerror}: an atomic save writes a temporary file next to {name!r} first", directory
            ) from None
    raise FileExistsError(errno.EEXIST, "no free temporary file name", directory)
