"""Built-in example: a small CNN on scikit-learn's bundled handwritten digits (8x8, 1797 images; no download).

Resumable through colab_resume: kill it at any point and start it again — it continues from the
newest verified checkpoint and, on CPU, ends with exactly the weights of an uninterrupted run.

    python3 train_digits.py --epochs 5 --checkpoint-dir /tmp/digits-ckpt
Writes the final weights' sha256 to --final (used by the fault test) and metrics as JSON lines.
"""
import argparse
import hashlib
import io
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import colab_resume as cr  # noqa: E402

import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn as nn  # noqa: E402
import torch.nn.functional as F  # noqa: E402

MODEL_ID = "colab-example-digits-cnn"


class DigitsCnn(nn.Module):
    def __init__(self, width=16):
        super().__init__()
        self.conv1 = nn.Conv2d(1, width, 3, padding=1)
        self.conv2 = nn.Conv2d(width, 2 * width, 3, padding=1)
        self.drop = nn.Dropout(0.2)
        self.fc1 = nn.Linear(2 * width * 4 * 4, 64)
        self.fc2 = nn.Linear(64, 10)

    def forward(self, x):
        x = F.relu(self.conv1(x))
        x = F.max_pool2d(F.relu(self.conv2(x)), 2)
        x = self.drop(torch.flatten(x, 1))
        return self.fc2(self.drop(F.relu(self.fc1(x))))


def load_digits():
    """The 1797 8x8 digits that ship inside scikit-learn, read straight from its bundled CSV
    (importing sklearn itself costs a second of start-up on every resume)."""
    import importlib.util
    spec = importlib.util.find_spec("sklearn")
    path = os.path.join(os.path.dirname(spec.origin), "datasets", "data", "digits.csv.gz") if spec and spec.origin else None
    if path and os.path.exists(path):
        data = np.loadtxt(path, delimiter=",", dtype=np.float32)
        images, target = data[:, :-1].reshape(-1, 8, 8), data[:, -1].astype(np.int64)
    else:
        from sklearn.datasets import load_digits as ld
        d = ld()
        images, target = d.images.astype(np.float32), d.target
    x = torch.tensor(images, dtype=torch.float32).unsqueeze(1) / 16.0
    y = torch.tensor(target, dtype=torch.long)
    g = torch.Generator().manual_seed(0)
    perm = torch.randperm(len(y), generator=g)
    n_test = len(y) // 5
    return x[perm[n_test:]], y[perm[n_test:]], x[perm[:n_test]], y[perm[:n_test]]


def weights_sha256(model):
    h = hashlib.sha256()
    for k, v in sorted(model.state_dict().items()):
        h.update(k.encode())
        h.update(v.detach().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--epochs", type=int, default=int(os.environ.get("COLAB_EXAMPLE_EPOCHS", 8)))
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--lr", type=float, default=0.05)
    p.add_argument("--seed", type=int, default=1234)
    p.add_argument("--width", type=int, default=16)
    p.add_argument("--checkpoint-dir", default=None)
    p.add_argument("--checkpoint-every", type=int, default=20)
    p.add_argument("--keep", type=int, default=3)
    p.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    p.add_argument("--final", default=None, help="write the final weights' sha256 here")
    p.add_argument("--step-delay", type=float, default=0.0, help="sleep per step (tests)")
    a = p.parse_args(argv)

    device = torch.device("cuda" if a.device == "cuda" or (a.device == "auto" and torch.cuda.is_available()) else "cpu")
    torch.manual_seed(a.seed)
    np.random.seed(a.seed)
    import random
    random.seed(a.seed)
    if device.type == "cpu":
        torch.use_deterministic_algorithms(True)
        torch.set_num_threads(1)
    xtr, ytr, xte, yte = load_digits()
    xtr, ytr, xte, yte = xtr.to(device), ytr.to(device), xte.to(device), yte.to(device)
    model = DigitsCnn(a.width).to(device)
    opt = torch.optim.SGD(model.parameters(), lr=a.lr, momentum=0.9)
    steps_per_epoch = (len(ytr) + a.batch_size - 1) // a.batch_size
    sched = torch.optim.lr_scheduler.StepLR(opt, step_size=max(1, a.epochs // 2), gamma=0.5)
    use_amp = device.type == "cuda"

    run = cr.Run.from_env(MODEL_ID, checkpoint_dir=a.checkpoint_dir, keep=a.keep, every=a.checkpoint_every)
    run.resume(model, opt, sched, map_location=device)
    total = a.epochs * steps_per_epoch
    t0 = time.monotonic()
    start_step = run.step
    print(f"training {MODEL_ID} on {device} for {a.epochs} epochs ({total} steps), starting at step {run.step}", flush=True)
    while run.step < total:
        epoch = run.step // steps_per_epoch
        model.train()
        g = torch.Generator().manual_seed(a.seed * 1000 + epoch)  # the epoch's order does not depend on resumes
        order = torch.randperm(len(ytr), generator=g).to(device)
        for b in range(run.step - epoch * steps_per_epoch, steps_per_epoch):
            idx = order[b * a.batch_size:(b + 1) * a.batch_size]
            if use_amp:
                with torch.autocast(device_type="cuda", dtype=torch.bfloat16):
                    loss = F.cross_entropy(model(xtr[idx]), ytr[idx])
            else:
                loss = F.cross_entropy(model(xtr[idx]), ytr[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            if b == steps_per_epoch - 1:
                sched.step()
            done = run.step + 1 - start_step
            eta = (time.monotonic() - t0) / done * (total - run.step - 1)
            run.step_done(epoch, samples=len(idx), loss=round(loss.item(), 6), lr=opt.param_groups[0]["lr"],
                          total_steps=total, eta_s=round(eta, 1))
            if a.step_delay:
                time.sleep(a.step_delay)
            if b == steps_per_epoch - 1:
                model.eval()
                with torch.no_grad():
                    acc = (model(xte).argmax(1) == yte).float().mean().item()
                run.log({"step": run.step, "epoch": epoch, "accuracy": round(acc, 4)})
                print(f"epoch {epoch + 1}/{a.epochs}: loss {loss.item():.4f} accuracy {acc:.4f}", flush=True)
                model.train()
            if run.should_checkpoint() or (run.store is not None and run.step == total):
                run.save(model, opt, sched, epoch=(run.step // steps_per_epoch))
            if run.stop_requested:
                run.exit_for_stop()
            if run.step >= total:
                break
    model.eval()
    with torch.no_grad():
        acc = (model(xte).argmax(1) == yte).float().mean().item()
    digest = weights_sha256(model)
    loop_s = time.monotonic() - t0
    rate = (run.step - start_step) / loop_s if loop_s > 0 else 0.0
    run.done(accuracy=round(acc, 4))
    print(f"done: accuracy {acc:.4f} steps/s {rate:.2f} weights sha256 {digest}", flush=True)
    if a.final:
        with open(a.final, "w") as f:
            f.write(digest + "\n")


if __name__ == "__main__":
    main()
