namespace Colab.Daemon.Tests.Infrastructure;

/// <summary>
/// The one timeout every wait in this suite shares. Tests synchronise on
/// <see cref="TaskCompletionSource"/>s and answers, never on sleeps; this only bounds
/// how long a broken test hangs before it fails.
/// </summary>
internal static class TestTimeouts
{
    public static readonly TimeSpan Default = TimeSpan.FromSeconds(30);

    public static async Task<T> Within<T>(this Task<T> task, string what)
    {
        try
        {
            return await task.WaitAsync(Default);
        }
        catch (TimeoutException)
        {
            throw new TimeoutException($"Timed out after {Default.TotalSeconds:0} s waiting for {what}.");
        }
    }

    public static async Task Within(this Task task, string what)
    {
        try
        {
            await task.WaitAsync(Default);
        }
        catch (TimeoutException)
        {
            throw new TimeoutException($"Timed out after {Default.TotalSeconds:0} s waiting for {what}.");
        }
    }
}
