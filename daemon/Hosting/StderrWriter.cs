using System.Text;

namespace Colab.Daemon.Hosting;

/// <summary>
/// What <see cref="Console.Out"/> is in the daemon: everything written to it goes to
/// <see cref="Console.Error"/>, which is set up on the first write instead of at start (issue 8,
/// cold start). stdout belongs to the protocol (architecture invariant 4).
/// </summary>
internal sealed class StderrWriter : TextWriter
{
    public override Encoding Encoding => Console.Error.Encoding;

    public override IFormatProvider FormatProvider => Console.Error.FormatProvider;

    [System.Diagnostics.CodeAnalysis.AllowNull]
    public override string NewLine
    {
        get => Console.Error.NewLine;
        set => Console.Error.NewLine = value;
    }

    public override void Write(char value) => Console.Error.Write(value);

    public override void Write(char[] buffer, int index, int count) => Console.Error.Write(buffer, index, count);

    public override void Write(ReadOnlySpan<char> buffer) => Console.Error.Write(buffer);

    public override void Write(string? value) => Console.Error.Write(value);

    public override void WriteLine() => Console.Error.WriteLine();

    public override void WriteLine(string? value) => Console.Error.WriteLine(value);

    public override void WriteLine(ReadOnlySpan<char> buffer) => Console.Error.WriteLine(buffer);

    public override void Flush() => Console.Error.Flush();

    public override Task FlushAsync() => Console.Error.FlushAsync();
}
