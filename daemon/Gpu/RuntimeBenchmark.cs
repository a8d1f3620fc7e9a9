using System.Globalization;
using System.Text;
using System.Text.Json;
using Colab.Daemon.Runtimes;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Colab.Daemon.Gpu;

/// <summary>A GPU model's datasheet figures (dense, boost clock; the SXM part where there are several).</summary>
public sealed record NominalGpu(string Model, double Fp32Tflops, double Fp16TensorTflops, double MemoryBandwidthGBps, int MemoryGb);

/// <summary>What <c>Colab: Benchmark Runtime</c> measured on a runtime (null: not measured, see <c>Notes</c>).</summary>
public sealed record RuntimeBenchmarkResult(
    string RuntimeId,
    string? GpuName,
    double? GpuMatmulFp32Tflops,
    double? GpuMatmulFp16Tflops,
    double? GpuMemoryBandwidthGBps,
    double? CpuMatmulGflops,
    string? CpuLibrary,
    int? CpuCount,
    double? DiskWriteMBps,
    double? DiskReadMBps,
    NominalGpu? Nominal,
    IReadOnlyList<string> Notes,
    string Text);

/// <summary>
/// Measures what a runtime actually delivers, in a short-lived kernel of its own (started,
/// used once, shut down): GPU matmul TFLOP/s (fp32 and fp16) and device memory bandwidth
/// through PyTorch when CUDA is there, CPU matmul GFLOP/s (PyTorch, else NumPy) and local-disk
/// write/read MB/s always; shown next to the GPU model's nominal figures.
/// </summary>
/// <remarks>Configuration: <c>BenchmarkTimeoutSeconds</c> (default 300).</remarks>
public sealed class RuntimeBenchmark(RuntimeManager runtimes, IConfiguration configuration, ILogger<RuntimeBenchmark>? logger = null)
{
    public const string Marker = "@@colab-benchmark@@";

    /// <summary>Datasheet figures of common GPUs (NVIDIA product pages).</summary>
    public static readonly IReadOnlyList<NominalGpu> NominalFigures =
    [
        new("H100 PCIe", 51.2, 756, 2000, 80),
        new("H100", 66.9, 989, 3350, 80),
        new("A100-SXM4-80GB", 19.5, 312, 2039, 80),
        new("A100", 19.5, 312, 1555, 40),
        new("L40S", 91.6, 362, 864, 48),
        new("L4", 30.3, 121, 300, 24),
        new("A10G", 31.2, 125, 600, 24),
        new("A10", 31.2, 125, 600, 24),
        new("V100", 15.7, 125, 900, 16),
        new("T4", 8.1, 65, 320, 16),
        new("P100", 9.3, 18.7, 732, 16),
        new("P4", 5.5, 0, 192, 8),
        new("K80", 4.1, 0, 240, 12),
    ];

    private readonly ILogger _logger = (ILogger?)logger ?? NullLogger.Instance;

    /// <summary>The nominal figures for a GPU name, or null for a model not in the table.</summary>
    public static NominalGpu? Nominal(string? gpuName)
        => gpuName is null ? null : NominalFigures.FirstOrDefault(n => GpuCheck.NameMatches(gpuName, n.Model));

    public async Task<RuntimeBenchmarkResult> RunAsync(string runtimeId, int diskMegabytes, CancellationToken cancellationToken)
    {
        var source = runtimes.Client(runtimeId);
        using var client = new JupyterClient(source.Endpoint, source.Token);
        var seconds = double.TryParse(configuration["BenchmarkTimeoutSeconds"], NumberStyles.Float, CultureInfo.InvariantCulture, out var s) && s > 0 ? s : 300;
        using var limit = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        limit.CancelAfter(TimeSpan.FromSeconds(Math.Min(seconds, 3600)));
        var kernel = await client.StartKernelAsync(cancellationToken: limit.Token).ConfigureAwait(false);
        runtimes.HideKernel(runtimeId, kernel.Id);
        try
        {
            await using var connection = await KernelConnection.ConnectAsync(client, kernel.Id, logger: _logger, cancellationToken: limit.Token).ConfigureAwait(false);
            var execution = await connection.ExecuteAsync(Script + $"\n__colab_benchmark({diskMegabytes.ToString(CultureInfo.InvariantCulture)}, {JsonSerializer.Serialize(Marker, GpuJson.Default.String)})\n",
                new ExecuteOptions { StoreHistory = false }, limit.Token).ConfigureAwait(false);
            ExecutionResult result;
            try
            {
                result = await execution.CollectAsync(limit.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
            {
                throw new TimeoutException($"the benchmark did not finish within {seconds:0} s on runtime {runtimeId}");
            }
            if (result.Reply.Status != "ok")
            {
                throw new JupyterException(JupyterErrorKind.BadResponse, $"the benchmark failed on runtime {runtimeId}: {result.Reply.Ename}: {result.Reply.Evalue}");
            }
            return Parse(runtimeId, result.Stdout);
        }
        finally
        {
            try
            {
                using var cleanup = new CancellationTokenSource(TimeSpan.FromSeconds(10));
                await client.DeleteKernelAsync(kernel.Id, cleanup.Token).ConfigureAwait(false);
            }
            catch (Exception e) when (e is JupyterException or OperationCanceledException)
            {
                _logger.LogInformation("runtime {Runtime}: benchmark kernel {Kernel} not shut down: {Error}", runtimeId, kernel.Id, e.Message);
            }
        }
    }

    /// <summary>Reads the benchmark's marked JSON line (untrusted: numbers range-checked, strings cut).</summary>
    public static RuntimeBenchmarkResult Parse(string runtimeId, string stdout)
    {
        var line = stdout.Split('\n').LastOrDefault(l => l.StartsWith(Marker, StringComparison.Ordinal))
            ?? throw new JupyterException(JupyterErrorKind.BadResponse, "the benchmark printed no result");
        JsonDocument doc;
        try
        {
            doc = JsonDocument.Parse(line[Marker.Length..], new JsonDocumentOptions { MaxDepth = 8 });
        }
        catch (JsonException e)
        {
            throw new JupyterException(JupyterErrorKind.BadResponse, $"the benchmark's result is not JSON: {e.Message}");
        }
        using (doc)
        {
            var r = doc.RootElement;
            if (r.ValueKind != JsonValueKind.Object)
            {
                throw new JupyterException(JupyterErrorKind.BadResponse, "the benchmark's result is not a JSON object");
            }
            var notes = new List<string>();
            if (r.TryGetProperty("notes", out var n) && n.ValueKind == JsonValueKind.Array)
            {
                notes.AddRange(n.EnumerateArray().Where(x => x.ValueKind == JsonValueKind.String).Take(32).Select(x => Cut(x.GetString()!)));
            }
            var gpuName = Str(r, "gpuName");
            var nominal = Nominal(gpuName);
            var cpuCount = Num(r, "cpuCount") is { } c && c is >= 1 and <= 100_000 ? (int)c : (int?)null;
            var partial = new RuntimeBenchmarkResult(runtimeId, gpuName, Num(r, "gpuFp32Tflops"), Num(r, "gpuFp16Tflops"), Num(r, "gpuBandwidthGBps"),
                Num(r, "cpuGflops"), Str(r, "cpuLibrary"), cpuCount, Num(r, "diskWriteMBps"), Num(r, "diskReadMBps"), nominal, notes, "");
            return partial with { Text = Format(partial) };
        }
    }

    public static string Format(RuntimeBenchmarkResult b)
    {
        var s = new StringBuilder();
        s.Append("Runtime benchmark: ").AppendLine(b.RuntimeId);
        s.Append("GPU: ").AppendLine(b.GpuName ?? "none (no CUDA device visible to PyTorch)");
        var rows = new List<string[]> { new[] { "Measure", "Measured", "Nominal", "Share" } };
        rows.Add(["GPU matmul fp32", F(b.GpuMatmulFp32Tflops, "TFLOP/s"), F(b.Nominal?.Fp32Tflops, "TFLOP/s"), Share(b.GpuMatmulFp32Tflops, b.Nominal?.Fp32Tflops)]);
        rows.Add(["GPU matmul fp16", F(b.GpuMatmulFp16Tflops, "TFLOP/s"), F(b.Nominal is { Fp16TensorTflops: > 0 } n ? n.Fp16TensorTflops : null, "TFLOP/s"),
            Share(b.GpuMatmulFp16Tflops, b.Nominal is { Fp16TensorTflops: > 0 } m ? m.Fp16TensorTflops : null)]);
        rows.Add(["GPU memory bandwidth", F(b.GpuMemoryBandwidthGBps, "GB/s"), F(b.Nominal?.MemoryBandwidthGBps, "GB/s"), Share(b.GpuMemoryBandwidthGBps, b.Nominal?.MemoryBandwidthGBps)]);
        rows.Add([$"CPU matmul fp32 ({b.CpuLibrary ?? "-"}, {(b.CpuCount is { } cpus ? cpus.ToString(CultureInfo.InvariantCulture) : "?")} CPUs)", F(b.CpuMatmulGflops, "GFLOP/s"), "", ""]);
        rows.Add(["Disk write (fsync)", F(b.DiskWriteMBps, "MB/s"), "", ""]);
        rows.Add(["Disk read (cache dropped)", F(b.DiskReadMBps, "MB/s"), "", ""]);
        var widths = Enumerable.Range(0, 4).Select(i => rows.Max(r => r[i].Length)).ToArray();
        foreach (var row in rows)
        {
            s.AppendLine(string.Join("  ", row.Select((c, i) => i == 0 ? c.PadRight(widths[i]) : c.PadLeft(widths[i]))).TrimEnd());
        }
        if (b.Nominal is { } nom)
        {
            s.Append("Nominal: ").Append(nom.Model).Append(" datasheet (dense, boost clock), ").Append(nom.MemoryGb.ToString(CultureInfo.InvariantCulture)).AppendLine(" GB");
        }
        foreach (var note in b.Notes)
        {
            s.Append("Note: ").AppendLine(note);
        }
        return s.ToString();
    }

    private static string F(double? v, string unit) => v is { } x ? $"{x.ToString(x >= 100 ? "0" : "0.##", CultureInfo.InvariantCulture)} {unit}" : "-";

    private static string Share(double? measured, double? nominal)
        => measured is { } m && nominal is { } n && n > 0 ? $"{(100 * m / n).ToString("0", CultureInfo.InvariantCulture)}%" : "";

    private static double? Num(JsonElement e, string name)
        => e.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.Number && v.TryGetDouble(out var d) && double.IsFinite(d) && d >= 0 && d < 1e9 ? d : null;

    private static string? Str(JsonElement e, string name)
        => e.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.String ? Cut(v.GetString()!) : null;

    private static string Cut(string s)
    {
        s = new string([.. s.Where(ch => !char.IsControl(ch))]);
        return s.Length > 256 ? s[..256] : s;
    }

    private const string Script = """
def __colab_benchmark(disk_mb, marker):
    import json, os, time, tempfile
    out = {"notes": [], "cpuCount": os.cpu_count()}
    torch = None
    try:
        import torch
    except Exception as e:
        out["notes"].append("PyTorch not importable on the runtime: %s" % e)

    def best(fn, repeat):
        fn()
        t = float("inf")
        for _ in range(repeat):
            s = time.perf_counter(); fn(); t = min(t, time.perf_counter() - s)
        return t

    n = 1024
    if torch is not None:
        a = torch.rand(n, n); b = torch.rand(n, n)
        t = best(lambda: torch.matmul(a, b), 5)
        out["cpuGflops"], out["cpuLibrary"] = 2 * n ** 3 / t / 1e9, "torch %s" % torch.__version__
    else:
        try:
            import numpy as np
            a = np.random.rand(n, n).astype(np.float32); b = np.random.rand(n, n).astype(np.float32)
            t = best(lambda: a @ b, 5)
            out["cpuGflops"], out["cpuLibrary"] = 2 * n ** 3 / t / 1e9, "numpy %s" % np.__version__
        except Exception as e:
            out["notes"].append("CPU matmul skipped: neither PyTorch nor NumPy: %s" % e)

    if torch is not None and torch.cuda.is_available():
        try:
            dev = torch.device("cuda")
            out["gpuName"] = torch.cuda.get_device_name(0)
            def gpu_tflops(dtype, m):
                x = torch.rand(m, m, device=dev, dtype=dtype); y = torch.rand(m, m, device=dev, dtype=dtype)
                def run():
                    for _ in range(10):
                        torch.matmul(x, y)
                    torch.cuda.synchronize()
                return 10 * 2 * m ** 3 / best(run, 3) / 1e12
            out["gpuFp32Tflops"] = gpu_tflops(torch.float32, 4096)
            out["gpuFp16Tflops"] = gpu_tflops(torch.float16, 8192)
            src = torch.empty(256 * 1024 * 1024, dtype=torch.uint8, device=dev); dst = torch.empty_like(src)
            def copy():
                for _ in range(10):
                    dst.copy_(src)
                torch.cuda.synchronize()
            out["gpuBandwidthGBps"] = 10 * 2 * src.numel() / best(copy, 3) / 1e9
            del src, dst
            torch.cuda.empty_cache()
        except Exception as e:
            out["notes"].append("GPU benchmark failed: %s: %s" % (type(e).__name__, e))
    elif torch is not None:
        out["notes"].append("no CUDA device visible to PyTorch: GPU figures not measured")

    block = os.urandom(1024 * 1024)
    fd, path = tempfile.mkstemp(prefix="colab-bench-")
    try:
        s = time.perf_counter()
        with os.fdopen(fd, "wb", buffering=0) as f:
            for _ in range(disk_mb):
                f.write(block)
            os.fsync(f.fileno())
        out["diskWriteMBps"] = disk_mb * 1.048576 / (time.perf_counter() - s)
        dropped = False
        try:
            rfd = os.open(path, os.O_RDONLY)
            os.posix_fadvise(rfd, 0, 0, os.POSIX_FADV_DONTNEED)
            os.close(rfd)
            dropped = True
        except Exception:
            pass
        if not dropped:
            out["notes"].append("disk read may come from the page cache (posix_fadvise unavailable)")
        s = time.perf_counter()
        with open(path, "rb", buffering=0) as f:
            while f.read(4 * 1024 * 1024):
                pass
        out["diskReadMBps"] = disk_mb * 1.048576 / (time.perf_counter() - s)
        out["notes"].append("disk: %d MB in %s" % (disk_mb, os.path.dirname(path)))
    finally:
        os.unlink(path)
    print(marker + json.dumps(out), flush=True)
""";
}
