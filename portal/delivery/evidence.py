"""Evidence files: checked by their content (never their name), kept outside static/, and written
to storage only once the database change that refers to them has committed."""

from __future__ import annotations

import hashlib
import os
import re
import uuid
from dataclasses import dataclass
from pathlib import Path

import filetype
from flask import current_app

from portal.errors import ValidationFailed

MAX_BYTES = 10 * 1024 * 1024
MAX_FILES = 10
# What a file's first bytes say it is -> the extension we keep it under.
ALLOWED_TYPES = {
    "application/pdf": ".pdf",
    "image/jpeg": ".jpg",
    "image/png": ".png",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": ".docx",
}
FIELD = "evidence_files"


@dataclass
class StagedFile:
    original_name: str
    content_type: str
    size_bytes: int
    sha256: str
    stored_name: str
    staged_path: Path


def evidence_dir() -> Path:
    folder = Path(current_app.config["STORAGE_DIR"]) / "evidence"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def path_of(stored_name: str) -> Path:
    if not re.fullmatch(r"[0-9a-f]{32}\.[a-z]{3,4}", stored_name):
        raise ValueError("not a stored evidence name")
    return evidence_dir() / stored_name


def _safe_name(name: str) -> str:
    name = os.path.basename(name or "evidence").strip() or "evidence"
    return re.sub(r"[^\w .()-]", "_", name)[:200]


# Other spellings of an extension we keep: "scan.JPEG" is already right.
SAME_TYPE = {".jpg": {".jpg", ".jpeg"}, ".pdf": {".pdf"}, ".png": {".png"}, ".docx": {".docx"}, ".bin": set()}


def named_as(name: str, extension: str) -> str:
    """The file's name as people see and download it, ending in the extension of what its content
    is: a PDF uploaded as "page.html" downloads as "page.pdf", so nobody's browser or desktop
    opens it as something else."""
    safe = _safe_name(name)
    stem, dot, suffix = safe.rpartition(".")
    if dot and stem and f".{suffix.lower()}" in SAME_TYPE[extension]:
        return safe
    return f"{stem if dot and stem else safe}{extension}"[-200:]


def check_file(name: str, data: bytes) -> tuple[str, str]:
    """(content type, extension) if the file is one we accept; else ValidationFailed naming it."""
    shown = _safe_name(name)
    if not data:
        raise ValidationFailed.single(FIELD, f"{shown} is empty")
    if len(data) > MAX_BYTES:
        raise ValidationFailed.single(FIELD, f"{shown} must be smaller than 10 MB")
    kind = filetype.guess(data)
    if kind is None or kind.mime not in ALLOWED_TYPES:
        raise ValidationFailed.single(FIELD, f"{shown} must be a PDF, JPEG, PNG or Word (DOCX) document")
    return kind.mime, ALLOWED_TYPES[kind.mime]


def stage(files: list[tuple[str, bytes]]) -> list[StagedFile]:
    """Check every file, then write each to a staging name beside the store. Nothing is staged
    unless every file is acceptable."""
    if len(files) > MAX_FILES:
        raise ValidationFailed.single(FIELD, f"Upload {MAX_FILES} files or fewer")
    checked = [(name, data, *check_file(name, data)) for name, data in files]
    staged: list[StagedFile] = []
    try:
        for name, data, content_type, extension in checked:
            stored_name = f"{uuid.uuid4().hex}{extension}"
            staged_path = evidence_dir() / f".staging-{stored_name}"
            staged_path.write_bytes(data)
            staged.append(
                StagedFile(
                    named_as(name, extension),
                    content_type,
                    len(data),
                    hashlib.sha256(data).hexdigest(),
                    stored_name,
                    staged_path,
                )
            )
    except OSError:
        discard(staged)
        raise
    return staged


def keep(staged: list[StagedFile]) -> None:
    """After the database has committed: move staged files to their stored names."""
    for file in staged:
        os.replace(file.staged_path, evidence_dir() / file.stored_name)


def discard(staged: list[StagedFile]) -> None:
    """The change did not commit: leave nothing behind."""
    for file in staged:
        file.staged_path.unlink(missing_ok=True)
