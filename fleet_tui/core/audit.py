"""The audit trail on disk: append-only JSON lines, hash-chained, durable, private.

Each entry carries the hash of the one before it and its own hash, so editing,
deleting or reordering an entry breaks the chain. A small head file names the
last entry, so cutting the tail off shows too.

Appends are written at once and made durable in the background (one fsync
for however many entries came meanwhile: an fsync takes milliseconds, and the
server's loop must not wait for the disk); the head file is updated only once
the entries it names are on disk, so after a crash it may be behind the trail,
which is no alarm, but never ahead of it unless entries were deleted.

What a crash can leave, the next append repairs before it writes, and says so
in the trail itself (an `audit` entry): a torn last line (an append cut short)
is moved aside to `<trail>.torn`, and the chain goes on from the last whole
entry; a head left behind is brought forward. What a crash cannot
explain is recorded as damage, and `verify` keeps reporting it: a head file
that is missing, or one naming entries the trail no longer has.

An append that fails (a full disk) leaves no partial line and uses no
sequence number; the next append that succeeds says how many were lost. Text
that is not valid Unicode (a lone surrogate from a pasted prompt) is stored
with the bad characters replaced, never refused.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

GENESIS = "0" * 64
NOTE_KIND = "audit"  # entries the store writes about itself


def _digest(entry: dict[str, Any]) -> str:
    canonical = json.dumps(entry, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


def _valid_text(value: Any) -> Any:
    """`value` with every string made encodable (lone surrogates become U+FFFD)."""
    if isinstance(value, str):
        try:
            value.encode()
            return value
        except UnicodeEncodeError:
            return "".join("\ufffd" if 0xD800 <= ord(c) <= 0xDFFF else c for c in value)
    if isinstance(value, dict):
        return {_valid_text(k): _valid_text(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_valid_text(v) for v in value]
    return value


@dataclass(frozen=True)
class _Scan:
    """What is on disk: the whole entries, and a torn line at the end if any."""

    seq: int
    last_hash: str
    hashes: dict[int, str]  # seq -> hash, for the head check
    whole_bytes: int  # length of the file up to the end of its last whole line
    torn: bytes  # bytes after the last newline (an append cut short), usually empty


AUDIT_FILE = "audit.jsonl"  # in the fleet's state folder (gitrepo.fleet_dir)


class AuditStore:
    """Append-only, hash-chained event log."""

    def __init__(self, path: Path):
        self.path = path
        self.head_path = path.with_suffix(".head")
        self.torn_path = path.with_suffix(".torn")
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        scan = self._scan()
        self.seq, self.last_hash = scan.seq, scan.last_hash
        self._checked = False  # repairs happen before the first append, never on a read
        self._lost = 0  # appends that failed since the last one that worked
        self._fd: int | None = None
        self._syncer: _Syncer | None = None

    # -- reading -------------------------------------------------------------------
    def _scan(self) -> _Scan:
        try:
            data = self.path.read_bytes()
        except FileNotFoundError:
            return _Scan(0, GENESIS, {}, 0, b"")
        end = data.rfind(b"\n") + 1
        seq, last, hashes = 0, GENESIS, {}
        for raw in data[:end].splitlines():
            try:
                entry = json.loads(raw)
                seq, last = int(entry["seq"]), str(entry["hash"])
                hashes[seq] = last
            except (ValueError, KeyError, TypeError):
                continue  # verify() reports damage; appending goes on after the last good entry
        return _Scan(seq, last, hashes, end, data[end:])

    def _head(self) -> tuple[int, str] | None:
        """(seq, hash) from the head file; None when it is missing; (-1, "") when unreadable."""
        try:
            seq, digest = self.head_path.read_text().split()
            return int(seq), digest
        except FileNotFoundError:
            return None
        except ValueError:
            return -1, ""

    def read(self) -> list[dict[str, Any]]:
        if not self.path.exists():
            return []
        entries = []
        for raw in self.path.read_text(encoding="utf-8", errors="replace").splitlines():
            try:
                entries.append(json.loads(raw))
            except ValueError:
                continue
        return entries

    # -- appending -----------------------------------------------------------------
    def append(self, event: Any) -> Any:
        """Write `event` (kind, message, session, data, ts) as the next entry and set its seq."""
        if not self._checked:
            self._repair()
        entry = self._write({"ts": event.ts, "kind": getattr(event.kind, "value", event.kind),
                             "session": event.session, "message": event.message, "data": event.data})
        event.seq = entry["seq"]
        return event

    def _write(self, fields: dict[str, Any]) -> dict[str, Any]:
        """Append one entry durably; on failure nothing is written and no seq is used."""
        if self._lost:
            lost, self._lost = self._lost, 0
            try:
                self._write({"ts": time.time(), "kind": NOTE_KIND, "session": None,
                             "message": f"{lost} event(s) could not be written to the trail (see the server log)",
                             "data": {"lost": lost}})
            except OSError:
                self._lost += lost
                raise
        entry = {"seq": self.seq + 1, **_valid_text(fields), "prev": self.last_hash}
        entry["hash"] = _digest(entry)
        line = (json.dumps(entry, ensure_ascii=False) + "\n").encode()
        fd = self._open()
        size = os.fstat(fd).st_size
        try:
            view = memoryview(line)
            while view:
                view = view[os.write(fd, view):]
        except OSError:
            self._lost += 1
            try:
                os.ftruncate(fd, size)  # no half line for the next entry to land on
            except OSError:
                pass
            raise
        self.seq, self.last_hash = entry["seq"], entry["hash"]
        if self._syncer is None:
            self._syncer = _Syncer(self)
        self._syncer.request(self.seq, self.last_hash)
        return entry

    def _open(self) -> int:
        if self._fd is None:
            self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o600)
            os.fchmod(self._fd, 0o600)  # a trail from an older version may be world-readable
        return self._fd

    def _write_head(self, seq: int | None = None, digest: str | None = None) -> None:
        tmp = self.head_path.with_suffix(".head.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o600)
        try:
            os.write(fd, f"{self.seq if seq is None else seq} {digest or self.last_hash}\n".encode())
            os.fdatasync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, self.head_path)

    def flush(self) -> None:
        """Return once every entry appended so far is on disk and named by the head."""
        if self._syncer is not None:
            self._syncer.wait_synced(self.seq)

    def close(self) -> None:
        if self._syncer is not None:
            self._syncer.stop()
            self._syncer = None
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    # -- repairs before the first append -----------------------------------------------
    def _repair(self) -> None:
        self._checked = True
        try:
            self.path.parent.chmod(0o700)
        except OSError:
            pass
        scan = self._scan()
        self.seq, self.last_hash = scan.seq, scan.last_hash
        notes: list[tuple[str, dict[str, Any]]] = []
        if scan.torn:
            with open(self.torn_path, "ab", opener=lambda p, f: os.open(p, f, 0o600)) as aside:
                aside.write(scan.torn + b"\n")
            os.truncate(self.path, scan.whole_bytes)
            notes.append((f"repaired: a torn last line ({len(scan.torn)} bytes, an append cut short by a crash) "
                          f"was moved to {self.torn_path.name}; the trail goes on from entry {scan.seq}",
                          {"repaired": "torn line", "bytes": len(scan.torn)}))
        head = self._head()
        if head is None and scan.seq > 0:
            notes.append((f"DAMAGE: the head file was missing with {scan.seq} entries in the trail: entries "
                          f"after {scan.seq} may have been deleted", {"damage": "head missing", "at": scan.seq}))
        elif head is not None and head[0] > scan.seq:
            notes.append((f"DAMAGE: the head file names entry {head[0]} but the trail ends at entry {scan.seq}: "
                          f"entries {scan.seq + 1} to {head[0]} were deleted",
                          {"damage": "tail cut", "at": scan.seq, "head": head[0]}))
        elif head is not None and head != (scan.seq, scan.last_hash) and not _behind(head, scan):
            notes.append((f"DAMAGE: the head file ({head[0]}) does not match the trail's entry {scan.seq}",
                          {"damage": "head mismatch", "at": scan.seq}))
        for message, data in notes:
            self._write({"ts": time.time(), "kind": NOTE_KIND, "session": None, "message": message, "data": data})
        if not notes and scan.seq == 0 and head is None:
            self._write_head()  # a new trail gets its head first: a trail without one is then damage

    # -- verifying -------------------------------------------------------------------
    def verify(self) -> tuple[bool, str]:
        """(True, summary) for an intact trail, else (False, what is wrong at the first bad entry)."""
        self.flush()  # this store's own appends count as written
        if not self.path.exists():
            return True, "no audit trail yet (0 entries)"
        prev, expected_seq = GENESIS, 1
        data = self.path.read_bytes()
        end = data.rfind(b"\n") + 1
        torn = data[end:]
        damage: list[str] = []
        repaired: list[int] = []
        hashes: dict[int, str] = {}
        lines = data[:end].decode("utf-8", errors="replace").splitlines()
        for lineno, raw in enumerate(lines, start=1):
            try:
                entry = json.loads(raw)
                claimed = entry.pop("hash")
                seq = int(entry["seq"])
            except (ValueError, KeyError, TypeError, AttributeError):
                return False, f"entry at line {lineno} is not a valid audit record"
            if seq != expected_seq:
                return False, f"entry at line {lineno} has seq {seq}, expected {expected_seq} (entries deleted or reordered)"
            if entry.get("prev") != prev:
                return False, f"entry {seq} (line {lineno}) does not follow entry {seq - 1} (the chain is broken)"
            if _digest(entry) != claimed:
                return False, f"entry {seq} (line {lineno}) was modified (its hash does not match its content)"
            if entry.get("kind") == NOTE_KIND:
                note = entry.get("data") or {}
                if "damage" in note:
                    damage.append(f"entry {seq}: {entry.get('message')}")
                elif "repaired" in note:
                    repaired.append(seq)
            hashes[seq] = claimed
            prev, expected_seq = claimed, expected_seq + 1
        count = expected_seq - 1
        head = self._head()
        if head is None and count > 0:
            return False, (f"the audit head file {self.head_path.name} is missing: the trail has {count} entries "
                           "but entries after them may have been deleted")
        if head is not None:
            if head[0] < 0:
                return False, "the audit head file is damaged"
            if head[0] > count:
                return False, (f"the trail ends at entry {count} but {head[0]} entries were written "
                               f"(entries after {count} were deleted)")
            scan = _Scan(count, prev, hashes, end, torn)
            if head != (count, prev) and not _behind(head, scan):
                return False, f"the audit head file ({head[0]}) does not match the trail's last entries"
        if damage:
            return False, "damage was recorded: " + "; ".join(damage)
        notes = []
        if repaired:
            notes.append(f"{len(repaired)} torn entry repaired (entry {', '.join(map(str, repaired))})")
        if torn:
            notes.append("a torn last line from a crash, not yet repaired, is ignored")
        return True, f"audit trail intact: {count} entries" + (f" ({'; '.join(notes)})" if notes else "")


def _behind(head: tuple[int, str], scan: _Scan) -> bool:
    """A crash before the last entries were synced leaves the head naming an earlier entry of the trail."""
    return head[0] < scan.seq and scan.hashes.get(head[0], GENESIS if head[0] == 0 else None) == head[1]


class _Syncer:
    """Makes a store's appends durable off the caller's thread: fsync the trail, then move the head."""

    def __init__(self, store: AuditStore):
        self.store = store
        self.wanted: tuple[int, str] | None = None
        self.synced = 0
        self.stopping = False
        self.changed = threading.Condition()
        self.thread = threading.Thread(target=self._run, name="audit-fsync", daemon=True)
        self.thread.start()

    def request(self, seq: int, digest: str) -> None:
        with self.changed:
            self.wanted = (seq, digest)
            self.changed.notify_all()

    def wait_synced(self, seq: int, timeout: float = 10.0) -> None:
        with self.changed:
            self.changed.wait_for(lambda: self.synced >= seq or not self.thread.is_alive(), timeout)

    def stop(self) -> None:
        with self.changed:
            self.stopping = True
            self.changed.notify_all()
        self.thread.join(timeout=10)

    def _run(self) -> None:
        while True:
            with self.changed:
                self.changed.wait_for(lambda: self.wanted is not None or self.stopping)
                wanted, self.wanted = self.wanted, None
                if wanted is None:
                    return  # stopping, and everything asked for is synced
            seq, digest = wanted
            try:
                fd = self.store._fd
                if fd is not None:
                    os.fdatasync(fd)
                self.store._write_head(seq, digest)
            except OSError:
                pass  # the next append tries again; verify accepts a head that is behind
            with self.changed:
                self.synced = max(self.synced, seq)
                self.changed.notify_all()
