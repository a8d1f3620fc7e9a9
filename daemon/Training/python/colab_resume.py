"""Resumable training for Colab for VS Code: the checkpoint contract for PyTorch.

Put this folder on PYTHONPATH (the daemon does it for every job it supervises) and:

    import colab_resume as cr
    run = cr.Run.from_env(model_id="digits-mlp")       # reads COLAB_* (docs/training.md)
    state = run.resume(model=model, optimizer=opt, scheduler=sched, scaler=scaler)
    for epoch in range(state.epoch, epochs):
        for batch in ...:
            ...train one step...
            run.step_done(epoch=epoch, loss=loss.item(), samples=len(batch))
            if run.should_checkpoint():      # every N steps, or a SIGTERM arrived
                run.save(model=model, optimizer=opt, scheduler=sched, scaler=scaler)  # copies, commits in the background
            if run.stop_requested:
                run.exit_for_stop()          # waits for the checkpoint to be committed: exit 0
    run.done(accuracy=acc)                   # waits for the last checkpoint

The on-disk format is the same as the C# library's (daemon/Training/Checkpoints.cs):
a directory with payload files and ``manifest.json``; each payload is written to a
temporary name, fsynced, renamed into place, the directory fsynced; then the manifest
is replaced the same way; only then are old payloads pruned. ``Run.save`` does all of
that on a background thread after copying the state (``async_save=False`` or
COLAB_CHECKPOINT_ASYNC=0 for a synchronous save).
"""
from __future__ import annotations

import collections
import hashlib
import io
import json
import os
import queue
import random
import signal
import sys
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Dict, List, Optional

FORMAT = "colab-checkpoint/1"
MANIFEST = "manifest.json"
PAYLOAD_PREFIX = "ckpt-"
PAYLOAD_SUFFIX = ".pt"

ENV_CHECKPOINT_DIR = "COLAB_CHECKPOINT_DIR"
ENV_RESUME_FROM = "COLAB_RESUME_FROM"
ENV_METRICS_FILE = "COLAB_METRICS_FILE"
ENV_RESTART_COUNT = "COLAB_RESTART_COUNT"
ENV_KEEP = "COLAB_CHECKPOINT_KEEP"
ENV_EVERY = "COLAB_CHECKPOINT_EVERY"
ENV_JOB_ID = "COLAB_JOB_ID"
ENV_ASYNC = "COLAB_CHECKPOINT_ASYNC"

# Payloads at least this big are read in chunks of _READ_CHUNK, each hashed on a helper thread while the
# next is read (a checkpoint that is not in the page cache: the hash hides behind the disk), and the hash's
# tail runs while torch.load parses (hashlib releases the GIL on large buffers); smaller ones are read
# whole and hashed inline.
_OVERLAP_HASH_BYTES = 256 * 1024
_READ_CHUNK = 512 * 1024


class CheckpointError(Exception):
    """A checkpoint could not be written or none could be read; the message says why."""


def _log(message: str) -> None:
    print(f"[colab_resume] {message}", file=sys.stderr, flush=True)


def _fsync_dir(path: str) -> None:
    if os.name != "posix":
        return
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _write_atomic(directory: str, name: str, data: bytes) -> None:
    """temp name → write → fsync → rename → fsync dir. On failure the temp file is removed."""
    tmp = os.path.join(directory, f".{name}.tmp-{os.getpid()}")
    final = os.path.join(directory, name)
    try:
        with open(tmp, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, final)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    _fsync_dir(directory)


@dataclass
class Entry:
    file: str
    step: int
    epoch: int
    time: str
    size: int
    sha256: str

    def to_json(self) -> Dict[str, Any]:
        return {"file": self.file, "step": self.step, "epoch": self.epoch, "time": self.time,
                "size": self.size, "sha256": self.sha256}


@dataclass
class Manifest:
    model: str
    checkpoints: List[Entry] = field(default_factory=list)

    def to_bytes(self) -> bytes:
        doc = {"format": FORMAT, "model": self.model, "checkpoints": [e.to_json() for e in self.checkpoints]}
        return (json.dumps(doc, indent=1) + "\n").encode("utf-8")


def _valid_name(name: Any) -> bool:
    return (isinstance(name, str) and name.startswith(PAYLOAD_PREFIX) and name.endswith(PAYLOAD_SUFFIX)
            and "/" not in name and "\\" not in name and ".." not in name and len(name) < 200)


def read_manifest(directory: str) -> Optional[Manifest]:
    """The manifest of ``directory``; None when there is none yet. Raises CheckpointError when malformed."""
    path = os.path.join(directory, MANIFEST)
    try:
        with open(path, "rb") as f:
            raw = f.read(16 * 1024 * 1024)
    except FileNotFoundError:
        return None
    try:
        doc = json.loads(raw.decode("utf-8"))
        if not isinstance(doc, dict) or doc.get("format") != FORMAT:
            raise ValueError(f"format is not {FORMAT}")
        model = doc["model"]
        if not isinstance(model, str):
            raise ValueError("model is not a string")
        entries = []
        for e in doc["checkpoints"]:
            if not _valid_name(e["file"]):
                raise ValueError(f"bad file name {e['file']!r}")
            for k in ("step", "epoch", "size"):
                if not isinstance(e[k], int) or isinstance(e[k], bool) or e[k] < 0:
                    raise ValueError(f"{k} is not a non-negative integer")
            if not isinstance(e["sha256"], str) or len(e["sha256"]) != 64:
                raise ValueError("sha256 is not 64 hex digits")
            entries.append(Entry(e["file"], e["step"], e["epoch"], str(e["time"]), e["size"], e["sha256"].lower()))
        return Manifest(model, entries)
    except (ValueError, KeyError, TypeError, UnicodeDecodeError) as e:
        raise CheckpointError(f"{path} is not a valid checkpoint manifest: {e}") from None


class _Job:
    """One piece of work for a _Worker: its result or error once ``done`` is set."""

    def __init__(self, fn):
        self.fn = fn
        self.result: Any = None
        self.error: Optional[BaseException] = None
        self.done = threading.Event()

    def wait(self) -> Any:
        self.done.wait()
        if self.error is not None:
            raise self.error
        return self.result


class _Worker:
    """A thread started once and fed through a queue: handing it work costs a queue put, not a thread start
    (Thread.start waits until the new thread runs, which on a busy machine is milliseconds)."""

    def __init__(self, name: str):
        self._queue: "queue.SimpleQueue[Optional[_Job]]" = queue.SimpleQueue()
        # A daemon thread, so an idle worker never keeps the process alive; Run waits for its save at exit (atexit).
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def submit(self, fn) -> _Job:
        job = _Job(fn)
        self._queue.put(job)
        return job

    def stop(self) -> None:
        """Ends the thread once the work handed to it is done, and waits until it has.

        Joining matters at interpreter exit: a daemon thread still alive then is ended with
        pthread_exit when it next wants the GIL, and that unwind through PyTorch's C++ frames
        aborts the process ("terminate called without an active exception", exit 134)."""
        self._queue.put(None)
        if threading.current_thread() is not self._thread:
            self._thread.join(timeout=60)

    def _run(self) -> None:
        while True:
            job = self._queue.get()
            if job is None:
                return
            try:
                job.result = job.fn()
            except BaseException as e:  # handed to whoever waits for the job
                job.error = e
            finally:
                job.done.set()


class CheckpointStore:
    """One checkpoint directory of one model: commit, load-newest-that-verifies, prune."""

    def __init__(self, directory: str, model_id: str, keep: int = 3):
        if keep < 1:
            raise CheckpointError("keep must be at least 1")
        self.directory = directory
        self.model_id = model_id
        self.keep = keep
        try:
            os.makedirs(directory, exist_ok=True)
        except OSError as e:
            raise CheckpointError(f"cannot create the checkpoint directory {directory}: {e.strerror}") from None
        if not os.access(directory, os.W_OK | os.X_OK):
            raise CheckpointError(f"the checkpoint directory {directory} is not writable")

    def manifest(self) -> Manifest:
        m = read_manifest(self.directory)
        if m is None:
            return Manifest(self.model_id)
        if m.model != self.model_id:
            raise CheckpointError(
                f"{self.directory} holds checkpoints of model '{m.model}', not '{self.model_id}'; "
                "use another checkpoint directory or the same model id")
        return m

    def commit(self, payload: bytes, step: int, epoch: int) -> Entry:
        m = self.manifest()
        name = f"{PAYLOAD_PREFIX}{step:010d}{PAYLOAD_SUFFIX}"
        entry = Entry(name, step, epoch, datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
                      len(payload), hashlib.sha256(payload).hexdigest())
        try:
            _write_atomic(self.directory, name, payload)
            kept = [e for e in m.checkpoints if e.file != name] + [entry]
            kept.sort(key=lambda e: e.step)
            pruned, kept = kept[:-self.keep], kept[-self.keep:]
            _write_atomic(self.directory, MANIFEST, Manifest(self.model_id, kept).to_bytes())
        except OSError as e:
            raise CheckpointError(
                f"could not write checkpoint step {step} to {self.directory}: {e.strerror or e}; "
                "the previous checkpoints are intact") from None
        for old in pruned:  # only after the manifest no longer names them
            try:
                os.unlink(os.path.join(self.directory, old.file))
            except OSError:
                pass
        self._sweep(kept)
        return entry

    def _sweep(self, kept: List[Entry]) -> None:
        names = {e.file for e in kept}
        for n in os.listdir(self.directory):
            if (n.startswith(f".{PAYLOAD_PREFIX}") or n.startswith(f".{MANIFEST}")) and ".tmp-" in n:
                pid = n.rsplit(".tmp-", 1)[1]
                if pid != str(os.getpid()):
                    try:
                        os.unlink(os.path.join(self.directory, n))
                    except OSError:
                        pass
            elif _valid_name(n) and n not in names:
                try:
                    os.unlink(os.path.join(self.directory, n))
                except OSError:
                    pass

    def _candidates(self):
        """(entry, path, size) of each checkpoint, newest first, whose file has the manifest's size."""
        m = self.manifest()
        for e in reversed(sorted(m.checkpoints, key=lambda e: e.step)):
            path = os.path.join(self.directory, e.file)
            try:
                size = os.stat(path).st_size
            except OSError as err:
                _log(f"checkpoint step {e.step} ({e.file}) cannot be read ({err.strerror}); trying the previous one")
                continue
            if size != e.size:
                _log(f"checkpoint step {e.step} ({e.file}) is truncated ({size} of {e.size} bytes); trying the previous one")
                continue
            yield e, path
        if m.checkpoints:
            raise CheckpointError(f"none of the {len(m.checkpoints)} checkpoints in {self.directory} verifies")

    @staticmethod
    def _read(e: "Entry", path: str, progress=None):
        """The payload's bytes (a bytearray of exactly e.size), or None after saying why it cannot be used.
        ``progress(buffer, filled)`` is called after each chunk is read into the buffer."""
        buf = bytearray(e.size)
        try:
            with open(path, "rb", buffering=0) as f, memoryview(buf) as mv:
                pos = 0
                while pos < e.size:
                    n = f.readinto(mv[pos:min(e.size, pos + _READ_CHUNK)])
                    if not n:
                        break
                    pos += n
                    if progress is not None:
                        progress(buf, pos)
                extra = f.read(1)
        except OSError as err:
            _log(f"checkpoint step {e.step} ({e.file}) cannot be read ({err.strerror}); trying the previous one")
            return None
        if pos != e.size or extra:
            _log(f"checkpoint step {e.step} ({e.file}) changed size while it was read; trying the previous one")
            return None
        return buf

    @staticmethod
    def _corrupt(e: "Entry") -> None:
        _log(f"checkpoint step {e.step} ({e.file}) is corrupt (sha256 mismatch); trying the previous one")

    def _read_verified(self, e: "Entry", path: str):
        """The payload read whole and hashed on this thread; None after saying why it cannot be used."""
        data = self._read(e, path)
        if data is None:
            return None
        if hashlib.sha256(data).hexdigest() != e.sha256:
            self._corrupt(e)
            return None
        return data

    def load_newest(self):
        """(entry, bytes) of the newest checkpoint whose size and sha256 verify; None when there is none."""
        for e, path in self._candidates():
            data = self._read_verified(e, path)
            if data is not None:
                return e, bytes(data)
        return None

    def load_newest_parsed(self, parse, submit=None):
        """(entry, parse(buffer)) of the newest checkpoint whose size and sha256 verify; None when there is none.

        ``parse`` gets the payload as a bytes-like buffer (``parse_state`` reads it without copying). The file
        is read once, in chunks, and hashed in the background as it arrives (``submit``: runs a callable off
        this thread — a Run's worker; by default a worker started for this load) while the rest is read;
        ``parse`` (e.g. torch.load) then runs on this thread while the hash finishes.
        hashlib releases the GIL, so reading, hashing and parsing overlap. A result whose hash then fails is
        discarded and the previous checkpoint tried, so nothing unverified is ever returned. ``parse`` errors
        of a verified payload propagate."""
        own = None
        try:
            for e, path in self._candidates():
                if e.size < _OVERLAP_HASH_BYTES:
                    data = self._read_verified(e, path)
                    if data is not None:
                        return e, parse(data)
                    continue
                if submit is None:
                    own = own or _Worker("colab_resume-verify")
                    submit = own.submit
                hasher = _FillingHasher()
                # The hasher needs the GIL only to pick up what was read and to hand back the digest; with the
                # default 5 ms switch interval each of those waits for the reader or parse() to yield.
                interval = sys.getswitchinterval()
                sys.setswitchinterval(min(interval, 0.0002))
                try:
                    digest = submit(hasher.run)
                    try:
                        data = self._read(e, path, hasher.filled)
                    finally:
                        hasher.finish()  # always: the worker must not wait for more forever
                    if data is None:
                        digest.wait()
                        continue
                    parsed, error = None, None
                    try:
                        parsed = parse(data)
                    except Exception as err:  # judged only once the hash says the bytes are the committed ones
                        error = err
                    hexdigest = digest.wait()
                finally:
                    sys.setswitchinterval(interval)
                if hexdigest != e.sha256:
                    self._corrupt(e)
                    continue
                if error is not None:
                    raise error
                return e, parsed
            return None
        finally:
            if own is not None:
                own.stop()


class _FillingHasher:
    """The sha256 of a buffer while it is being filled: ``run`` (on a worker thread) hashes whatever the reader
    reports as filled since it last looked, so a fast read is hashed in one go after a single wake-up and a
    slow one (a cold page cache) chunk by chunk behind the disk."""

    def __init__(self):
        self._cv = threading.Condition()
        self._buf: Any = None
        self._filled = 0
        self._done = False

    def filled(self, buf, n: int) -> None:
        with self._cv:
            self._buf, self._filled = buf, n
            self._cv.notify()

    def finish(self) -> None:
        with self._cv:
            self._done = True
            self._cv.notify()

    def run(self) -> str:
        h = hashlib.sha256()
        hashed = 0
        while True:
            with self._cv:
                while self._filled == hashed and not self._done:
                    self._cv.wait()
                buf, filled, done = self._buf, self._filled, self._done
            if filled > hashed:
                with memoryview(buf) as mv:
                    h.update(mv[hashed:filled])
                hashed = filled
            elif done:
                return h.hexdigest()


class _BufferReader(io.RawIOBase):
    """A read-only, seekable file over a buffer, without copying it (io.BytesIO copies anything but bytes):
    torch.load reads each record straight from it with readinto."""

    def __init__(self, buf):
        self._mv = memoryview(buf).cast("B")
        self._pos = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = (0, self._pos, len(self._mv))[whence]
        if base + offset < 0:
            raise ValueError("negative seek position")
        self._pos = base + offset
        return self._pos

    def readinto(self, b) -> int:
        n = max(0, min(len(b), len(self._mv) - self._pos))
        with memoryview(b) as m:
            m.cast("B")[:n] = self._mv[self._pos:self._pos + n]
        self._pos += n
        return n


# ---------------------------------------------------------------- PyTorch state

def _rng_state() -> Dict[str, Any]:
    import torch
    s: Dict[str, Any] = {"python": random.getstate(), "torch": torch.get_rng_state()}
    try:
        import numpy as np
        s["numpy"] = np.random.get_state()
    except ImportError:
        pass
    if torch.cuda.is_available():
        s["cuda"] = torch.cuda.get_rng_state_all()
    return s


def _set_rng_state(s: Dict[str, Any]) -> None:
    import torch
    random.setstate(s["python"])
    torch.set_rng_state(s["torch"])
    if "numpy" in s:
        import numpy as np
        np.random.set_state(s["numpy"])
    if "cuda" in s and torch.cuda.is_available() and len(s["cuda"]) == torch.cuda.device_count():
        torch.cuda.set_rng_state_all(s["cuda"])


@dataclass
class TrainState:
    step: int = 0
    epoch: int = 0
    extra: Dict[str, Any] = field(default_factory=dict)
    resumed: bool = False


def _state(model_id, step, epoch, model, optimizer=None, scheduler=None, scaler=None, extra=None) -> Dict[str, Any]:
    return {"model_id": model_id, "step": step, "epoch": epoch, "model": model.state_dict(),
            "optimizer": optimizer.state_dict() if optimizer is not None else None,
            "scheduler": scheduler.state_dict() if scheduler is not None else None,
            "scaler": scaler.state_dict() if scaler is not None else None,
            "rng": _rng_state(), "extra": extra or {}}


def _serialize(state: Dict[str, Any]) -> bytes:
    import torch
    buf = io.BytesIO()
    torch.save(state, buf)
    return buf.getvalue()


def state_bytes(model_id, step, epoch, model, optimizer=None, scheduler=None, scaler=None, extra=None) -> bytes:
    """The checkpoint payload of the current state, serialized now (what a synchronous save writes)."""
    return _serialize(_state(model_id, step, epoch, model, optimizer, scheduler, scaler, extra))


def _copy_to_cpu(obj: Any, memo: Dict[int, Any]) -> Any:
    """A copy of ``obj`` that later training steps cannot change: tensors copied into CPU memory (a tensor
    seen twice stays one tensor), dicts/lists/tuples rebuilt, anything else deep-copied."""
    import copy
    import torch
    key = id(obj)
    if key in memo:
        return memo[key]
    if isinstance(obj, torch.Tensor):
        out = obj.detach().to("cpu", copy=True)
    elif type(obj) in (dict, list, tuple, collections.OrderedDict):
        if isinstance(obj, dict):
            out = type(obj)()
            for k, v in obj.items():
                out[k] = _copy_to_cpu(v, memo)
            if hasattr(obj, "_metadata"):  # a module's state_dict carries its version metadata
                out._metadata = copy.deepcopy(obj._metadata)
        elif type(obj) is list:
            out = [_copy_to_cpu(v, memo) for v in obj]
        else:
            out = tuple(_copy_to_cpu(v, memo) for v in obj)
    else:
        return copy.deepcopy(obj, memo)
    memo[key] = out
    return out


def snapshot_state(model_id, step, epoch, model, optimizer=None, scheduler=None, scaler=None, extra=None) -> Dict[str, Any]:
    """The state a checkpoint holds, copied (tensors into CPU memory, RNG states) so that it can be
    serialized later, on another thread, while training goes on."""
    state = _state(model_id, step, epoch, model, optimizer, scheduler, scaler, extra)
    memo: Dict[int, Any] = {}
    return {k: (_copy_to_cpu(v, memo) if k in ("model", "optimizer", "scheduler", "scaler", "extra") else v)
            for k, v in state.items()}


def parse_state(data, map_location="cpu") -> Dict[str, Any]:
    import torch
    state = torch.load(io.BytesIO(data) if isinstance(data, bytes) else _BufferReader(data), map_location=map_location)
    if not isinstance(state, dict) or "model" not in state:
        raise CheckpointError("the checkpoint is not a colab_resume PyTorch checkpoint")
    return state


def apply_parsed(state: Dict[str, Any], model_id, model, optimizer=None, scheduler=None, scaler=None) -> TrainState:
    if state.get("model_id") != model_id:
        raise CheckpointError(f"the checkpoint is from model '{state.get('model_id')}', not '{model_id}'")
    try:
        model.load_state_dict(state["model"])
    except RuntimeError as e:
        raise CheckpointError(f"the checkpoint does not fit this model: {str(e).splitlines()[0]}") from None
    for obj, key in ((optimizer, "optimizer"), (scheduler, "scheduler"), (scaler, "scaler")):
        if obj is not None and state.get(key) is not None:
            obj.load_state_dict(state[key])
    _set_rng_state(state["rng"])
    return TrainState(state["step"], state["epoch"], state.get("extra") or {}, True)


def apply_state(data: bytes, model_id, model, optimizer=None, scheduler=None, scaler=None, map_location="cpu") -> TrainState:
    return apply_parsed(parse_state(data, map_location), model_id, model, optimizer, scheduler, scaler)


class Run:
    """One attempt of a supervised (or bare) training run: env contract, SIGTERM, metrics, checkpoints.

    ``save`` is asynchronous by default (``async_save=False`` or ``COLAB_CHECKPOINT_ASYNC=0`` for the
    synchronous one): on the loop's thread it only copies the state (tensors into CPU memory, RNG
    states); serializing, hashing, the atomic write with its fsyncs and the manifest commit run on a
    background thread. At most one save is in flight: the next ``save`` waits for the previous one.
    A background save's error is raised by the next ``save``, ``wait``, ``exit_for_stop``, ``done`` or
    ``close``; ``exit_for_stop``/``done``/``close`` (and interpreter exit) wait for the save in flight."""

    def __init__(self, model_id: str, checkpoint_dir: Optional[str], resume_from: Optional[str] = None,
                 metrics_file: Optional[str] = None, restart_count: int = 0, keep: int = 3, every: int = 100,
                 async_save: bool = True):
        self.model_id = model_id
        self.store = CheckpointStore(checkpoint_dir, model_id, keep) if checkpoint_dir else None
        self.resume_from = resume_from
        self.restart_count = restart_count
        self.every = max(1, every)
        self.async_save = async_save
        self.step = 0
        self.epoch = 0
        self.stop_requested = False
        self._metrics = open(metrics_file, "a", encoding="utf-8", buffering=1) if metrics_file else None
        self._metrics_lock = threading.Lock()
        self._t0 = time.monotonic()
        self._samples = 0
        self._last_ckpt_step = 0
        self._pending: Optional[_Job] = None
        self._pending_step = 0
        # Started now, not at the first save: the loop never waits for a thread to start.
        self._worker = _Worker(f"colab_resume-{model_id}") if (self.store is not None and async_save) or resume_from else None
        signal.signal(signal.SIGTERM, self._on_term)
        import atexit
        atexit.register(self._at_exit)

    @classmethod
    def from_env(cls, model_id: str, checkpoint_dir: Optional[str] = None, keep: int = 3, every: int = 100,
                 async_save: bool = True) -> "Run":
        env = os.environ
        flag = (env.get(ENV_ASYNC) or "").strip().lower()
        if flag in ("0", "false", "no", "off"):
            async_save = False
        elif flag in ("1", "true", "yes", "on"):
            async_save = True
        return cls(model_id,
                   env.get(ENV_CHECKPOINT_DIR) or checkpoint_dir,
                   env.get(ENV_RESUME_FROM) or None,
                   env.get(ENV_METRICS_FILE) or None,
                   int(env.get(ENV_RESTART_COUNT) or 0),
                   int(env.get(ENV_KEEP) or keep),
                   int(env.get(ENV_EVERY) or every),
                   async_save)

    def _on_term(self, signum, frame) -> None:
        self.stop_requested = True

    def resume(self, model, optimizer=None, scheduler=None, scaler=None, map_location="cpu") -> TrainState:
        """Restores the newest verified checkpoint (from COLAB_RESUME_FROM's dir or the checkpoint dir)."""
        store = self.store
        if self.resume_from:
            src = self.resume_from
            src_dir = src if os.path.isdir(src) else os.path.dirname(src)
            store = CheckpointStore.__new__(CheckpointStore)
            store.directory, store.model_id, store.keep = src_dir, self.model_id, 1
        if store is None:
            return TrainState()
        found = store.load_newest_parsed(lambda data: parse_state(data, map_location),
                                         self._worker.submit if self._worker is not None else None)
        if found is None:
            return TrainState()
        entry, state = found
        st = apply_parsed(state, self.model_id, model, optimizer, scheduler, scaler)
        self.step, self.epoch, self._last_ckpt_step = st.step, st.epoch, st.step
        _log(f"resumed from step {entry.step} (epoch {entry.epoch}), restart {self.restart_count}")
        self.log({"event": "resumed", "step": st.step, "epoch": st.epoch, "restarts": self.restart_count})
        return st

    def step_done(self, epoch: int, samples: int = 0, **scalars: float) -> None:
        self.step += 1
        self.epoch = epoch
        self._samples += samples
        if scalars:
            elapsed = time.monotonic() - self._t0
            rec = {"step": self.step, "epoch": epoch, **scalars}
            if elapsed > 0 and self._samples:
                rec["samples_per_s"] = round(self._samples / elapsed, 2)
            self.log(rec)

    def should_checkpoint(self) -> bool:
        return self.store is not None and (self.stop_requested or self.step - self._last_ckpt_step >= self.every)

    def save(self, model, optimizer=None, scheduler=None, scaler=None, extra=None, epoch: Optional[int] = None) -> Optional[Entry]:
        """Checkpoints the current state. Synchronous: returns the committed Entry. Asynchronous (default):
        returns None once the state is copied; ``wait()`` returns the Entry when it is committed."""
        if self.store is None:
            raise CheckpointError(f"no checkpoint directory: set {ENV_CHECKPOINT_DIR}")
        self.wait()  # one save in flight at most; raises the previous one's error
        ep = self.epoch if epoch is None else epoch
        step = self.step
        if not self.async_save:
            entry = self._commit(_serialize(_state(self.model_id, step, ep, model, optimizer, scheduler, scaler, extra)), step, ep)
            self._last_ckpt_step = step
            return entry
        state = snapshot_state(self.model_id, step, ep, model, optimizer, scheduler, scaler, extra)
        if self._worker is None:
            self._worker = _Worker(f"colab_resume-{self.model_id}")
        self._pending = self._worker.submit(lambda: self._commit(_serialize(state), step, ep))
        self._pending_step = step
        self._last_ckpt_step = step
        return None

    def _commit(self, payload: bytes, step: int, epoch: int) -> Entry:
        entry = self.store.commit(payload, step, epoch)
        self.log({"event": "checkpoint", "step": step, "epoch": epoch, "size": entry.size})
        return entry

    def wait(self) -> Optional[Entry]:
        """Waits for the checkpoint in flight (if any) to be committed; its Entry, or None when there was none.
        Raises CheckpointError when that background save failed."""
        pending = self._pending
        if pending is None:
            return None
        pending.done.wait()
        self._pending = None
        if pending.error is not None:
            e = pending.error
            if isinstance(e, CheckpointError):
                raise CheckpointError(f"the background save failed: {e}") from None
            raise CheckpointError(f"the background save of checkpoint step {self._pending_step} failed: "
                                  f"{type(e).__name__}: {e}; the previous checkpoints are intact") from e
        return pending.result

    def close(self) -> None:
        """Waits for the save in flight (raising its error) and closes the metrics file."""
        try:
            self.wait()
        finally:
            if self._worker is not None:
                self._worker.stop()
                self._worker = None
            if self._metrics is not None:
                with self._metrics_lock:
                    self._metrics.close()
                    self._metrics = None

    def _at_exit(self) -> None:
        # The interpreter is exiting (the script returned, sys.exit, an uncaught exception): let the save in
        # flight finish — the worker is a daemon thread and would otherwise be cut short — and say if it failed.
        pending = self._pending
        if pending is not None:
            pending.done.wait()
            if pending.error is not None:
                _log(f"the background save of checkpoint step {self._pending_step} failed and the run exited before it "
                     f"was reported: {pending.error}")
        worker, self._worker = self._worker, None
        if worker is not None:
            worker.stop()  # joined before finalization (see _Worker.stop)

    def log(self, record: Dict[str, Any]) -> None:
        if self._metrics is None:
            return
        rec = {"time": round(time.time(), 3), **record}
        line = json.dumps(rec) + "\n"
        with self._metrics_lock:
            if self._metrics is not None:
                self._metrics.write(line)

    def exit_for_stop(self) -> None:
        self.wait()
        _log(f"stop requested: checkpointed at step {self._last_ckpt_step}, exiting")
        self.log({"event": "stopped", "step": self.step})
        sys.exit(0)

    def done(self, **final: float) -> None:
        self.wait()
        self.log({"event": "done", "step": self.step, "epoch": self.epoch, **final})
