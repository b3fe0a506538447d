using System;
using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Text;
using System.Threading;

namespace Tickstream.Tests
{
    /// <summary>
    /// A scripted WebSocket server on a free loopback port, for driving the client through
    /// situations a real server makes hard to arrange (a Moved, a recording's end, an old
    /// version). It answers the upgrade with one fixed subprotocol, queues every connection and
    /// every binary message the client sends, and sends what the test tells it to. Plain ws://,
    /// RFC 6455 framing, nothing more.
    /// </summary>
    sealed class FakeServer : IDisposable
    {
        readonly TcpListener listener;
        readonly string subprotocol;
        readonly ConcurrentQueue<FakePeer> peers = new ConcurrentQueue<FakePeer>();
        volatile bool stopped;

        /// <summary>Listens at once; every upgrade is answered with <paramref name="subprotocol"/>.</summary>
        public FakeServer(string subprotocol)
        {
            this.subprotocol = subprotocol;
            listener = new TcpListener(IPAddress.Loopback, 0);
            listener.Start();
            var accept = new Thread(AcceptLoop) { IsBackground = true, Name = "fake server" };
            accept.Start();
        }

        /// <summary>The URL a client connects to.</summary>
        public string Url { get { return "ws://127.0.0.1:" + ((IPEndPoint)listener.LocalEndpoint).Port + "/ws"; } }

        /// <summary>The next connection that completed its upgrade, if one did.</summary>
        public bool TryNextPeer(out FakePeer peer) { return peers.TryDequeue(out peer); }

        void AcceptLoop()
        {
            while (!stopped)
            {
                TcpClient tcp;
                try { tcp = listener.AcceptTcpClient(); }
                catch (Exception) { return; }
                var peer = new FakePeer(tcp);
                if (peer.Upgrade(subprotocol)) peers.Enqueue(peer);
            }
        }

        /// <inheritdoc/>
        public void Dispose()
        {
            stopped = true;
            listener.Stop();
            FakePeer p;
            while (peers.TryDequeue(out p)) p.Dispose();
        }
    }

    /// <summary>One client connection of a <see cref="FakeServer"/>.</summary>
    sealed class FakePeer : IDisposable
    {
        readonly TcpClient tcp;
        readonly NetworkStream stream;
        readonly object sendLock = new object();
        readonly ConcurrentQueue<byte[]> received = new ConcurrentQueue<byte[]>();

        public FakePeer(TcpClient tcp)
        {
            this.tcp = tcp;
            stream = tcp.GetStream();
        }

        /// <summary>The subprotocols the client offered, as its upgrade request listed them.</summary>
        public string Offered { get; private set; }
        /// <summary>The close code the client sent (0 before it did).</summary>
        public int ClientCloseCode { get; private set; }

        /// <summary>Reads the upgrade request and answers 101; then reads frames on a thread of its own.</summary>
        public bool Upgrade(string subprotocol)
        {
            try
            {
                var head = new StringBuilder();
                while (!head.ToString().EndsWith("\r\n\r\n", StringComparison.Ordinal))
                {
                    int b = stream.ReadByte();
                    if (b < 0 || head.Length > 8192) return false;
                    head.Append((char)b);
                }
                string key = null;
                foreach (var line in head.ToString().Split(new[] { "\r\n" }, StringSplitOptions.RemoveEmptyEntries))
                {
                    int colon = line.IndexOf(':');
                    if (colon < 0) continue;
                    string name = line.Substring(0, colon).Trim().ToLowerInvariant();
                    string value = line.Substring(colon + 1).Trim();
                    if (name == "sec-websocket-key") key = value;
                    if (name == "sec-websocket-protocol") Offered = Offered == null ? value : Offered + ", " + value;
                }
                if (key == null) return false;
                string accept;
                using (var sha1 = SHA1.Create())
                    accept = Convert.ToBase64String(sha1.ComputeHash(Encoding.ASCII.GetBytes(key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11")));
                string answer = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                    + "Sec-WebSocket-Accept: " + accept + "\r\nSec-WebSocket-Protocol: " + subprotocol + "\r\n\r\n";
                var bytes = Encoding.ASCII.GetBytes(answer);
                lock (sendLock) stream.Write(bytes, 0, bytes.Length);
                var reader = new Thread(ReadLoop) { IsBackground = true, Name = "fake peer" };
                reader.Start();
                return true;
            }
            catch (Exception)
            {
                return false;
            }
        }

        void ReadFull(byte[] buf, int count)
        {
            int at = 0;
            while (at < count)
            {
                int n = stream.Read(buf, at, count - at);
                if (n <= 0) throw new System.IO.EndOfStreamException();
                at += n;
            }
        }

        void ReadLoop()
        {
            try
            {
                var header = new byte[8];
                while (true)
                {
                    ReadFull(header, 2);
                    int opcode = header[0] & 0x0F;
                    bool masked = (header[1] & 0x80) != 0;
                    long len = header[1] & 0x7F;
                    if (len == 126) { ReadFull(header, 2); len = header[0] << 8 | header[1]; }
                    else if (len == 127) { ReadFull(header, 8); len = 0; for (int i = 0; i < 8; i++) len = len << 8 | header[i]; }
                    var mask = new byte[4];
                    if (masked) ReadFull(mask, 4);
                    var payload = new byte[len];
                    ReadFull(payload, (int)len);
                    if (masked) for (int i = 0; i < payload.Length; i++) payload[i] ^= mask[i & 3];
                    if (opcode == 2) received.Enqueue(payload);
                    else if (opcode == 8)
                    {
                        ClientCloseCode = payload.Length >= 2 ? payload[0] << 8 | payload[1] : 1005;
                        return;
                    }
                }
            }
            catch (Exception)
            {
                // The connection ended: nothing more to read.
            }
        }

        /// <summary>The next binary message the client sent, if one arrived.</summary>
        public bool TryReceive(out byte[] message) { return received.TryDequeue(out message); }

        void Frame(int opcode, byte[] payload, int count)
        {
            var head = new byte[10];
            int n;
            head[0] = (byte)(0x80 | opcode);
            if (count < 126) { head[1] = (byte)count; n = 2; }
            else if (count < 65536) { head[1] = 126; head[2] = (byte)(count >> 8); head[3] = (byte)count; n = 4; }
            else { head[1] = 127; for (int i = 0; i < 8; i++) head[2 + i] = (byte)((long)count >> (56 - 8 * i)); n = 10; }
            lock (sendLock)
            {
                stream.Write(head, 0, n);
                stream.Write(payload, 0, count);
                stream.Flush();
            }
        }

        /// <summary>Sends one binary message: the writer's bytes.</summary>
        public void Send(ByteWriter w) { Frame(2, w.Buffer, w.Length); }

        /// <summary>Sends a server message (encoded as the reference server does).</summary>
        public void Send(ServerMessage m)
        {
            var w = new ByteWriter();
            new ServerMessageEncoder().Encode(w, m);
            Send(w);
        }

        /// <summary>Sends a close frame with <paramref name="code"/> and <paramref name="reason"/>.</summary>
        public void Close(int code, string reason)
        {
            var text = Encoding.UTF8.GetBytes(reason);
            var payload = new byte[2 + text.Length];
            payload[0] = (byte)(code >> 8);
            payload[1] = (byte)code;
            Array.Copy(text, 0, payload, 2, text.Length);
            try { Frame(8, payload, payload.Length); }
            catch (Exception)
            {
                // The client went first: nothing to close.
            }
        }

        /// <inheritdoc/>
        public void Dispose() { tcp.Close(); }
    }
}
