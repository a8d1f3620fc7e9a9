using System.Text.Json;

namespace Colab.Daemon.Gpu;

/// <summary>
/// The Python the runtime GPU probe runs in its own hidden kernel: NVML through ctypes
/// (<c>libnvidia-ml.so.1</c>), else nvidia-smi's CSV (parsed here by <see cref="NvidiaSmiCsv"/>),
/// printed as one JSON line after <see cref="Marker"/>. Only the standard library; Python 3.6+.
/// Names are kept inside one function so the probe kernel's namespace stays clean.
/// </summary>
public static class RuntimeGpuScript
{
    /// <summary>The probe prints <c>Marker + json</c> on one line; anything else on stdout is ignored.</summary>
    public const string Marker = "@@colab-gpu-probe@@";

    /// <summary>The code to execute: the probe function and one call with the given library and nvidia-smi (null: the runtime's defaults).</summary>
    public static string Build(string? nvmlLibrary, string? nvidiaSmi, TimeSpan smiTimeout)
        => Source + "\n__colab_gpu_probe(" + Literal(nvmlLibrary) + ", " + Literal(nvidiaSmi) + ", "
           + smiTimeout.TotalSeconds.ToString("0.###", System.Globalization.CultureInfo.InvariantCulture) + ", "
           + List(NvidiaSmiCsv.GpuArguments) + ", " + List(NvidiaSmiCsv.AppArguments) + ", " + Literal(Marker) + ")\n";

    private static string List(IEnumerable<string> values) => "[" + string.Join(", ", values.Select(Literal)) + "]";

    /// <summary>A Python string literal (JSON strings are valid Python literals) or None.</summary>
    private static string Literal(string? value) => value is null ? "None" : JsonSerializer.Serialize(value, GpuJson.Default.String);

    private const string Source = """
def __colab_gpu_probe(nvml_path, smi_path, smi_timeout, GPU_ARGS, APP_ARGS, MARKER):
    import ctypes, json, os, subprocess, shutil
    out = {"v": 1, "nvml": None, "smi": None, "notes": []}

    def describe(pid):
        name, user = None, None
        try:
            with open("/proc/%d/comm" % pid) as f:
                name = f.read().strip() or None
        except Exception:
            pass
        try:
            import pwd
            user = pwd.getpwuid(os.stat("/proc/%d" % pid).st_uid).pw_name
        except Exception:
            pass
        return name, user

    def nvml():
        try:
            lib = ctypes.CDLL(nvml_path or "libnvidia-ml.so.1")
        except OSError as e:
            return {"error": "load: %s" % e}
        def fn(*names):
            for n in names:
                f = getattr(lib, n, None)
                if f is not None:
                    return f
            return None
        def err(rc):
            f = fn("nvmlErrorString")
            if f is None:
                return "NVML error %d" % rc
            f.restype = ctypes.c_char_p
            s = f(rc)
            return (s.decode("utf-8", "replace") if s else "NVML error") + " (%d)" % rc
        init = fn("nvmlInit_v2", "nvmlInit")
        if init is None:
            return {"error": "no nvmlInit_v2"}
        rc = init()
        if rc != 0:
            return {"error": "nvmlInit: " + err(rc), "code": rc}
        res = {"error": None, "devices": [], "notes": []}
        try:
            buf = ctypes.create_string_buffer(96)
            f = fn("nvmlSystemGetDriverVersion")
            if f is not None and f(buf, 96) == 0:
                res["driver"] = buf.value.decode("utf-8", "replace")
            v = ctypes.c_int()
            f = fn("nvmlSystemGetCudaDriverVersion_v2", "nvmlSystemGetCudaDriverVersion")
            if f is not None and f(ctypes.byref(v)) == 0:
                res["cuda"] = v.value
            count = ctypes.c_uint()
            f = fn("nvmlDeviceGetCount_v2", "nvmlDeviceGetCount")
            rc = f(ctypes.byref(count)) if f is not None else -1
            if rc != 0:
                res["error"] = "nvmlDeviceGetCount: " + (err(rc) if rc > 0 else "missing")
                res["code"] = rc
                return res

            class Util(ctypes.Structure):
                _fields_ = [("gpu", ctypes.c_uint), ("memory", ctypes.c_uint)]
            class Mem(ctypes.Structure):
                _fields_ = [("total", ctypes.c_ulonglong), ("free", ctypes.c_ulonglong), ("used", ctypes.c_ulonglong)]
            class Proc(ctypes.Structure):
                _fields_ = [("pid", ctypes.c_uint), ("used", ctypes.c_ulonglong), ("gi", ctypes.c_uint), ("ci", ctypes.c_uint)]

            for i in range(min(count.value, 64)):
                h = ctypes.c_void_p()
                f = fn("nvmlDeviceGetHandleByIndex_v2", "nvmlDeviceGetHandleByIndex")
                rc = f(i, ctypes.byref(h))
                d = {"index": i, "notes": []}
                res["devices"].append(d)
                if rc != 0:
                    d["notes"].append("handle: " + err(rc))
                    continue
                def call(key, names, *args):
                    g = fn(*names)
                    if g is None:
                        d["notes"].append("%s: not in this driver" % key)
                        return False
                    r = g(h, *args)
                    if r != 0:
                        d["notes"].append("%s: %s" % (key, err(r)))
                        return False
                    return True
                s = ctypes.create_string_buffer(96)
                if call("name", ["nvmlDeviceGetName"], s, 96):
                    d["name"] = s.value.decode("utf-8", "replace")
                s = ctypes.create_string_buffer(96)
                if call("uuid", ["nvmlDeviceGetUUID"], s, 96):
                    d["uuid"] = s.value.decode("utf-8", "replace")
                cur, pend = ctypes.c_uint(), ctypes.c_uint()
                g = fn("nvmlDeviceGetMigMode")
                if g is not None:
                    r = g(h, ctypes.byref(cur), ctypes.byref(pend))
                    if r == 0:
                        d["mig"] = cur.value == 1
                    elif r != 3:  # NOT_SUPPORTED: a GPU without MIG, the normal answer
                        d["notes"].append("MIG mode: " + err(r))
                u = Util()
                if d.get("mig"):
                    d["notes"].append("utilisation: not available while MIG is enabled (NVML reports none)")
                elif call("utilisation", ["nvmlDeviceGetUtilizationRates"], ctypes.byref(u)):
                    d["utilGpu"], d["utilMem"] = u.gpu, u.memory
                m = Mem()
                if call("memory", ["nvmlDeviceGetMemoryInfo"], ctypes.byref(m)):
                    d["memUsed"], d["memTotal"] = m.used, m.total
                t = ctypes.c_uint()
                if call("temperature", ["nvmlDeviceGetTemperature"], 0, ctypes.byref(t)):
                    d["temp"] = t.value
                p = ctypes.c_uint()
                if call("power draw", ["nvmlDeviceGetPowerUsage"], ctypes.byref(p)):
                    d["powerMw"] = p.value
                p = ctypes.c_uint()
                if call("power limit", ["nvmlDeviceGetEnforcedPowerLimit"], ctypes.byref(p)):
                    d["powerLimitMw"] = p.value
                if d.get("mig"):
                    d["migs"] = []
                    gmax, gmig = fn("nvmlDeviceGetMaxMigDeviceCount"), fn("nvmlDeviceGetMigDeviceHandleByIndex")
                    mx = ctypes.c_uint()
                    r = gmax(h, ctypes.byref(mx)) if gmax is not None and gmig is not None else -1
                    if r != 0:
                        d["notes"].append("MIG devices: " + (err(r) if r > 0 else "this driver cannot list them"))
                    for k in range(min(mx.value, 64) if r == 0 else 0):
                        mh = ctypes.c_void_p()
                        r = gmig(h, k, ctypes.byref(mh))
                        if r == 6:  # NOT_FOUND: an unpopulated slot
                            continue
                        if r != 0:
                            d["notes"].append("MIG device %d: %s" % (k, err(r)))
                            continue
                        md = {"index": k, "notes": ["utilisation: not available on MIG devices (NVML reports none)"]}
                        for key, name in (("name", "nvmlDeviceGetName"), ("uuid", "nvmlDeviceGetUUID")):
                            s = ctypes.create_string_buffer(96)
                            q = fn(name)
                            r = q(mh, s, 96) if q is not None else -1
                            if r == 0:
                                md[key] = s.value.decode("utf-8", "replace")
                            else:
                                md["notes"].append("%s: %s" % (key, err(r) if r > 0 else "not in this driver"))
                        m = Mem()
                        q = fn("nvmlDeviceGetMemoryInfo")
                        r = q(mh, ctypes.byref(m)) if q is not None else -1
                        if r == 0:
                            md["memUsed"], md["memTotal"] = m.used, m.total
                        else:
                            md["notes"].append("memory: " + (err(r) if r > 0 else "not in this driver"))
                        d["migs"].append(md)
                g = fn("nvmlDeviceGetComputeRunningProcesses_v2")
                if g is not None:
                    n = ctypes.c_uint(0)
                    arr = []
                    r = g(h, ctypes.byref(n), None)
                    if r in (0, 7):  # 7: INSUFFICIENT_SIZE, n holds the count
                        n = ctypes.c_uint(n.value + 8)
                        arr = (Proc * n.value)()
                        r = g(h, ctypes.byref(n), arr)
                    if r == 0:
                        d["procs"] = []
                        for k in range(min(n.value, 1024)):
                            nm, us = describe(arr[k].pid)
                            d["procs"].append({"pid": arr[k].pid, "mem": arr[k].used, "name": nm, "user": us})
                    else:
                        d["notes"].append("processes: " + err(r))
        finally:
            f = fn("nvmlShutdown")
            if f is not None:
                f()
        return res

    def smi():
        path = smi_path or shutil.which("nvidia-smi")
        if not path:
            return {"error": "nvidia-smi is not on PATH"}
        res = {"error": None}
        for key, args in (("gpus", GPU_ARGS), ("apps", APP_ARGS)):
            try:
                p = subprocess.run([path] + args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=smi_timeout)
                res[key] = p.stdout.decode("utf-8", "replace")[:1000000]
                res[key + "Exit"] = p.returncode
                res[key + "Err"] = p.stderr.decode("utf-8", "replace")[:4000]
            except subprocess.TimeoutExpired:
                res[key + "TimedOut"] = True
                if key == "gpus":
                    break
            except Exception as e:
                res["error"] = "%s: %s" % (path, e)
                break
        return res

    try:
        out["nvml"] = nvml()
    except Exception as e:
        out["nvml"] = {"error": "%s: %s" % (type(e).__name__, e)}
    if out["nvml"].get("error") and out["nvml"].get("code") in (None, 13):
        try:
            out["smi"] = smi()
        except Exception as e:
            out["smi"] = {"error": "%s: %s" % (type(e).__name__, e)}
    print(MARKER + json.dumps(out), flush=True)
""";
}
