using System;
using System.Net.Security;
using System.Net.WebSockets;
using System.Security.Cryptography.X509Certificates;
using System.Threading;
using System.Threading.Tasks;

namespace Tickstream
{
    /// <summary>
    /// One WebSocket: a background task opens it and reads frames into the <see cref="Inbox"/>;
    /// the game thread sends, one message at a time (<see cref="Busy"/> while one is under way:
    /// the socket is backed up, and the client keeps only its newest input meanwhile).
    /// </summary>
    sealed class Connection
    {
        /// <summary>The socket: a ClientWebSocket, or the runtime's WebSocket over our own TLS stream.</summary>
        volatile WebSocket ws;
        /// <summary>Set for wss:// with a certificate check of this connection's own.</summary>
        readonly RemoteCertificateValidationCallback check;
        readonly CancellationTokenSource cancel = new CancellationTokenSource();
        readonly Uri uri;
        readonly double connectTimeoutMs;
        readonly byte[] sendBuf = new byte[Protocol.MaxClientMessage];
        Task sending;
        int closing;

        public readonly Inbox Inbox;

        public Connection(Uri uri, ClientOptions o)
        {
            this.uri = uri;
            connectTimeoutMs = o.ConnectTimeoutMs;
            Inbox = new Inbox(Math.Max(4, o.InboxCapacity));
            if (uri.Scheme == "wss")
            {
                if (o.Insecure) check = (s, c, ch, e) => true;
                else if (o.TrustedCertificate != null)
                {
                    byte[] trusted = o.TrustedCertificate.RawData;
                    check = (s, cert, chain, errors) =>
                        errors == SslPolicyErrors.None || (cert != null && SameBytes(cert.GetRawCertData(), trusted));
                }
            }
            if (check == null)
            {
                var client = new ClientWebSocket();
                foreach (var p in Protocol.Subprotocols) client.Options.AddSubProtocol(p);
                ws = client;
            }
        }

        static bool SameBytes(byte[] a, byte[] b)
        {
            if (a == null || b == null || a.Length != b.Length) return false;
            for (int i = 0; i < a.Length; i++) if (a[i] != b[i]) return false;
            return true;
        }

        /// <summary>Starts the network task.</summary>
        public void Start() { Task.Run(Run); }

        async Task Run()
        {
            try
            {
                using (var timeout = new CancellationTokenSource(TimeSpan.FromMilliseconds(connectTimeoutMs)))
                using (var both = CancellationTokenSource.CreateLinkedTokenSource(timeout.Token, cancel.Token))
                {
                    if (check != null) ws = await StreamWebSocket.ConnectAsync(uri, check, both.Token).ConfigureAwait(false);
                    else await ((ClientWebSocket)ws).ConnectAsync(uri, both.Token).ConfigureAwait(false);
                    if (Volatile.Read(ref closing) != 0) { Abort(); return; }
                }
                Inbox.Post(InboxKind.Opened, 0, ws.SubProtocol ?? string.Empty);
                byte[] buf = new byte[16 * 1024];
                while (true)
                {
                    int len = 0;
                    WebSocketReceiveResult result;
                    do
                    {
                        if (len == buf.Length)
                        {
                            if (buf.Length >= Protocol.MaxServerMessage)
                            {
                                Inbox.Post(InboxKind.Closed, CloseCode.TooBig, "server message larger than 4 MiB");
                                Abort();
                                return;
                            }
                            Array.Resize(ref buf, Math.Min(buf.Length * 2, Protocol.MaxServerMessage));
                        }
                        result = await ws.ReceiveAsync(new ArraySegment<byte>(buf, len, buf.Length - len), cancel.Token).ConfigureAwait(false);
                        if (result.MessageType == WebSocketMessageType.Close)
                        {
                            int code = result.CloseStatus.HasValue ? (int)result.CloseStatus.Value : CloseCode.Abnormal;
                            Inbox.Post(InboxKind.Closed, code, result.CloseStatusDescription ?? string.Empty);
                            await EchoClose(code).ConfigureAwait(false);
                            return;
                        }
                        len += result.Count;
                    } while (!result.EndOfMessage);
                    if (result.MessageType != WebSocketMessageType.Binary)
                    {
                        Inbox.Post(InboxKind.Closed, CloseCode.ProtocolError, "text frame from the server");
                        Abort();
                        return;
                    }
                    await Inbox.WaitForRoomAsync(len, cancel.Token).ConfigureAwait(false);
                    Inbox.PostFrame(buf, len);
                }
            }
            catch (Exception e)
            {
                // Anything the socket throws ends this connection; the game thread hears of it as 1006.
                Inbox.Post(InboxKind.Closed, CloseCode.Abnormal, Describe(e));
                Abort();
            }
        }

        static string Describe(Exception e)
        {
            while (e is AggregateException && e.InnerException != null) e = e.InnerException;
            string text = e.Message;
            if (e.InnerException != null) text += ": " + e.InnerException.Message;
            return text;
        }

        async Task EchoClose(int code)
        {
            try
            {
                if (Interlocked.Exchange(ref closing, 1) != 0) return;
                using (var t = new CancellationTokenSource(1000))
                    await ws.CloseOutputAsync((WebSocketCloseStatus)code, string.Empty, t.Token).ConfigureAwait(false);
            }
            catch (Exception)
            {
                // The server already went: nothing to answer.
            }
            finally
            {
                Abort();
            }
        }

        /// <summary>True while a send is under way (the socket is backed up).</summary>
        public bool Busy
        {
            get
            {
                var s = sending;
                if (s == null) return false;
                if (!s.IsCompleted) return true;
                if (s.IsFaulted) { var ignored = s.Exception; }
                sending = null;
                return false;
            }
        }

        /// <summary>Sends what <paramref name="w"/> holds, unless a send is under way or the socket is not open.</summary>
        public bool TrySend(ByteWriter w)
        {
            var ws = this.ws;
            if (Busy || closing != 0 || ws == null || ws.State != WebSocketState.Open || w.Length > sendBuf.Length) return false;
            Buffer.BlockCopy(w.Buffer, 0, sendBuf, 0, w.Length);
            try
            {
                sending = ws.SendAsync(new ArraySegment<byte>(sendBuf, 0, w.Length), WebSocketMessageType.Binary, true, CancellationToken.None);
                return true;
            }
            catch (Exception)
            {
                return false;
            }
        }

        /// <summary>
        /// Closes with a code and reason in the background (after the send under way); never
        /// throws. The task ends once the socket is gone.
        /// </summary>
        public Task Close(int code, string reason)
        {
            if (Interlocked.Exchange(ref closing, 1) != 0) return Task.FromResult(0);
            var pending = sending;
            return Task.Run(async () =>
            {
                try
                {
                    if (pending != null) await Task.WhenAny(pending, Task.Delay(500)).ConfigureAwait(false);
                    if (ws != null && ws.State == WebSocketState.Open)
                    {
                        using (var t = new CancellationTokenSource(1000))
                            await ws.CloseOutputAsync((WebSocketCloseStatus)code, Truncate(reason), t.Token).ConfigureAwait(false);
                        // Give the server's echo a moment, so that the close is clean on its side.
                        await Task.Delay(200).ConfigureAwait(false);
                    }
                }
                catch (Exception)
                {
                    // Closing a broken socket: nothing left to tell the server.
                }
                finally
                {
                    Abort();
                }
            });
        }

        /// <summary>Drops the socket at once, without a close frame (as a lost link looks to the server).</summary>
        public void Abort()
        {
            Interlocked.Exchange(ref closing, 1);
            try { cancel.Cancel(); } catch (ObjectDisposedException) { }
            var w = ws;
            if (w != null) try { w.Abort(); } catch (Exception) { }
        }

        /// <summary>A close reason cut to 123 UTF-8 bytes on a character boundary.</summary>
        static string Truncate(string reason)
        {
            reason = reason ?? string.Empty;
            while (System.Text.Encoding.UTF8.GetByteCount(reason) > Protocol.MaxCloseReason) reason = reason.Substring(0, reason.Length - 1);
            return reason;
        }
    }
}
