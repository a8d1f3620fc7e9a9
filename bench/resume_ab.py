"""Resume's load path, before and after a change, against torch.load, in one process.

    /usr/bin/python3 bench/resume_ab.py [--old PATH] [--width 64] [--rounds 150]

Loads the same checkpoint (the digits CNN at --width with SGD momentum state) three ways, interleaved, from a
warm page cache and then from a cold one (every file evicted with posix_fadvise(DONTNEED) just before each
load, as on a new runtime): torch.load of a plain file of the same state (the peer), this tree's
colab_resume (CheckpointStore.load_newest_parsed through a worker, as Run.resume does), and, with --old, an
older colab_resume.py (e.g. `git show ebd1ece:daemon/Training/python/colab_resume.py > /tmp/old.py`).
Prints medians in ms and each side's ratio to the peer. Needs Debian's python3-torch.
"""
import argparse
import importlib.util
import os
import statistics
import sys
import tempfile
import time

here = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(here, "..", "daemon", "Training", "python", "examples"))
args = argparse.ArgumentParser(description=__doc__.splitlines()[0])
args.add_argument("--old", help="an older colab_resume.py to compare with")
args.add_argument("--width", type=int, default=64)
args.add_argument("--rounds", type=int, default=150)
a = args.parse_args()


def module(name, path):
    spec = importlib.util.spec_from_file_location(name, path)
    m = importlib.util.module_from_spec(spec)
    sys.modules[name] = m  # dataclasses look their module up by name
    spec.loader.exec_module(m)
    return m


import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
import train_digits as td  # noqa: E402

new = module("colab_resume_here", os.path.join(here, "..", "daemon", "Training", "python", "colab_resume.py"))
old = module("colab_resume_old", a.old) if a.old else None
torch.manual_seed(0)
torch.set_num_threads(1)
model = td.DigitsCnn(a.width)
opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
F.cross_entropy(model(torch.randn(32, 1, 8, 8)), torch.zeros(32, dtype=torch.long)).backward()
opt.step()
d = tempfile.mkdtemp(prefix="colab-resume-ab-")
run = new.Run("ab", d, keep=2, async_save=False)
run.step = 1
run.save(model, opt)
payload = os.path.join(d, run.store.manifest().checkpoints[-1].file)
plain = os.path.join(d, "plain.pt")
torch.save(new.parse_state(open(payload, "rb").read()), plain)  # the same state, as a plain torch.save file


def evict_all():
    for f in os.listdir(d):
        fd = os.open(os.path.join(d, f), os.O_RDONLY)
        try:
            os.fsync(fd)
            os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
        finally:
            os.close(fd)


sides = {"torch.load": lambda: torch.load(plain)}
worker_new = new._Worker("ab-here")
store_new = new.CheckpointStore(d, "ab")
sides["colab_resume"] = lambda: store_new.load_newest_parsed(lambda b: new.parse_state(b), worker_new.submit)
if old is not None:
    worker_old = old._Worker("ab-old")
    store_old = old.CheckpointStore(d, "ab")
    sides["colab_resume (old)"] = lambda: store_old.load_newest_parsed(lambda b: old.parse_state(b), worker_old.submit)

print(f"payload {os.path.getsize(payload)} bytes, plain {os.path.getsize(plain)} bytes, {a.rounds} rounds, {os.cpu_count()} CPUs")
for cold in (False, True):
    times = {k: [] for k in sides}
    for _ in range(a.rounds):
        for k, f in sides.items():
            if cold:
                evict_all()
            t = time.perf_counter()
            f()
            times[k].append(time.perf_counter() - t)
    med = {k: statistics.median(v) * 1000 for k, v in times.items()}
    peer = med["torch.load"]
    print(("cold page cache: " if cold else "warm page cache: ")
          + "; ".join(f"{k} {v:.2f} ms ({v / peer:.2f}x)" for k, v in med.items())
          + f"; load {os.getloadavg()[0]:.1f}")
