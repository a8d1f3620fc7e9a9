"""Checkpoint save/resume cost of colab_resume vs plain torch.save/torch.load of the same state.
Prints one JSON object. Called by bench/training.mjs.

    python3 bench/training_bench.py [rounds] [width] [loop_rounds]

Save, per round (interleaved; the first two rounds warm caches and are dropped):
  plain_save     torch.save(state, file) — the hand-written remedy; the loop waits for all of it
  durable_save   torch.save to a temp file + fsync + rename + dir fsync — the same durability as ours
  sync_save      colab_resume Run(async_save=False).save: the loop waits for the whole commit
  async_block    colab_resume Run.save (default, asynchronous): what the loop waits for (state copied)
  async_durable  the same save, from the call until wait() says it is committed (time-to-durable)
Each async save is waited for before the next measurement, so no background work overlaps a peer.
Resume: plain_load (torch.load(file) + apply) vs ours_load (Run.resume's path: one read, sha256
on a helper thread overlapped with torch.load, then apply).
Loop: the example's training step on the same model, a checkpoint every `every` steps, wall time
of the whole loop with torch.save vs colab_resume async vs colab_resume sync vs no checkpoint.
"""
import io, json, os, statistics, sys, tempfile, time
here = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(here, "..", "daemon", "Training", "python"))
sys.path.insert(0, os.path.join(here, "..", "daemon", "Training", "python", "examples"))
import torch
import torch.nn.functional as F
import colab_resume as cr
import train_digits as td

rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 15
width = int(sys.argv[2]) if len(sys.argv) > 2 else 64
loop_rounds = int(sys.argv[3]) if len(sys.argv) > 3 else 5
torch.manual_seed(0)
torch.set_num_threads(1)
model = td.DigitsCnn(width)
opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
x = torch.randn(32, 1, 8, 8)
y = torch.zeros(32, dtype=torch.long)
F.cross_entropy(model(x), y).backward()
opt.step()
sched = torch.optim.lr_scheduler.StepLR(opt, 1)
d = tempfile.mkdtemp(prefix="colab-bench-")
plain_path = os.path.join(d, "plain.pt")
sync_run = cr.Run("bench", os.path.join(d, "sync"), keep=2, async_save=False)
async_run = cr.Run("bench", os.path.join(d, "async"), keep=2)


def state(step):
    return {"model_id": "bench", "step": step, "epoch": 0, "model": model.state_dict(), "optimizer": opt.state_dict(),
            "scheduler": sched.state_dict(), "scaler": None, "rng": cr._rng_state(), "extra": {}}


def plain_save(step):
    torch.save(state(step), plain_path)


def durable_save(step, path=plain_path, directory=d):
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        torch.save(state(step), f)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    cr._fsync_dir(directory)


def sync_save(step):
    sync_run.step = step
    sync_run.save(model, opt, sched)


def plain_load():
    s = torch.load(plain_path)
    model.load_state_dict(s["model"]); opt.load_state_dict(s["optimizer"]); sched.load_state_dict(s["scheduler"])


def ours_load():
    # Run.resume's path without its log line: the Run's worker hashes while the file is read and parsed
    _, s = async_run.store.load_newest_parsed(lambda data: cr.parse_state(data, "cpu"), async_run._worker.submit)
    cr.apply_parsed(s, "bench", model, opt, sched)


def evict(path):
    """Drops the file from the page cache (its pages are written first): the next read comes from the disk,
    as on a new runtime resuming a checkpoint it did not write."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
    finally:
        os.close(fd)


def evict_ours():
    m = async_run.store.manifest()
    evict(os.path.join(async_run.store.directory, cr.MANIFEST))
    for e in m.checkpoints:
        evict(os.path.join(async_run.store.directory, e.file))


res = {k: [] for k in ("plain_save", "durable_save", "sync_save", "async_block", "async_durable", "plain_load", "ours_load",
                       "plain_load_cold", "ours_load_cold")}
for i in range(rounds + 2):
    def timed(name, fn):
        t = time.perf_counter(); fn(); dt = time.perf_counter() - t
        if i >= 2:
            res[name].append(dt)
    timed("plain_save", lambda: plain_save(i))
    timed("durable_save", lambda: durable_save(i))
    timed("sync_save", lambda: sync_save(i))
    async_run.step = i
    t0 = time.perf_counter()
    async_run.save(model, opt, sched)
    t1 = time.perf_counter()
    async_run.wait()
    t2 = time.perf_counter()
    if i >= 2:
        res["async_block"].append(t1 - t0)
        res["async_durable"].append(t2 - t0)
    timed("plain_load", plain_load)
    timed("ours_load", ours_load)
    # The same from a cold page cache (both sides' files evicted just before): resuming after a preemption.
    evict(plain_path)
    timed("plain_load_cold", plain_load)
    evict_ours()
    timed("ours_load_cold", ours_load)
med = {k: statistics.median(v) * 1000 for k, v in res.items()}
best = {k: min(v) * 1000 for k, v in res.items()}  # the quietest round of each: what the machine can do when left alone

# The training loop as a whole: the example's step on this model, a checkpoint every `every` steps.
steps, every = 200, 10
loop_dir = tempfile.mkdtemp(prefix="colab-bench-loop-")


def loop(kind):
    run = cr.Run("bench", os.path.join(loop_dir, kind), keep=2, async_save=(kind == "async")) if kind in ("async", "sync") else None
    g = torch.Generator().manual_seed(1)
    t = time.perf_counter()
    for s in range(1, steps + 1):
        xb = torch.randn(32, 1, 8, 8, generator=g)
        loss = F.cross_entropy(model(xb), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if s % every == 0:
            if kind == "torch.save":
                torch.save(state(s), plain_path)
            elif kind == "durable":
                durable_save(s)
            elif run is not None:
                run.step = s
                run.save(model, opt, sched)
    if run is not None:
        run.close()  # the last checkpoint committed: the loop is done when its state is durable
    return time.perf_counter() - t


loops = {k: [] for k in ("none", "torch.save", "durable", "async", "sync")}
for i in range(loop_rounds + 1):  # interleaved; the first round warms up and is dropped
    for k in loops:
        dt = loop(k)
        if i >= 1:
            loops[k].append(dt)
loop_med = {k: statistics.median(v) * 1000 for k, v in loops.items()}

print(json.dumps({"bytes": os.path.getsize(plain_path), "rounds": rounds, "median_ms": med, "min_ms": best,
                  "min_ratios": {"block": best["async_block"] / best["plain_save"], "durable": best["async_durable"] / best["durable_save"],
                                 "load": best["ours_load"] / best["plain_load"],
                                 "load_cold": best["ours_load_cold"] / best["plain_load_cold"]},
                  "block_ratio": med["async_block"] / med["plain_save"],
                  "durable_ratio": med["async_durable"] / med["durable_save"],
                  "sync_ratio": med["sync_save"] / med["plain_save"],
                  "sync_durable_ratio": med["sync_save"] / med["durable_save"],
                  "load_ratio": med["ours_load"] / med["plain_load"],
                  "load_cold_ratio": med["ours_load_cold"] / med["plain_load_cold"],
                  "loop": {"steps": steps, "every": every, "rounds": loop_rounds, "median_ms": loop_med},
                  "loadavg": os.getloadavg()[0], "cpus": os.cpu_count(), "torch": torch.__version__}))
