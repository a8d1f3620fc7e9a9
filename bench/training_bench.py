"""Checkpoint save/resume cost of colab_resume vs plain torch.save/torch.load of the same state.
Prints one JSON object. Called by bench/training.mjs."""
import io, json, os, statistics, sys, tempfile, time
here = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(here, "..", "daemon", "Training", "python"))
sys.path.insert(0, os.path.join(here, "..", "daemon", "Training", "python", "examples"))
import torch
import colab_resume as cr
import train_digits as td

rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 15
width = int(sys.argv[2]) if len(sys.argv) > 2 else 64
torch.manual_seed(0)
model = td.DigitsCnn(width)
opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
x = torch.randn(32, 1, 8, 8)
torch.nn.functional.cross_entropy(model(x), torch.zeros(32, dtype=torch.long)).backward()
opt.step()
sched = torch.optim.lr_scheduler.StepLR(opt, 1)
d = tempfile.mkdtemp(prefix="colab-bench-")
plain_path = os.path.join(d, "plain.pt")
store = cr.CheckpointStore(os.path.join(d, "ckpt"), "bench", keep=2)

def plain_save(step):
    # the same state a colab_resume checkpoint holds, saved the hand-written way (torch.save to a file)
    state = {"model_id": "bench", "step": step, "epoch": 0, "model": model.state_dict(), "optimizer": opt.state_dict(),
             "scheduler": sched.state_dict(), "scaler": None, "rng": cr._rng_state(), "extra": {}}
    torch.save(state, plain_path)

def durable_save(step):
    # a careful hand-written save: torch.save to a temp file, fsync, rename, fsync the directory
    state = {"model_id": "bench", "step": step, "epoch": 0, "model": model.state_dict(), "optimizer": opt.state_dict(),
             "scheduler": sched.state_dict(), "scaler": None, "rng": cr._rng_state(), "extra": {}}
    tmp = plain_path + ".tmp"
    with open(tmp, "wb") as f:
        torch.save(state, f)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, plain_path)
    cr._fsync_dir(d)

def ours_save(step):
    store.commit(cr.state_bytes("bench", step, 0, model, opt, sched), step, 0)

def plain_load():
    s = torch.load(plain_path)
    model.load_state_dict(s["model"]); opt.load_state_dict(s["optimizer"]); sched.load_state_dict(s["scheduler"])

def ours_load():
    e, data = store.load_newest()
    cr.apply_state(data, "bench", model, opt, sched)

res = {"plain_save": [], "durable_save": [], "ours_save": [], "plain_load": [], "ours_load": []}
for i in range(rounds + 2):  # interleaved; the first two rounds warm caches and are dropped
    for name, fn in (("plain_save", lambda: plain_save(i)), ("durable_save", lambda: durable_save(i)), ("ours_save", lambda: ours_save(i)),
                     ("plain_load", plain_load), ("ours_load", ours_load)):
        t = time.perf_counter(); fn(); dt = time.perf_counter() - t
        if i >= 2:
            res[name].append(dt)
med = {k: statistics.median(v) * 1000 for k, v in res.items()}
print(json.dumps({"bytes": os.path.getsize(plain_path), "rounds": rounds, "median_ms": med,
                  "save_ratio": med["ours_save"] / med["plain_save"], "durable_save_ratio": med["ours_save"] / med["durable_save"],
                  "load_ratio": med["ours_load"] / med["plain_load"], "loadavg": os.getloadavg()[0]}))
