"""The avatars a server offers: the ``.vasa3d`` files of one folder, named by id (the file stem)."""

from __future__ import annotations

import re
from pathlib import Path

from vasa3d.serve.errors import NotFound
from vasa3d.serve.security import AVATAR_ID, check_avatar_id


class AvatarStore:
    """``folder/<id>.vasa3d`` for every id; ids are checked so that no request can name another file."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def list(self) -> list[dict]:
        if not self.folder.is_dir():
            return []
        out = []
        for p in sorted(self.folder.glob("*.vasa3d")):
            if p.is_file() and not p.is_symlink() and AVATAR_ID.match(p.stem):
                st = p.stat()
                out.append({"id": p.stem, "bytes": st.st_size, "modified": st.st_mtime})
        return out

    def path(self, avatar_id: object) -> Path:
        """The file of an existing avatar (InputError for a bad or unknown id)."""
        p = self.folder / f"{check_avatar_id(avatar_id)}.vasa3d"
        if not p.is_file() or p.is_symlink():
            raise NotFound(f"no avatar {avatar_id!r}; GET /api/avatars lists them")
        return p

    def new_id(self, wanted: str) -> str:
        """A free id close to ``wanted`` (a photo's name): letters, digits, '-' and '_' only."""
        base = re.sub(r"[^A-Za-z0-9_-]+", "-", wanted.strip())[:48].strip("-_") or "avatar"
        candidate, n = base, 2
        while (self.folder / f"{candidate}.vasa3d").exists():
            candidate, n = f"{base}-{n}", n + 1
        return candidate
