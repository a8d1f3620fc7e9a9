using System.Diagnostics;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace Colab.Daemon.Training;

/// <summary>What to run: written once to <c>job.json</c> in the job directory.</summary>
public sealed record TrainingJobSpec(
    string Id,
    IReadOnlyList<string> Command,
    string WorkingDirectory,
    string CheckpointDirectory,
    int MaxRestarts,
    int CheckpointKeep,
    int? CheckpointEvery,
    double BackoffSeconds,
    double GraceSeconds,
    IReadOnlyDictionary<string, string>? Environment,
    DateTimeOffset CreatedAt,
    IReadOnlyList<string>? RequiredGpu = null,
    string? OnDone = null,
    string? RuntimeId = null,
    bool Webhook = false,
    RemoteJobSpec? Remote = null,
    string? Mirror = null);

/// <summary>What happens when a job ends, besides the editor's notification (<c>onDone</c> in <c>colab/train/start</c>).</summary>
public static class TrainingOnDone
{
    public const string Notify = "notify";
    public const string Disconnect = "disconnect";
}

public static class TrainingStates
{
    public const string Starting = "starting";
    public const string Running = "running";
    public const string Restarting = "restarting";
    public const string Succeeded = "succeeded";
    public const string Failed = "failed";
    public const string Stopped = "stopped";
    public const string Lost = "lost";

    public static bool IsFinal(string state) => state is Succeeded or Failed or Stopped or Lost;
}

/// <summary>The supervisor's view of a job: <c>status.json</c>, replaced atomically on every change.</summary>
public sealed record TrainingJobStatus(
    string Id,
    string State,
    int? SupervisorPid,
    int? WorkerPid,
    int Restarts,
    int MaxRestarts,
    int? LastExitCode,
    string? LastError,
    DateTimeOffset StartedAt,
    DateTimeOffset UpdatedAt,
    long? MirroredStep = null,
    string? MirrorError = null);

[JsonSourceGenerationOptions(
    PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase,
    DefaultIgnoreCondition = JsonIgnoreCondition.Never,
    WriteIndented = true,
    RespectNullableAnnotations = true,
    RespectRequiredConstructorParameters = true)]
[JsonSerializable(typeof(TrainingJobSpec))]
[JsonSerializable(typeof(TrainingJobStatus))]
internal sealed partial class TrainingJson : JsonSerializerContext;

/// <summary>A training-job error the user can act on (bad id, bad spec, job not running, …).</summary>
public class TrainingException(string message) : Exception(message);

/// <summary>The required GPU is not there: the job was not started (error <c>TrainGpuMismatch</c>).</summary>
public sealed class TrainingGpuMismatchException(string message) : TrainingException(message);

/// <summary>
/// Jobs on this host, one directory each under <see cref="Root"/>: <c>job.json</c> (the spec),
/// <c>status.json</c>, <c>worker.log</c>, <c>metrics.jsonl</c>, <c>supervisor.log</c>. The supervisor
/// is this program (<c>colab train supervise DIR</c>) started in its own session, so it outlives
/// the daemon and the editor; anyone can re-attach by reading the directory and checking the pid.
/// </summary>
public sealed partial class TrainingJobs(string root)
{
    public const string SpecFile = "job.json";
    public const string StatusFile = "status.json";
    public const string WorkerLog = "worker.log";
    public const string MetricsFile = "metrics.jsonl";
    public const string SupervisorLog = "supervisor.log";

    public string Root { get; } = Path.GetFullPath(root);

    /// <summary><c>$COLAB_TRAINING_JOBS</c>, else <c>$XDG_STATE_HOME/colab/jobs</c>, else <c>~/.local/state/colab/jobs</c>.</summary>
    public static string DefaultRoot()
    {
        if (Environment.GetEnvironmentVariable("COLAB_TRAINING_JOBS") is { Length: > 0 } configured)
        {
            return configured;
        }
        var state = Environment.GetEnvironmentVariable("XDG_STATE_HOME") is { Length: > 0 } x
            ? x
            : Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".local", "state");
        return Path.Combine(state, "colab", "jobs");
    }

    /// <summary>Where <c>colab_resume.py</c> lives next to the daemon; it goes on the worker's PYTHONPATH.</summary>
    public static string PythonHelperDirectory => Path.Combine(AppContext.BaseDirectory, "Training", "python");

    public static string ExampleScript => Path.Combine(PythonHelperDirectory, "examples", "train_digits.py");

    public string DirectoryOf(string id)
    {
        if (!IsValidId(id))
        {
            throw new TrainingException($"'{id}' is not a training job id");
        }
        return Path.Combine(Root, id);
    }

    public static bool IsValidId(string id)
        => id.Length is > 0 and <= 64 && id.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_') && id[0] != '-';

    /// <summary>Creates the job directory and spec. The id is generated when none is given.</summary>
    public TrainingJobSpec Create(IReadOnlyList<string> command, string? workingDirectory, string? checkpointDirectory,
        int maxRestarts = 3, int keep = 3, int? every = null, double backoffSeconds = 2, double graceSeconds = 30,
        IReadOnlyDictionary<string, string>? environment = null, string? id = null,
        IReadOnlyList<string>? requiredGpu = null, string? onDone = null, string? runtimeId = null, bool webhook = false, RemoteJobSpec? remote = null, string? mirror = null)
    {
        if (command.Count == 0 || string.IsNullOrWhiteSpace(command[0]))
        {
            throw new TrainingException("no command to run");
        }
        ArgumentOutOfRangeException.ThrowIfNegative(maxRestarts);
        id ??= NewId();
        var dir = DirectoryOf(id);
        if (Directory.Exists(dir))
        {
            throw new TrainingException($"training job '{id}' already exists");
        }
        var work = Path.GetFullPath(workingDirectory ?? Environment.CurrentDirectory);
        var checkpoints = Path.GetFullPath(checkpointDirectory ?? Path.Combine(dir, "checkpoints"));
        if (mirror is not null)
        {
            mirror = CheckpointMirror.Validate(mirror, work, checkpoints, dir);
            try
            {
                Directory.CreateDirectory(mirror);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                throw new TrainingException($"cannot create the mirror directory {mirror}: {e.Message}");
            }
        }
        Directory.CreateDirectory(dir);
        var spec = new TrainingJobSpec(id, command, work, checkpoints, maxRestarts, keep, every, backoffSeconds, graceSeconds,
            environment, DateTimeOffset.UtcNow, requiredGpu is { Count: > 0 } ? requiredGpu : null, onDone, runtimeId, webhook, remote, mirror);
        WriteAtomic(Path.Combine(dir, SpecFile), JsonSerializer.SerializeToUtf8Bytes(spec, TrainingJson.Default.TrainingJobSpec));
        WriteStatus(dir, new TrainingJobStatus(id, TrainingStates.Starting, null, null, 0, maxRestarts, null, null, spec.CreatedAt, spec.CreatedAt));
        return spec;
    }

    public static string NewId() => $"{DateTime.UtcNow:yyyyMMdd-HHmmss}-{Convert.ToHexStringLower(Guid.NewGuid().ToByteArray())[..6]}";

    public TrainingJobSpec ReadSpec(string id)
    {
        var path = Path.Combine(DirectoryOf(id), SpecFile);
        try
        {
            return JsonSerializer.Deserialize(File.ReadAllBytes(path), TrainingJson.Default.TrainingJobSpec)
                ?? throw new TrainingException($"{path} is empty");
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            throw new TrainingException($"no training job '{id}'");
        }
        catch (JsonException e)
        {
            throw new TrainingException($"{path} is not a valid job spec: {e.Message}");
        }
    }

    /// <summary>The job's status as its supervisor last wrote it, corrected to <c>lost</c> when the supervisor died without saying so.</summary>
    public TrainingJobStatus ReadStatus(string id)
    {
        var path = Path.Combine(DirectoryOf(id), StatusFile);
        TrainingJobStatus? s;
        try
        {
            s = JsonSerializer.Deserialize(File.ReadAllBytes(path), TrainingJson.Default.TrainingJobStatus);
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            throw new TrainingException($"no training job '{id}'");
        }
        catch (JsonException e)
        {
            throw new TrainingException($"{path} is not a valid job status: {e.Message}");
        }
        if (s is null)
        {
            throw new TrainingException($"{path} is empty");
        }
        if (!TrainingStates.IsFinal(s.State) && s.SupervisorPid is int pid && !IsAlive(pid))
        {
            return s with { State = TrainingStates.Lost, LastError = s.LastError ?? "the supervisor is gone (host restart?); `colab train resume` continues from the last checkpoint" };
        }
        return s;
    }

    public IReadOnlyList<TrainingJobStatus> List()
    {
        if (!Directory.Exists(Root))
        {
            return [];
        }
        var list = new List<TrainingJobStatus>();
        foreach (var dir in Directory.EnumerateDirectories(Root).Order(StringComparer.Ordinal))
        {
            var id = Path.GetFileName(dir);
            if (IsValidId(id) && File.Exists(Path.Combine(dir, StatusFile)))
            {
                try
                {
                    list.Add(ReadStatus(id));
                }
                catch (TrainingException)
                {
                    // a half-written or foreign directory: not a job we can show
                }
            }
        }
        return list;
    }

    /// <summary>Starts the detached supervisor for a job (new session, stdio to supervisor.log) and waits until it has taken the job.</summary>
    /// <param name="webhookUrl">The job's webhook, a secret: written to the supervisor's stdin (a pipe), never to a file or argv.</param>
    public async Task<TrainingJobStatus> LaunchAsync(string id, IReadOnlyList<string> colab, CancellationToken cancellationToken, string? webhookUrl = null)
    {
        var dir = DirectoryOf(id);
        if (ReadSpec(id).Remote is not null)
        {
            throw new TrainingException($"training job '{id}' runs on a remote runtime: the daemon supervises it while that runtime is connected (it re-attaches on connect)");
        }
        var before = ReadStatus(id);
        if (!TrainingStates.IsFinal(before.State) && before.SupervisorPid is int running && IsAlive(running))
        {
            throw new TrainingException($"training job '{id}' is already supervised (pid {running})");
        }
        var start = new ProcessStartInfo("/bin/sh") { UseShellExecute = false, RedirectStandardInput = true };
        // sh forks setsid in the background and exits: the supervisor is re-parented to init, has its own
        // session and process group, and its stdio never touches the daemon's protocol stream. Its stdin
        // is sh's (a pipe from here; fd 3 because an asynchronous list's own stdin is /dev/null): the
        // webhook URL, when there is one, travels that way and nowhere else.
        start.ArgumentList.Add("-c");
        start.ArgumentList.Add("d=\"$1\"; w=\"$2\"; shift 2; exec 3<&0; setsid \"$@\" train supervise \"$d\" ${w:+\"$w\"} <&3 3<&- >>\"$d/supervisor.log\" 2>&1 &");
        start.ArgumentList.Add("colab-supervise");
        start.ArgumentList.Add(dir);
        start.ArgumentList.Add(string.IsNullOrEmpty(webhookUrl) ? "" : WebhookStdinOption);
        foreach (var a in colab)
        {
            start.ArgumentList.Add(a);
        }
        using (var sh = Process.Start(start) ?? throw new TrainingException("could not start the supervisor"))
        {
            try
            {
                if (!string.IsNullOrEmpty(webhookUrl))
                {
                    await sh.StandardInput.WriteLineAsync(webhookUrl.AsMemory(), cancellationToken).ConfigureAwait(false);
                }
                sh.StandardInput.Close();
            }
            catch (IOException)
            {
                // sh is gone already: the status wait below says what happened
            }
            await sh.WaitForExitAsync(cancellationToken).ConfigureAwait(false);
        }
        var deadline = DateTime.UtcNow.AddSeconds(60);
        while (DateTime.UtcNow < deadline)
        {
            var s = ReadStatus(id);
            if (s.SupervisorPid is int pid && pid != before.SupervisorPid && s.UpdatedAt > before.UpdatedAt)
            {
                return s;
            }
            await Task.Delay(50, cancellationToken).ConfigureAwait(false);
        }
        var log = Path.Combine(dir, SupervisorLog);
        throw new TrainingException($"the supervisor did not start within 60 s; see {log}: {Tail(log, 5)}");
    }

    /// <summary>The supervisor's option that makes it read the webhook URL from its first stdin line.</summary>
    public const string WebhookStdinOption = "--webhook-stdin";

    /// <summary>The first line of <paramref name="input"/> (the webhook URL), or null after 10 s or at end of input.</summary>
    public static async Task<string?> ReadWebhookAsync(TextReader input)
    {
        var read = input.ReadLineAsync();
        var done = await Task.WhenAny(read, Task.Delay(TimeSpan.FromSeconds(10))).ConfigureAwait(false);
        return done == read && await read.ConfigureAwait(false) is { Length: > 0 } url ? url.Trim() : null;
    }

    /// <summary>The command line that runs this program again: the apphost, or <c>dotnet colab.dll</c>.</summary>
    public static IReadOnlyList<string> SelfCommand()
    {
        var process = Environment.ProcessPath ?? throw new TrainingException("cannot tell where the colab program is");
        return Path.GetFileNameWithoutExtension(process) == "dotnet"
            ? [process, Path.Combine(AppContext.BaseDirectory, "colab.dll")]
            : [process];
    }

    /// <summary>Asks the supervisor to stop (SIGTERM: it passes SIGTERM on, waits the grace period, then SIGKILL).</summary>
    public TrainingJobStatus RequestStop(string id)
    {
        var s = ReadStatus(id);
        if (TrainingStates.IsFinal(s.State))
        {
            return s;
        }
        if (ReadSpec(id).Remote is not null)
        {
            throw new TrainingException($"training job '{id}' runs on a remote runtime: stop it from the editor (colab/train/stop) while its runtime is connected");
        }
        if (s.SupervisorPid is int pid && Kill(pid, SigTerm) != 0)
        {
            throw new TrainingException($"could not signal the supervisor of '{id}' (pid {pid}, errno {Marshal.GetLastPInvokeError()})");
        }
        return s;
    }

    public async Task<TrainingJobStatus> WaitFinalAsync(string id, TimeSpan timeout, CancellationToken cancellationToken)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (true)
        {
            var s = ReadStatus(id);
            if (TrainingStates.IsFinal(s.State) || DateTime.UtcNow > deadline)
            {
                return s;
            }
            await Task.Delay(100, cancellationToken).ConfigureAwait(false);
        }
    }

    internal static void WriteStatus(string dir, TrainingJobStatus status)
        => WriteAtomic(Path.Combine(dir, StatusFile), JsonSerializer.SerializeToUtf8Bytes(status, TrainingJson.Default.TrainingJobStatus));

    internal static void WriteAtomic(string path, byte[] bytes)
    {
        var tmp = $"{path}.tmp-{Environment.ProcessId}";
        using (var f = new FileStream(tmp, FileMode.Create, FileAccess.Write))
        {
            f.Write(bytes);
            f.Flush(flushToDisk: true);
        }
        File.Move(tmp, path, overwrite: true);
    }

    internal static string Tail(string path, int lines)
    {
        try
        {
            var all = File.ReadAllLines(path);
            return string.Join('\n', all.Skip(Math.Max(0, all.Length - lines)));
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return "";
        }
    }

    public static bool IsAlive(int pid)
        => pid > 0 && (Kill(pid, 0) == 0 || Marshal.GetLastPInvokeError() == 1 /* EPERM: exists */) && !IsZombie(pid);

    private static bool IsZombie(int pid)
    {
        try
        {
            var stat = File.ReadAllText($"/proc/{pid}/stat");
            var close = stat.LastIndexOf(')');
            return close > 0 && close + 2 < stat.Length && stat[close + 2] == 'Z';
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return false;
        }
    }

    internal const int SigTerm = 15;
    internal const int SigKill = 9;

    [LibraryImport("libc", EntryPoint = "kill", SetLastError = true)]
    internal static partial int Kill(int pid, int signal);
}
