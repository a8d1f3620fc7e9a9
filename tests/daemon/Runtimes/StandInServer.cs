using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace Colab.Daemon.Tests.Runtimes;

/// <summary>A tiny HttpListener web server that is not Jupyter: it answers every request with the handler's response.</summary>
internal sealed class StandInServer : IDisposable
{
    private readonly HttpListener _listener = new();
    private readonly Func<HttpListenerRequest, (int Status, string ContentType, string Body, string? Location)> _handler;
    private readonly Task _loop;

    public StandInServer(Func<HttpListenerRequest, (int Status, string ContentType, string Body, string? Location)> handler)
    {
        _handler = handler;
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
        _loop = Task.Run(LoopAsync);
    }

    public int Port { get; }

    public string Url => $"http://127.0.0.1:{Port}/";

    /// <summary>(raw URL, Authorization header) of every request.</summary>
    public ConcurrentQueue<(string Url, string? Authorization)> Requests { get; } = new();

    public static int FreePort()
    {
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        socket.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        return ((IPEndPoint)socket.LocalEndPoint!).Port;
    }

    private async Task LoopAsync()
    {
        while (_listener.IsListening)
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
            Requests.Enqueue((context.Request.RawUrl ?? "", context.Request.Headers["Authorization"]));
            var (status, type, body, location) = _handler(context.Request);
            context.Response.StatusCode = status;
            context.Response.ContentType = type;
            if (location is not null)
            {
                context.Response.RedirectLocation = location;
            }
            var bytes = Encoding.UTF8.GetBytes(body);
            context.Response.ContentLength64 = bytes.Length;
            await context.Response.OutputStream.WriteAsync(bytes);
            context.Response.Close();
        }
    }

    public void Dispose()
    {
        // Close only (it stops too): on Linux, Stop then Close removes the endpoint twice, and the
        // second removal re-binds the port to find it, failing with "Address already in use" when
        // another stand-in has taken that port meanwhile.
        try
        {
            _listener.Close();
        }
        catch (HttpListenerException)
        {
            // Best effort: the listener is closed either way.
        }
        _loop.Wait(TimeSpan.FromSeconds(5));
    }
}
