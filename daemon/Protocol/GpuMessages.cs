namespace Colab.Daemon.Protocol;

/// <summary><c>colab/gpu/watch</c>: start (<c>enabled</c>) or stop polling; the interval is clamped to 250 ms … 10 min.</summary>
public sealed record GpuWatchParams(bool Enabled, int? IntervalMs = null);

public sealed record GpuWatchResult(bool Enabled, int IntervalMs);
