namespace Colab.Daemon.Gpu;

/// <summary>One GPU's values at one reading (null: unknown).</summary>
public sealed record GpuSample(DateTimeOffset At, int? UtilizationGpuPercent, ulong? MemoryUsedBytes, ulong? MemoryTotalBytes, int? TemperatureCelsius);

/// <summary>The recent readings of one GPU of one source.</summary>
public sealed record GpuSeries(int Index, string? Name, IReadOnlyList<GpuSample> Samples);

/// <summary>The recent readings of one source: <c>local</c> (the daemon's host) or a runtime id.</summary>
public sealed record GpuSourceHistory(string Source, IReadOnlyList<GpuSeries> Gpus, string? State, string? Reason);

/// <summary>
/// A ring buffer of the readings the watchers take (the host's and each runtime's), for the
/// history charts: the last <see cref="Window"/> and at most <see cref="Capacity"/> readings
/// per source. Fed only while polling runs (someone is looking); a disconnected runtime's
/// history is dropped.
/// </summary>
public sealed class GpuHistory
{
    public const string Local = "local";
    public const int Capacity = 3600;
    public static readonly TimeSpan Window = TimeSpan.FromMinutes(15);

    private readonly Lock _gate = new();
    private readonly Dictionary<string, Queue<GpuSnapshot>> _bySource = new(StringComparer.Ordinal);

    public GpuHistory(GpuWatcher local, RuntimeGpuWatcher runtimes)
    {
        local.Sampled += s => Add(Local, s);
        runtimes.Sampled += Add;
        runtimes.Removed += id =>
        {
            lock (_gate)
            {
                _bySource.Remove(id);
            }
        };
    }

    public GpuHistory()
    {
    }

    public void Add(string source, GpuSnapshot snapshot)
    {
        lock (_gate)
        {
            if (!_bySource.TryGetValue(source, out var queue))
            {
                _bySource[source] = queue = new Queue<GpuSnapshot>();
            }
            queue.Enqueue(snapshot);
            while (queue.Count > Capacity || (queue.Count > 0 && snapshot.TakenAt - queue.Peek().TakenAt > Window))
            {
                queue.Dequeue();
            }
        }
    }

    /// <summary>Each source's GPUs with their readings since <paramref name="since"/>, oldest first.</summary>
    public IReadOnlyList<GpuSourceHistory> Read(DateTimeOffset since)
    {
        lock (_gate)
        {
            var result = new List<GpuSourceHistory>();
            foreach (var (source, queue) in _bySource.OrderBy(p => p.Key == Local ? "" : p.Key, StringComparer.Ordinal))
            {
                var readings = queue.Where(s => s.TakenAt >= since).ToList();
                var series = readings
                    .SelectMany(s => s.Devices.Select(d => (s.TakenAt, Device: d)))
                    .GroupBy(x => x.Device.Index)
                    .OrderBy(g => g.Key)
                    .Select(g => new GpuSeries(g.Key, g.Last().Device.Name,
                        [.. g.Select(x => new GpuSample(x.TakenAt, x.Device.UtilizationGpuPercent, x.Device.MemoryUsedBytes, x.Device.MemoryTotalBytes, x.Device.TemperatureCelsius))]))
                    .ToList();
                var latest = queue.Count > 0 ? queue.Last() : null;
                result.Add(new GpuSourceHistory(source, series, latest?.State, latest?.Reason));
            }
            return result;
        }
    }
}
