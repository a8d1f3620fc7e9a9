"""Safe zip / tar(.gz) extraction on a Colab runtime (the remote half of colab/drive/copyToRuntime).

The daemon uploads the archive next to the target through the Jupyter contents API and runs
extract(params) in a hidden kernel; params arrive as base64 JSON, never spliced into code.
The rules are those of the daemon's ArchiveExtractor: every entry lands inside the target (no
absolute paths, no '..', no drive letters, no NUL), no symbolic or hard links in the archive, no
existing link under the target is followed, and the byte and entry limits hold (counted on the
bytes actually written). A marker with the archive's digest (sha256, or md5 where Drive has no
sha256) makes a second run a no-op; it is
written only after a complete extraction. Only the standard library is used.
"""

import errno
import os
import stat
import sys
import tarfile
import time
import zipfile

MARKER = ".colab-extracted"
BUFFER = 1024 * 1024


class Refused(Exception):
    """The archive is unsafe (kind 'unsafe') or unreadable (kind 'invalid')."""

    def __init__(self, kind, message):
        super().__init__(message)
        self.kind = kind


def _printable(name):
    return "".join("?" if ord(c) < 32 or ord(c) == 127 else c for c in name)


def destination(target, entry_name):
    """The path an entry lands on, or Refused when it would leave the target."""
    name = entry_name.replace("\\", "/")
    parts = name.split("/")
    if (not name or "\0" in name or name.startswith("/") or (len(name) >= 2 and name[1] == ":")
            or any(p == ".." for p in parts)):
        raise Refused("unsafe", "The archive entry '%s' points outside the target folder; nothing was extracted from it." % _printable(entry_name))
    full = os.path.normpath(os.path.join(target, *[p for p in parts if p not in ("", ".")]))
    if full != target and not full.startswith(target + os.sep):
        raise Refused("unsafe", "The archive entry '%s' points outside the target folder." % _printable(entry_name))
    return full


def ensure_real_directory(target, directory, verified):
    """Creates the folder, refusing when any component under the target is a link."""
    if directory in verified:
        return
    probe = target
    rel = os.path.relpath(directory, target)
    for part in ([] if rel == "." else rel.split(os.sep)):
        probe = os.path.join(probe, part)
        try:
            st = os.lstat(probe)
        except FileNotFoundError:
            os.mkdir(probe)
            continue
        if stat.S_ISLNK(st.st_mode):
            raise Refused("unsafe", "'%s' in the target is a link; extraction would leave the folder." % os.path.relpath(probe, target))
        if not stat.S_ISDIR(st.st_mode):
            raise Refused("unsafe", "'%s' in the target is a file where the archive needs a folder." % os.path.relpath(probe, target))
    verified.add(directory)


def create_file(dest):
    """Opens a new file; never follows a link (O_EXCL|O_NOFOLLOW), replaces only a regular file."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
    try:
        return os.open(dest, flags, 0o644)
    except FileExistsError:
        st = os.lstat(dest)
        if stat.S_ISLNK(st.st_mode):
            raise Refused("unsafe", "'%s' in the target is a link; it was not overwritten." % os.path.basename(dest))
        if stat.S_ISDIR(st.st_mode):
            raise Refused("unsafe", "'%s' in the target is a folder; the archive's file of that name was not extracted." % os.path.basename(dest))
        os.unlink(dest)
        return os.open(dest, flags, 0o644)


class _Budget:
    def __init__(self, max_bytes, max_entries):
        self.max_bytes = max_bytes
        self.max_entries = max_entries
        self.written = 0
        self.files = 0
        self.last = time.monotonic()

    def tick(self):
        """A progress line for the daemon at most twice a second (it reads the kernel's stdout as it comes)."""
        now = time.monotonic()
        if now - self.last >= 0.5:
            self.last = now
            sys.stdout.write("colab-extract-progress %d %d\n" % (self.files, self.written))
            sys.stdout.flush()


def _copy(source, dest, budget):
    fd = create_file(dest)
    try:
        while True:
            chunk = source.read(BUFFER)
            if not chunk:
                break
            budget.written += len(chunk)
            if budget.written > budget.max_bytes:
                raise Refused("unsafe", "The archive expands to more than %d bytes; extraction stopped." % budget.max_bytes)
            view = memoryview(chunk)
            while view:
                n = os.write(fd, view)
                view = view[n:]
    finally:
        os.close(fd)
    budget.files += 1
    budget.tick()


def _extract_zip(archive, target, budget):
    try:
        zf = zipfile.ZipFile(archive)
    except zipfile.BadZipFile as e:
        raise Refused("invalid", "The file is not a readable zip archive: %s" % e)
    with zf:
        infos = zf.infolist()
        if len(infos) > budget.max_entries:
            raise Refused("unsafe", "The archive has %d entries, more than the limit of %d." % (len(infos), budget.max_entries))
        plan = []
        declared = 0
        for info in infos:
            # Unix mode lives in the high 16 bits of the external attributes.
            if stat.S_ISLNK(info.external_attr >> 16):
                raise Refused("unsafe", "The archive holds a symbolic link ('%s'); it was not extracted." % _printable(info.filename))
            is_dir = info.filename.endswith("/") or info.filename.endswith("\\")
            plan.append((info, destination(target, info.filename), is_dir))
            if not is_dir:
                declared += info.file_size
        # The headers can lie (the bytes written are counted too), but a bomb that admits its size is refused before anything is written.
        if declared > budget.max_bytes:
            raise Refused("unsafe", "The archive expands to more than %d bytes (%d declared); nothing was extracted." % (budget.max_bytes, declared))
        dirs = set()
        for _, dest, is_dir in plan:
            dirs.add(dest if is_dir else os.path.dirname(dest))
        last = {}
        for i, (info, dest, is_dir) in enumerate(plan):
            if not is_dir:
                if dest in dirs:
                    raise Refused("unsafe", "The archive names '%s' both as a folder and as a file." % _printable(info.filename))
                last[dest] = i
        verified = set()
        for d in sorted(dirs, key=len):
            ensure_real_directory(target, d, verified)
        for i in sorted(last.values()):
            info, dest, _ = plan[i]
            try:
                with zf.open(info) as source:
                    _copy(source, dest, budget)
            except (zipfile.BadZipFile, NotImplementedError) as e:
                raise Refused("invalid", "The archive entry '%s' cannot be read: %s" % (_printable(info.filename), e))


def _extract_tar(archive, target, budget):
    try:
        tf = tarfile.open(archive, mode="r|*")
    except tarfile.TarError:
        raise Refused("invalid", "The file is neither a zip nor a readable tar archive.")
    verified = set()
    entries = 0
    with tf:
        try:
            for member in tf:
                entries += 1
                if entries > budget.max_entries:
                    raise Refused("unsafe", "The archive has more than %d entries." % budget.max_entries)
                if member.issym() or member.islnk():
                    raise Refused("unsafe", "The archive holds a link ('%s'); it was not extracted." % _printable(member.name))
                if member.isdir():
                    ensure_real_directory(target, destination(target, member.name), verified)
                    continue
                if not member.isreg():
                    continue  # devices, fifos: nothing to write
                dest = destination(target, member.name)
                if dest == target:
                    raise Refused("unsafe", "The archive entry '%s' names the target folder itself." % _printable(member.name))
                ensure_real_directory(target, os.path.dirname(dest), verified)
                source = tf.extractfile(member)
                _copy(source, dest, budget)
        except (tarfile.TarError, EOFError) as e:
            raise Refused("invalid", "The tar archive is damaged: %s" % e)


def extract(params):
    """params: archive, target (paths on this machine), digest, maxBytes, maxEntries. Returns a dict; never raises for a known failure."""
    archive = os.path.abspath(params["archive"])
    target = os.path.abspath(params["target"])
    digest = params["digest"]
    budget = _Budget(int(params["maxBytes"]), int(params["maxEntries"]))
    try:
        try:
            os.makedirs(target, exist_ok=True)
            if os.path.islink(target):
                raise Refused("unsafe", "The extraction target is a symbolic link; pick a real folder.")
            target = os.path.realpath(target)
            marker = os.path.join(target, MARKER)
            if os.path.isfile(marker) and not os.path.islink(marker):
                with open(marker, "r", encoding="utf-8", errors="replace") as f:
                    if f.read(200).startswith(digest + " "):
                        return {"ok": True, "target": target, "files": 0, "bytes": 0, "skipped": True}
            if os.path.lexists(marker):
                os.unlink(marker)
            with open(archive, "rb") as f:
                head = f.read(4)
            if head[:2] == b"PK":
                _extract_zip(archive, target, budget)
            else:
                _extract_tar(archive, target, budget)
            fd = create_file(marker)
            try:
                os.write(fd, ("%s %d %d\n" % (digest, budget.files, budget.written)).encode("ascii"))
            finally:
                os.close(fd)
            return {"ok": True, "target": target, "files": budget.files, "bytes": budget.written, "skipped": False}
        finally:
            try:
                os.remove(archive)
            except OSError:
                pass
    except Refused as e:
        return {"ok": False, "kind": e.kind, "message": str(e), "files": budget.files, "bytes": budget.written}
    except OSError as e:
        if e.errno in (errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC)):
            return {"ok": False, "kind": "diskFull", "message": "The runtime's disk is full: %d files (%d bytes) were extracted before it ran out." % (budget.files, budget.written)}
        return {"ok": False, "kind": "io", "message": "A file operation on the runtime failed: %s" % e}
