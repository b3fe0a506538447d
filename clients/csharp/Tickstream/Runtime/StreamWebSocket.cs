using System;
using System.IO;
using System.Net.Security;
using System.Net.Sockets;
using System.Net.WebSockets;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using System.Threading;
using System.Threading.Tasks;

namespace Tickstream
{
    /// <summary>
    /// Opens a wss:// WebSocket whose certificate check is this connection's own: a given
    /// development certificate is trusted (or, with Insecure, any), and nothing process-wide
    /// changes. Mono's ClientWebSocket ignores ClientWebSocketOptions.RemoteCertificateValidationCallback
    /// (and ServicePointManager's), so this path does the TLS handshake with an SslStream and the
    /// HTTP upgrade itself (RFC 6455 §4.1), then hands the stream to the runtime's own WebSocket
    /// (<see cref="WebSocket.CreateFromStream"/>): framing, masking and close stay the BCL's.
    /// </summary>
    static class StreamWebSocket
    {
        const string AcceptGuid = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
        /// <summary>The longest upgrade response head read.</summary>
        const int MaxResponseHead = 16 * 1024;

        /// <summary>Connects; the chosen subprotocol is in the result's SubProtocol.</summary>
        public static async Task<WebSocket> ConnectAsync(Uri uri, RemoteCertificateValidationCallback check, CancellationToken cancel)
        {
            var tcp = new TcpClient();
            Stream stream = null;
            try
            {
                using (cancel.Register(() => tcp.Close()))
                {
                    await tcp.ConnectAsync(uri.Host, uri.Port).ConfigureAwait(false);
                    tcp.NoDelay = true;
                    var ssl = new SslStream(tcp.GetStream(), false, check);
                    stream = ssl;
                    await ssl.AuthenticateAsClientAsync(uri.Host).ConfigureAwait(false);
                    string sub = await Upgrade(ssl, uri).ConfigureAwait(false);
                    return WebSocket.CreateFromStream(ssl, false, sub, TimeSpan.FromSeconds(15));
                }
            }
            catch (Exception)
            {
                if (stream != null) stream.Dispose();
                tcp.Close();
                cancel.ThrowIfCancellationRequested();
                throw;
            }
        }

        static async Task<string> Upgrade(Stream s, Uri uri)
        {
            var nonce = new byte[16];
            using (var rng = RandomNumberGenerator.Create()) rng.GetBytes(nonce);
            string key = Convert.ToBase64String(nonce);
            string request =
                "GET " + uri.PathAndQuery + " HTTP/1.1\r\n" +
                "Host: " + uri.Authority + "\r\n" +
                "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n" +
                "Sec-WebSocket-Key: " + key + "\r\n" +
                "Sec-WebSocket-Protocol: " + string.Join(", ", Protocol.Subprotocols) + "\r\n\r\n";
            byte[] req = Encoding.ASCII.GetBytes(request);
            await s.WriteAsync(req, 0, req.Length).ConfigureAwait(false);
            await s.FlushAsync().ConfigureAwait(false);
            // Read byte by byte up to the blank line: nothing of the WebSocket stream after it is consumed.
            var head = new StringBuilder();
            var one = new byte[1];
            while (!head.ToString().EndsWith("\r\n\r\n", StringComparison.Ordinal))
            {
                if (head.Length > MaxResponseHead) throw new WebSocketException("upgrade response head too long");
                int n = await s.ReadAsync(one, 0, 1).ConfigureAwait(false);
                if (n == 0) throw new WebSocketException("connection closed during the upgrade");
                head.Append((char)one[0]);
            }
            string[] lines = head.ToString().Split(new[] { "\r\n" }, StringSplitOptions.RemoveEmptyEntries);
            string[] status = lines[0].Split(' ');
            if (status.Length < 2 || status[1] != "101")
                throw new WebSocketException("upgrade refused: " + lines[0]);
            string accept = null, sub = null;
            for (int i = 1; i < lines.Length; i++)
            {
                int colon = lines[i].IndexOf(':');
                if (colon <= 0) continue;
                string name = lines[i].Substring(0, colon).Trim().ToLowerInvariant();
                string value = lines[i].Substring(colon + 1).Trim();
                if (name == "sec-websocket-accept") accept = value;
                else if (name == "sec-websocket-protocol") sub = value;
            }
            string expected;
            using (var sha = SHA1.Create())
                expected = Convert.ToBase64String(sha.ComputeHash(Encoding.ASCII.GetBytes(key + AcceptGuid)));
            if (accept != expected) throw new WebSocketException("upgrade without a valid Sec-WebSocket-Accept");
            if (sub == null) throw new WebSocketException("the server chose no subprotocol");
            return sub;
        }
    }
}
