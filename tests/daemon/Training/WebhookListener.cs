using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;

namespace Colab.Daemon.Tests.Training;

/// <summary>A real local HTTP server (HttpListener) that records every request a webhook makes.</summary>
internal sealed class WebhookListener : IDisposable
{
    private readonly HttpListener _listener = new();
    private readonly Task _loop;
    private readonly CancellationTokenSource _stop = new();

    /// <param name="status">What every request is answered with.</param>
    /// <param name="delay">How long to wait before answering (a slow or dead service).</param>
    /// <param name="location">A Location header (for redirects).</param>
    public WebhookListener(int status = 200, TimeSpan? delay = null, string? location = null)
    {
        Status = status;
        for (var attempt = 0; ; attempt++)
        {
            Port = FreePort();
            _listener.Prefixes.Clear();
            _listener.Prefixes.Add($"http://127.0.0.1:{Port}/");
            try
            {
                _listener.Start();
                break;
            }
            catch (HttpListenerException) when (attempt < 5)
            {
            }
        }
        _loop = Task.Run(() => LoopAsync(delay ?? TimeSpan.Zero, location));
    }

    public int Port { get; }

    public int Status { get; }

    public string Url => $"http://127.0.0.1:{Port}/";

    public ConcurrentQueue<Hit> Hits { get; } = new();

    public sealed record Hit(string Method, string RawUrl, string? ContentType, string Body);

    public async Task<Hit> WaitAsync(TimeSpan? timeout = null)
    {
        var deadline = DateTime.UtcNow + (timeout ?? TimeSpan.FromSeconds(90));
        while (DateTime.UtcNow < deadline)
        {
            if (Hits.TryPeek(out var hit))
            {
                return hit;
            }
            await Task.Delay(50);
        }
        throw new TimeoutException("the webhook was not called");
    }

    private async Task LoopAsync(TimeSpan delay, string? location)
    {
        while (!_stop.IsCancellationRequested)
        {
            HttpListenerContext context;
            try
            {
                context = await _listener.GetContextAsync();
            }
            catch (Exception e) when (e is HttpListenerException or ObjectDisposedException or InvalidOperationException)
            {
                return;
            }
            _ = Task.Run(async () =>
            {
                using var reader = new StreamReader(context.Request.InputStream);
                var body = await reader.ReadToEndAsync();
                Hits.Enqueue(new Hit(context.Request.HttpMethod, context.Request.RawUrl ?? "", context.Request.ContentType, body));
                try
                {
                    await Task.Delay(delay, _stop.Token);
                    context.Response.StatusCode = Status;
                    if (location is not null)
                    {
                        context.Response.RedirectLocation = location;
                    }
                    context.Response.Close();
                }
                catch (Exception e) when (e is OperationCanceledException or HttpListenerException or ObjectDisposedException)
                {
                }
            });
        }
    }

    public static int FreePort()
    {
        using var socket = new TcpListener(IPAddress.Loopback, 0);
        socket.Start();
        return ((IPEndPoint)socket.LocalEndpoint).Port;
    }

    public void Dispose()
    {
        _stop.Cancel();
        _listener.Close();
        try
        {
            _loop.Wait(TimeSpan.FromSeconds(5));
        }
        catch (AggregateException)
        {
        }
    }
}
