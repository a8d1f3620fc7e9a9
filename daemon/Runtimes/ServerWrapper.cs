namespace Colab.Daemon.Runtimes;

/// <summary>
/// The tiny Python program the local Jupyter server runs under, so that it cannot outlive
/// the daemon — even a SIGKILLed one. The daemon holds the write end of the wrapper's
/// stdin; when the daemon exits for any reason the kernel closes that pipe, the wrapper
/// reads EOF and takes the server down: SIGTERM (the server shuts its kernels down), a
/// grace period, then SIGKILL for the server and everything under it. The wrapper is a
/// child subreaper on Linux, so kernels orphaned by a crashed server are still its
/// descendants and die with it. SIGTERM to the wrapper does the same as EOF.
/// </summary>
/// <remarks>
/// Arguments: <c>python -c SCRIPT GRACE_SECONDS jupyter-server-args…</c>. Nothing secret is
/// on the command line: the token is in a 0600 config file in a 0700 directory.
/// PR_SET_PDEATHSIG was not used: it fires when the parent <em>thread</em> exits, and the
/// .NET thread that forks can be a pool thread that retires while the daemon lives on.
/// </remarks>
internal static class ServerWrapper
{
    public const string Script = """
import os, signal, subprocess, sys, threading, time

grace = float(sys.argv[1])
subreaper = False
try:
    import ctypes
    subreaper = ctypes.CDLL(None, use_errno=True).prctl(36, ctypes.c_ulong(1), ctypes.c_ulong(0), ctypes.c_ulong(0), ctypes.c_ulong(0)) == 0  # PR_SET_CHILD_SUBREAPER
except Exception:
    pass

signal.signal(signal.SIGINT, signal.SIG_IGN)
server = subprocess.Popen([sys.executable, '-m', 'jupyter_server'] + sys.argv[2:], stdin=subprocess.DEVNULL, start_new_session=True)
done = threading.Event()

def watch_stdin():
    try:
        while os.read(0, 4096):
            pass
    except OSError:
        pass
    done.set()

def watch_server():
    server.wait()
    done.set()

def descendants():
    children = {}
    for name in os.listdir('/proc'):
        if name.isdigit():
            try:
                with open('/proc/' + name + '/stat', 'rb') as f:
                    stat = f.read()
                children.setdefault(int(stat[stat.rindex(b')') + 2:].split()[1]), []).append(int(name))
            except (OSError, ValueError, IndexError):
                pass
    found, todo = [], [os.getpid()]
    while todo:
        for child in children.get(todo.pop(), ()):
            found.append(child)
            todo.append(child)
    return found

signal.signal(signal.SIGTERM, lambda *_: done.set())
if hasattr(signal, 'SIGHUP'):
    signal.signal(signal.SIGHUP, lambda *_: done.set())
threading.Thread(target=watch_stdin, daemon=True).start()
threading.Thread(target=watch_server, daemon=True).start()
while not done.wait(0.5):
    pass
before = descendants() if os.path.isdir('/proc') else []
if server.poll() is None:
    try:
        server.terminate()
    except OSError:
        pass
    deadline = time.monotonic() + grace
    while server.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
# With the subreaper, everything left (kernels included) is still below us; without it,
# also the processes seen before the server went away.
left = set(descendants() if os.path.isdir('/proc') else [])
for pid in left if subreaper else left | set(before):
    try:
        os.kill(pid, signal.SIGKILL)
    except OSError:
        pass
if server.poll() is None:
    server.kill()
code = server.wait()
sys.exit(code if code >= 0 else 128 - code)
""";
}
