"""The photo folder (PHOTO_DIR): files named by their sha256, written once, never deleted.

A file and its `visit_photos` row exist together or not at all. The file is written (to a temporary
name, then renamed: never half a file under a real name) inside the row's transaction, after the row
flushed; if that transaction does not commit, a file it created is removed again. A file that was
already there (the same bytes sent before) is left alone. Two limits, both leaving the database
right: a process killed between the rename and the commit leaves one unreferenced file, which
nothing reads; and when the same bytes arrive in two transactions at once and the one that wrote
the file fails, it removes the file the other one's row then names (the rep is told nothing is
wrong; `/photos` says that photo's file is missing).
"""
import os
import tempfile
from pathlib import Path

from sqlalchemy import event
from sqlalchemy.orm import Session, SessionTransaction

EXTENSIONS = {"image/jpeg": "jpg", "image/png": "png", "image/webp": "webp"}
_CREATED = "photo_files_created"  # Session.info key: files this transaction wrote


class PhotoStore:
    def __init__(self, root: Path):
        self.root = Path(root)

    @staticmethod
    def name_for(sha256: str, mime: str) -> str:
        """The stored path, relative to the folder: ab/abcdef....jpg."""
        return f"{sha256[:2]}/{sha256}.{EXTENSIONS[mime]}"

    def path(self, stored: str) -> Path:
        return self.root / stored

    def read(self, stored: str) -> bytes | None:
        """The file's bytes; None when it is missing (see the limits above)."""
        try:
            return self.path(stored).read_bytes()
        except FileNotFoundError:
            return None

    def put(self, session: Session, content: bytes, stored: str) -> None:
        """Write `content` under `stored` unless it is there already; undone if `session` rolls back."""
        target = self.path(stored)
        if target.exists():
            return
        target.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=target.parent, prefix=".part-")
        try:
            with os.fdopen(handle, "wb") as file:
                file.write(content)
                file.flush()
                os.fsync(file.fileno())
            os.replace(temporary, target)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
        _undo_on_rollback(session, target)


def _undo_on_rollback(session: Session, path: Path) -> None:
    if not session.in_transaction():
        session.begin()  # its end decides the file's fate (the row's flush has begun it already)
    created = session.info.setdefault(_CREATED, [])
    if not event.contains(session, "after_transaction_end", _transaction_ended):
        event.listen(session, "after_commit", _committed)
        event.listen(session, "after_transaction_end", _transaction_ended)
    created.append(path)


def _committed(session: Session) -> None:
    session.info[_CREATED] = []  # the rows are in: the files stay for good


def _transaction_ended(session: Session, transaction: SessionTransaction) -> None:
    if transaction.parent is not None:
        return
    for path in session.info.pop(_CREATED, []):
        path.unlink(missing_ok=True)
