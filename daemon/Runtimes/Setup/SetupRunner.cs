using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Colab.Daemon.Runtimes.Setup;

/// <summary>What a setup run did.</summary>
/// <param name="Ran">False when the marker showed the same commands already succeeded on this runtime.</param>
/// <param name="Ok">Every command exited 0 (true too when skipped).</param>
/// <param name="Output">The commands' output (stdout and stderr, the last 64 KiB).</param>
/// <param name="Marker">The marker file on the runtime (in the kernel user's home).</param>
public sealed record SetupResult(bool Ran, bool Ok, string Output, string Marker);

/// <summary>
/// Runs the user's setup commands (e.g. <c>pip install …</c>) once per runtime: in a
/// short-lived kernel that checks for <c>~/.colab-vscode/setup-&lt;hash of the commands&gt;</c>,
/// runs each command with the shell, stops at the first failure, and writes the marker only
/// when all succeeded. Changing the commands changes the hash, so they run again; a kernel
/// restart does not remove the marker, so they are skipped.
/// </summary>
public sealed class SetupRunner(RuntimeManager runtimes, ILogger<SetupRunner>? logger = null)
{
    private const int MaxOutputChars = 64 * 1024;
    private readonly ILogger _logger = (ILogger?)logger ?? NullLogger.Instance;

    /// <summary>The marker name for a list of commands (order and text matter).</summary>
    public static string MarkerName(IReadOnlyList<string> commands)
        => "setup-" + Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(string.Join("\n", commands))))[..16];

    /// <param name="onOutput">Each piece of output as the commands print it.</param>
    public async Task<SetupResult> RunAsync(string runtimeId, IReadOnlyList<string> commands, bool force, Action<string>? onOutput = null, CancellationToken cancellationToken = default)
    {
        if (commands.Count == 0)
        {
            throw new ArgumentException("no setup commands given (setting colab.runtime.setupCommands)");
        }
        if (commands.Count > 100 || commands.Any(c => string.IsNullOrWhiteSpace(c) || c.Length > 10_000 || c.Contains('\0')))
        {
            throw new ArgumentException("setup commands must be 1…100 non-empty lines of at most 10,000 characters");
        }
        var marker = MarkerName(commands);
        var kernel = await runtimes.StartKernelAsync(runtimeId, cancellationToken: cancellationToken).ConfigureAwait(false);
        try
        {
            var connection = await runtimes.OpenKernelAsync(runtimeId, kernel.Id, cancellationToken).ConfigureAwait(false);
            var code = Script(commands, marker, force);
            var execution = await connection.ExecuteAsync(code, new ExecuteOptions { StoreHistory = false }, cancellationToken).ConfigureAwait(false);
            var output = new StringBuilder();
            string? status = null;
            await foreach (var item in execution.ReadOutputsAsync(cancellationToken).ConfigureAwait(false))
            {
                if (item is StreamOutput s)
                {
                    var text = s.Text;
                    // The script's last line says how it went; it is not the user's output.
                    var at = text.IndexOf("\u0001colab-setup:", StringComparison.Ordinal);
                    if (at >= 0)
                    {
                        var end = text.IndexOf('\n', at);
                        status = text[(at + 13)..(end < 0 ? text.Length : end)].Trim();
                        text = text[..at] + (end < 0 ? "" : text[(end + 1)..]);
                    }
                    if (text.Length > 0)
                    {
                        output.Append(text);
                        if (output.Length > MaxOutputChars)
                        {
                            output.Remove(0, output.Length - MaxOutputChars);
                        }
                        onOutput?.Invoke(text);
                    }
                }
                else if (item is ErrorOutput e)
                {
                    output.Append($"{e.Ename}: {e.Evalue}\n");
                }
            }
            await execution.Completion.WaitAsync(cancellationToken).ConfigureAwait(false);
            var result = status switch
            {
                "skipped" => new SetupResult(false, true, output.ToString(), $"~/.colab-vscode/{marker}"),
                "ok" => new SetupResult(true, true, output.ToString(), $"~/.colab-vscode/{marker}"),
                _ => new SetupResult(true, false, output.ToString(), $"~/.colab-vscode/{marker}"),
            };
            _logger.LogInformation("setup on {Runtime}: {Status}", runtimeId, status ?? "failed");
            return result;
        }
        finally
        {
            try
            {
                await runtimes.ShutdownKernelAsync(runtimeId, kernel.Id, CancellationToken.None).ConfigureAwait(false);
            }
            catch (JupyterException e)
            {
                _logger.LogInformation("setup on {Runtime}: could not shut down its kernel: {Error}", runtimeId, e.Message);
            }
        }
    }

    /// <summary>The Python the setup kernel runs; the commands travel as a JSON literal, never spliced into code.</summary>
    internal static string Script(IReadOnlyList<string> commands, string marker, bool force)
    {
        var json = JsonSerializer.Serialize(commands, SetupJson.Default.IReadOnlyListString);
        return $$"""
            import json as _j, os as _o, subprocess as _s, sys as _y
            _cmds = _j.loads({{JsonSerializer.Serialize(json, SetupJson.Default.String)}})
            _dir = _o.path.join(_o.path.expanduser("~"), ".colab-vscode")
            _marker = _o.path.join(_dir, "{{marker}}")
            def _colab_setup():
                if {{(force ? "False" : "True")}} and _o.path.exists(_marker):
                    print("\x01colab-setup:skipped", flush=True)
                    return
                for _c in _cmds:
                    print("$ " + _c, flush=True)
                    _p = _s.Popen(_c, shell=True, stdout=_s.PIPE, stderr=_s.STDOUT, text=True, errors="replace", bufsize=1)
                    for _line in _p.stdout:
                        print(_line, end="", flush=True)
                    if _p.wait() != 0:
                        print("command failed with exit code %d: %s" % (_p.returncode, _c), flush=True)
                        print("\x01colab-setup:failed", flush=True)
                        return
                _o.makedirs(_dir, exist_ok=True)
                with open(_marker, "w") as _f:
                    _f.write("\n".join(_cmds) + "\n")
                print("\x01colab-setup:ok", flush=True)
            _colab_setup()
            """;
    }
}

[System.Text.Json.Serialization.JsonSerializable(typeof(IReadOnlyList<string>))]
[System.Text.Json.Serialization.JsonSerializable(typeof(string))]
internal sealed partial class SetupJson : System.Text.Json.Serialization.JsonSerializerContext;
