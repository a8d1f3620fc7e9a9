using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Primitives;

namespace Colab.Daemon.Hosting;

/// <summary>
/// The daemon's and the CLI's settings: <c>COLAB_</c> environment variables (prefix dropped, <c>__</c> for
/// <c>:</c>, so <c>COLAB_PYTHON</c> is <c>Python</c> and <c>COLAB_GITHUB__BASEURL</c> is <c>GitHub:BaseUrl</c>),
/// then <c>--Key=value</c> arguments over them; keys compare without case. It is the
/// <see cref="IConfiguration"/> the services take, read by key (<c>settings["Python"]</c>).
/// </summary>
/// <remarks>
/// Issue 8 (idle memory, sixth round): it replaces <c>Microsoft.Extensions.Configuration</c>'s builder, root
/// and providers (with <c>Microsoft.Extensions.Hosting</c>, whose builder brought them) for a process that
/// reads a dozen keys once. The argument grammar is the command-line provider's: <c>--Key=value</c>,
/// <c>--Key value</c>, <c>/Key=value</c>, <c>/Key value</c>, <c>Key=value</c>; a bare <c>-k</c> or <c>-k=v</c>
/// is ignored (that provider ignored the one and threw on the other, which ended the daemon before it
/// could answer). The settings never change after start: <see cref="GetReloadToken"/> never fires.
/// </remarks>
public sealed class ColabSettings : IConfiguration
{
    /// <summary>The environment variables read, by this prefix (any case).</summary>
    public const string EnvironmentPrefix = "COLAB_";

    private readonly Dictionary<string, string?> _values = new(StringComparer.OrdinalIgnoreCase);

    /// <summary>Empty settings (the CLI commands that take nothing from the environment).</summary>
    public ColabSettings()
    {
    }

    /// <summary>The settings from these environment variables, then these arguments over them.</summary>
    public ColabSettings(System.Collections.IDictionary environment, IReadOnlyList<string> args)
    {
        foreach (System.Collections.DictionaryEntry e in environment)
        {
            if (e.Key is string name && e.Value is string value)
            {
                var key = name.Replace("__", ConfigurationPath.KeyDelimiter, StringComparison.Ordinal);
                if (key.Length > EnvironmentPrefix.Length && key.StartsWith(EnvironmentPrefix, StringComparison.OrdinalIgnoreCase))
                {
                    _values[key[EnvironmentPrefix.Length..]] = value;
                }
            }
        }
        AddArguments(args);
    }

    /// <summary>This process's <c>COLAB_</c> environment variables, then <paramref name="args"/>.</summary>
    public static ColabSettings FromEnvironment(IReadOnlyList<string> args)
        => new(Environment.GetEnvironmentVariables(), args);

    public string? this[string key]
    {
        get => _values.GetValueOrDefault(key);
        set => _values[key] = value;
    }

    public IConfigurationSection GetSection(string key) => new Section(this, key);

    public IEnumerable<IConfigurationSection> GetChildren() => ChildrenOf(null);

    public IChangeToken GetReloadToken() => NeverChanges.Instance;

    private void AddArguments(IReadOnlyList<string> args)
    {
        for (var i = 0; i < args.Count; i++)
        {
            var arg = args[i];
            int start;
            if (arg.StartsWith("--", StringComparison.Ordinal))
            {
                start = 2;
            }
            else if (arg.StartsWith('-'))
            {
                // A short switch: the provider knew them only through a mapping, and there is none.
                continue;
            }
            else if (arg.StartsWith('/'))
            {
                start = 1;
            }
            else
            {
                start = 0;
            }
            var separator = arg.IndexOf('=', StringComparison.Ordinal);
            if (separator < 0)
            {
                if (start == 0 || i + 1 >= args.Count)
                {
                    continue;
                }
                _values[arg[start..]] = args[++i];
            }
            else
            {
                _values[arg[start..separator]] = arg[(separator + 1)..];
            }
        }
    }

    private IEnumerable<IConfigurationSection> ChildrenOf(string? path)
    {
        var prefix = path is null ? "" : path + ConfigurationPath.KeyDelimiter;
        var names = new SortedSet<string>(StringComparer.OrdinalIgnoreCase);
        foreach (var key in _values.Keys)
        {
            if (key.Length > prefix.Length && key.StartsWith(prefix, StringComparison.OrdinalIgnoreCase))
            {
                var rest = key[prefix.Length..];
                var end = rest.IndexOf(ConfigurationPath.KeyDelimiter, StringComparison.Ordinal);
                names.Add(end < 0 ? rest : rest[..end]);
            }
        }
        return names.Select(n => (IConfigurationSection)new Section(this, prefix + n)).ToList();
    }

    private sealed class Section(ColabSettings root, string path) : IConfigurationSection
    {
        public string Key => ConfigurationPath.GetSectionKey(path);

        public string Path => path;

        public string? Value
        {
            get => root[path];
            set => root[path] = value;
        }

        public string? this[string key]
        {
            get => root[ConfigurationPath.Combine(path, key)];
            set => root[ConfigurationPath.Combine(path, key)] = value;
        }

        public IConfigurationSection GetSection(string key) => new Section(root, ConfigurationPath.Combine(path, key));

        public IEnumerable<IConfigurationSection> GetChildren() => root.ChildrenOf(path);

        public IChangeToken GetReloadToken() => NeverChanges.Instance;
    }

    private sealed class NeverChanges : IChangeToken, IDisposable
    {
        public static readonly NeverChanges Instance = new();

        public bool HasChanged => false;

        public bool ActiveChangeCallbacks => false;

        public IDisposable RegisterChangeCallback(Action<object?> callback, object? state) => this;

        public void Dispose()
        {
        }
    }
}
