using System.Net.Sockets;

namespace Colab.Daemon.Runtimes;

/// <summary>
/// WebSocket connections to a Jupyter server whose TCP socket acknowledges every read at once.
/// </summary>
/// <remarks>
/// jupyter-server (tornado) leaves Nagle's algorithm on for its WebSockets: a small frame that
/// follows another is held back until the first one is acknowledged. Linux delays that
/// acknowledgement by up to 40 ms, so every cell's <c>status: busy</c>, <c>execute_input</c>,
/// reply and <c>status: idle</c> stall on each other and an empty cell takes ~48 ms instead of
/// ~6 ms. Setting <c>TCP_QUICKACK</c> after each read sends the acknowledgement straight away,
/// which releases the server's next frame. The flag is not sticky in the kernel, hence once per
/// read; it costs one <c>setsockopt</c>. Other systems and refused options fall back to a plain
/// socket. Our own sends have <c>TCP_NODELAY</c>.
/// </remarks>
internal static class QuickAckSockets
{
    private const int IpProtoTcp = 6;
    private const int TcpQuickAck = 12;

    private static readonly Lazy<HttpMessageInvoker> Direct = new(() => Create(useProxy: false));
    private static readonly Lazy<HttpMessageInvoker> Proxied = new(() => Create(useProxy: true));

    private static long _acknowledgements;

    /// <summary>Whether this system honours <c>TCP_QUICKACK</c> (Linux); false after it was refused once.</summary>
    public static bool Enabled { get; private set; } = OperatingSystem.IsLinux();

    /// <summary>How many reads were acknowledged at once so far (for tests and diagnostics).</summary>
    public static long Acknowledgements => Interlocked.Read(ref _acknowledgements);

    /// <summary>
    /// The invoker for <see cref="System.Net.WebSockets.ClientWebSocket.ConnectAsync(Uri, HttpMessageInvoker?, CancellationToken)"/>:
    /// no proxy for a loopback server, the system proxy otherwise. Shared: WebSocket connections are never pooled.
    /// </summary>
    public static HttpMessageInvoker For(bool loopback) => loopback ? Direct.Value : Proxied.Value;

    private static HttpMessageInvoker Create(bool useProxy) => new(new SocketsHttpHandler
    {
        UseProxy = useProxy,
        UseCookies = false,
        AllowAutoRedirect = false,
        ConnectTimeout = TimeSpan.FromSeconds(20),
        ConnectCallback = ConnectAsync,
    }, disposeHandler: true);

    private static async ValueTask<Stream> ConnectAsync(SocketsHttpConnectionContext context, CancellationToken cancellationToken)
    {
        var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        try
        {
            await socket.ConnectAsync(context.DnsEndPoint, cancellationToken).ConfigureAwait(false);
            return new QuickAckStream(socket);
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    /// <summary>Sends any delayed acknowledgement now and keeps quick-ack mode on for the next segments.</summary>
    internal static void Acknowledge(Socket socket)
    {
        if (!Enabled)
        {
            return;
        }
        try
        {
            Span<byte> on = [1, 0, 0, 0];
            socket.SetRawSocketOption(IpProtoTcp, TcpQuickAck, on);
            Interlocked.Increment(ref _acknowledgements);
        }
        catch (SocketException)
        {
            Enabled = false;
        }
        catch (ObjectDisposedException)
        {
            // closed under us: the read that follows reports it
        }
    }

    /// <summary>A <see cref="NetworkStream"/> that acknowledges what it has read at once.</summary>
    internal sealed class QuickAckStream(Socket socket) : NetworkStream(socket, ownsSocket: true)
    {
        public override int Read(Span<byte> buffer)
        {
            var read = base.Read(buffer);
            Acknowledge(Socket);
            return read;
        }

        public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

        public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
        {
            var read = await base.ReadAsync(buffer, cancellationToken).ConfigureAwait(false);
            Acknowledge(Socket);
            return read;
        }

        public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
            ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();
    }
}
