using System.CommandLine;
using System.Text.Json;
using Colab.Daemon.Gpu;
using Colab.Daemon.Hosting;
using Colab.Daemon.Training;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Colab.Daemon.Cli;

/// <summary><c>colab train start|status|logs|stop|resume</c>, <c>colab train --example</c>, and the hidden <c>colab train supervise DIR</c>.</summary>
internal static class TrainCommand
{
    public static Command Create(TextWriter output)
    {
        var train = new Command("train", "Resumable training jobs: supervised, detached (they outlive the editor and the daemon), restarted from the last checkpoint after a crash.");
        var example = new Option<bool>("--example") { Description = "Start the built-in example (a small CNN on scikit-learn's digits) and follow its log." };
        var epochs = new Option<int?>("--epochs") { Description = "Epochs for --example (default 8)." };
        train.Options.Add(example);
        train.Options.Add(epochs);
        train.SetAction(async (parse, ct) =>
        {
            if (!parse.GetValue(example))
            {
                await Console.Error.WriteLineAsync("colab train: give a subcommand (start, status, logs, stop, resume) or --example").ConfigureAwait(false);
                return CommandLine.ExitFailure;
            }
            var python = Environment.GetEnvironmentVariable("COLAB_PYTHON") is { Length: > 0 } p ? p : File.Exists("/usr/bin/python3") ? "/usr/bin/python3" : "python3";
            List<string> command = [python, TrainingJobs.ExampleScript, "--epochs", (parse.GetValue(epochs) ?? 8).ToString(System.Globalization.CultureInfo.InvariantCulture)];
            return await StartAsync(command, null, null, 3, 3, null, 2, 30, null, follow: true, [], output, ct).ConfigureAwait(false);
        });

        var checkpointDir = new Option<string?>("--checkpoint-dir") { Description = "Where checkpoints go (default: the job directory's checkpoints/)." };
        var maxRestarts = new Option<int>("--max-restarts") { Description = "Restarts after abnormal exits before giving up.", DefaultValueFactory = _ => 3 };
        var keep = new Option<int>("--keep") { Description = "Checkpoints to keep.", DefaultValueFactory = _ => 3 };
        var every = new Option<int?>("--checkpoint-every") { Description = "Checkpoint interval hint in steps (COLAB_CHECKPOINT_EVERY)." };
        var backoff = new Option<double>("--backoff") { Description = "Seconds before the first restart; doubles each time (at most 60).", DefaultValueFactory = _ => 2 };
        var grace = new Option<double>("--grace") { Description = "Seconds a stopped worker gets to checkpoint before SIGKILL.", DefaultValueFactory = _ => 30 };
        var id = new Option<string?>("--id") { Description = "The job id (default: generated)." };
        var follow = new Option<bool>("--follow", "-f") { Description = "Follow the log until the job ends." };
        var command = new Argument<string[]>("command") { Description = "The worker command, e.g. -- python3 train.py --lr 0.1", Arity = ArgumentArity.OneOrMore };
        var requireGpu = new Option<string[]>("--require-gpu") { Description = "A GPU model that must be present (repeatable), e.g. --require-gpu A100; otherwise the job is not started.", AllowMultipleArgumentsPerToken = false };
        var mirror = new Option<string?>("--mirror") { Description = "A persistent directory (e.g. a mounted Drive folder) each committed checkpoint is copied to, verified; resume also looks there." };
        var start = new Command("start", "Start a supervised training job; prints its id.") { checkpointDir, maxRestarts, keep, every, backoff, grace, id, follow, requireGpu, mirror, command };
        start.SetAction(async (parse, ct) => await StartAsync(parse.GetValue(command)!, parse.GetValue(checkpointDir), parse.GetValue(id),
            parse.GetValue(maxRestarts), parse.GetValue(keep), parse.GetValue(every), parse.GetValue(backoff), parse.GetValue(grace), null,
            parse.GetValue(follow), parse.GetValue(requireGpu) ?? [], output, ct, parse.GetValue(mirror)).ConfigureAwait(false));
        train.Subcommands.Add(start);

        var json = new Option<bool>("--json") { Description = "Print JSON for scripts." };
        var optionalId = new Argument<string?>("id") { Description = "A job id (default: all jobs).", Arity = ArgumentArity.ZeroOrOne };
        var status = new Command("status", "Show training jobs: state, restarts, last error.") { json, optionalId };
        status.SetAction(async (parse, ct) => await Guard(async () =>
        {
            var jobs = new TrainingJobs(TrainingJobs.DefaultRoot());
            var list = parse.GetValue(optionalId) is { } one ? [jobs.ReadStatus(one)] : jobs.List();
            foreach (var s in list)
            {
                await output.WriteLineAsync(parse.GetValue(json)
                    ? JsonSerializer.Serialize(s, TrainingJson.Default.TrainingJobStatus).ReplaceLineEndings("")
                    : Describe(s)).ConfigureAwait(false);
            }
            return CommandLine.ExitOk;
        }).ConfigureAwait(false));
        train.Subcommands.Add(status);

        var jobId = new Argument<string>("id") { Description = "The job id." };
        var logsFollow = new Option<bool>("--follow", "-f") { Description = "Keep printing until the job ends." };
        var logs = new Command("logs", "Print a job's log (worker output and supervisor events).") { logsFollow, jobId };
        logs.SetAction(async (parse, ct) => await Guard(() => LogsAsync(new TrainingJobs(TrainingJobs.DefaultRoot()), parse.GetValue(jobId)!, parse.GetValue(logsFollow), output, ct)).ConfigureAwait(false));
        train.Subcommands.Add(logs);

        var stopId = new Argument<string>("id") { Description = "The job id." };
        var stop = new Command("stop", "Stop a job: SIGTERM, the grace period for a last checkpoint, then SIGKILL. Waits until it has stopped.") { stopId };
        stop.SetAction(async (parse, ct) => await Guard(async () =>
        {
            var jobs = new TrainingJobs(TrainingJobs.DefaultRoot());
            var name = parse.GetValue(stopId)!;
            jobs.RequestStop(name);
            var spec = jobs.ReadSpec(name);
            var s = await jobs.WaitFinalAsync(name, TimeSpan.FromSeconds(spec.GraceSeconds + 30), ct).ConfigureAwait(false);
            await output.WriteLineAsync(Describe(s)).ConfigureAwait(false);
            return TrainingStates.IsFinal(s.State) ? CommandLine.ExitOk : CommandLine.ExitFailure;
        }).ConfigureAwait(false));
        train.Subcommands.Add(stop);

        var resumeId = new Argument<string>("id") { Description = "The job id." };
        var resumeFollow = new Option<bool>("--follow", "-f") { Description = "Follow the log until the job ends." };
        var resume = new Command("resume", "Supervise a stopped, failed or lost job again; the worker resumes from its newest verified checkpoint.") { resumeFollow, resumeId };
        resume.SetAction(async (parse, ct) => await Guard(async () =>
        {
            var jobs = new TrainingJobs(TrainingJobs.DefaultRoot());
            var name = parse.GetValue(resumeId)!;
            var s = await jobs.LaunchAsync(name, TrainingJobs.SelfCommand(), ct).ConfigureAwait(false);
            await output.WriteLineAsync(Describe(s)).ConfigureAwait(false);
            return parse.GetValue(resumeFollow) ? await LogsAsync(jobs, name, true, output, ct).ConfigureAwait(false) : CommandLine.ExitOk;
        }).ConfigureAwait(false));
        train.Subcommands.Add(resume);

        var dir = new Argument<string>("dir");
        var webhookStdin = new Option<bool>(TrainingJobs.WebhookStdinOption) { Description = "Read the webhook URL from the first line of stdin." };
        var supervise = new Command("supervise", "Internal: the detached supervisor of one job directory.") { dir, webhookStdin };
        supervise.Hidden = true;
        supervise.SetAction(async (parse, ct) => await Guard(async () =>
        {
            var webhook = parse.GetValue(webhookStdin) ? await TrainingJobs.ReadWebhookAsync(Console.In).ConfigureAwait(false) : null;
            return await new Supervisor(parse.GetValue(dir)!, Console.Error, webhook).RunAsync().ConfigureAwait(false);
        }).ConfigureAwait(false));
        train.Subcommands.Add(supervise);
        return train;
    }

    private static async Task<int> StartAsync(IReadOnlyList<string> command, string? checkpointDir, string? id, int maxRestarts, int keep, int? every,
        double backoff, double grace, IReadOnlyDictionary<string, string>? env, bool follow, IReadOnlyList<string> requireGpu, TextWriter output, CancellationToken ct, string? mirror = null)
        => await Guard(async () =>
        {
            IReadOnlyList<string> required;
            try
            {
                required = GpuCheck.ValidateRequired(requireGpu);
            }
            catch (ArgumentException e)
            {
                throw new TrainingException(e.Message);
            }
            if (required.Count > 0)
            {
                using var host = DaemonHost.CreateBuilder([], LogLevel.Warning).Build();
                await TrainingService.RequireGpuAsync(host.Services.GetRequiredService<GpuService>(), required, null, ct).ConfigureAwait(false);
            }
            var jobs = new TrainingJobs(TrainingJobs.DefaultRoot());
            var spec = jobs.Create(command, null, checkpointDir, maxRestarts, keep, every, backoff, grace, env, id, requiredGpu: required, mirror: mirror);
            var s = await jobs.LaunchAsync(spec.Id, TrainingJobs.SelfCommand(), ct).ConfigureAwait(false);
            await output.WriteLineAsync(spec.Id).ConfigureAwait(false);
            await Console.Error.WriteLineAsync($"colab train: job {spec.Id} {s.State} (supervisor pid {s.SupervisorPid}); checkpoints in {spec.CheckpointDirectory}").ConfigureAwait(false);
            return follow ? await LogsAsync(jobs, spec.Id, true, output, ct).ConfigureAwait(false) : CommandLine.ExitOk;
        }).ConfigureAwait(false);

    private static async Task<int> LogsAsync(TrainingJobs jobs, string id, bool follow, TextWriter output, CancellationToken ct)
    {
        var path = Path.Combine(jobs.DirectoryOf(id), TrainingJobs.WorkerLog);
        _ = jobs.ReadStatus(id);
        long offset = 0;
        var buffer = new byte[65536];
        while (true)
        {
            var final = TrainingStates.IsFinal(jobs.ReadStatus(id).State);
            if (File.Exists(path))
            {
                using var f = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
                f.Seek(offset, SeekOrigin.Begin);
                int n;
                while ((n = await f.ReadAsync(buffer, ct).ConfigureAwait(false)) > 0)
                {
                    await output.WriteAsync(System.Text.Encoding.UTF8.GetString(buffer, 0, n)).ConfigureAwait(false);
                    offset += n;
                }
                await output.FlushAsync(ct).ConfigureAwait(false);
            }
            if (!follow || final)
            {
                var s = jobs.ReadStatus(id);
                if (follow)
                {
                    await output.WriteLineAsync(Describe(s)).ConfigureAwait(false);
                }
                return s.State is TrainingStates.Failed or TrainingStates.Lost ? CommandLine.ExitFailure : CommandLine.ExitOk;
            }
            await Task.Delay(200, ct).ConfigureAwait(false);
        }
    }

    internal static string Describe(TrainingJobStatus s)
        => $"{s.Id}  {s.State}  restarts {s.Restarts}/{s.MaxRestarts}" +
           (s.WorkerPid is int w ? $"  worker pid {w}" : "") +
           (s.LastExitCode is int c && c != 0 ? $"  last exit {c}" : "") +
           (s.MirroredStep is long m ? $"  mirrored step {m}" : "") +
           (s.MirrorError is { } me ? $"\n  {me}" : "") +
           (s.LastError is { } e && s.State != TrainingStates.Succeeded ? $"\n  {e}" : "");

    private static async Task<int> Guard(Func<Task<int>> action)
    {
        try
        {
            return await action().ConfigureAwait(false);
        }
        catch (Exception e) when (e is TrainingException or CheckpointException or IOException or UnauthorizedAccessException)
        {
            await Console.Error.WriteLineAsync($"colab train: {e.Message}").ConfigureAwait(false);
            return CommandLine.ExitFailure;
        }
    }
}
