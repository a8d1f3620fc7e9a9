"""Runs one training worker detached on a Jupyter runtime, for the daemon's remote-job supervisor.

    python3 colab_job_runner.py JOB_DIR -- argv...

Started by the daemon from a hidden kernel in a new session (so a kernel shutdown, a Jupyter
server restart or the editor going away does not touch it). It writes, in JOB_DIR:

    runner.pid   its pid (also the process group of the worker), written before the worker starts
    heartbeat    rewritten every 2 s while it runs (the supervisor notices a runtime that lost it)
    worker.log   the worker's stdout and stderr
    exit         the worker's exit code (128+N for signal N), written atomically when it ends

SIGTERM to the runner is passed to the worker (which checkpoints and exits); the supervisor
SIGKILLs the process group after the grace period.
"""
import os
import signal
import subprocess
import sys
import threading
import time


def _write_atomic(path, text):
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def main(argv):
    if len(argv) < 3 or argv[1] != "--":
        sys.stderr.write("usage: colab_job_runner.py JOB_DIR -- argv...\n")
        return 2
    job_dir = os.path.abspath(argv[0])
    command = argv[2:]
    for name in ("exit", "exit.tmp"):
        try:
            os.remove(os.path.join(job_dir, name))
        except FileNotFoundError:
            pass
    _write_atomic(os.path.join(job_dir, "runner.pid"), str(os.getpid()))
    log = open(os.path.join(job_dir, "worker.log"), "ab", buffering=0)
    try:
        worker = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT)
    except OSError as e:
        log.write(f"[runner] could not start {command[0]}: {e}\n".encode())
        _write_atomic(os.path.join(job_dir, "exit"), "127")
        return 127
    signal.signal(signal.SIGTERM, lambda s, f: worker.send_signal(signal.SIGTERM))
    signal.signal(signal.SIGHUP, signal.SIG_IGN)
    done = threading.Event()

    def beat():
        path = os.path.join(job_dir, "heartbeat")
        while not done.is_set():
            try:
                _write_atomic(path, str(time.time()))
            except OSError:
                pass
            done.wait(2)

    threading.Thread(target=beat, daemon=True).start()
    code = worker.wait()
    done.set()
    if code < 0:
        code = 128 - code
    _write_atomic(os.path.join(job_dir, "exit"), str(code))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
