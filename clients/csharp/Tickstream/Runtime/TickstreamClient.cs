using System;
using System.Collections.Generic;
using System.Diagnostics;

namespace Tickstream
{
    /// <summary>
    /// A Tickstream session: joins a room, keeps a verified replica, predicts the own entity,
    /// interpolates the others, hands the game's events over in order, and after a lost
    /// connection reconnects with backoff and resumes the same player (PROTOCOL.md §3.8).
    /// <para>
    /// Spectators (<see cref="ClientOptions.Spectate"/>, protocol v6): the client watches the
    /// room instead; see <see cref="IsSpectator"/>. After a drop or a Moved it spectates again
    /// (a fresh view: spectators are not resumed).
    /// </para>
    /// <para>
    /// Threading: network I/O runs on a background task; nothing reaches the game until it
    /// calls <see cref="Poll"/> (once per frame, on its main thread), which applies what
    /// arrived and raises every event on the calling thread. All other members are for that
    /// same thread too.
    /// </para>
    /// </summary>
    public sealed class TickstreamClient : IDisposable
    {
        static readonly HashSet<int> FinalCodes = new HashSet<int> { CloseCode.ProtocolError, CloseCode.TooBig, CloseCode.BadRoomName };
        /// <summary>
        /// Server closes after which a spectator does not come back by itself: the view ended
        /// (1000: a recording's end, or the room's) or the room does not exist (4006).
        /// </summary>
        static readonly HashSet<int> SpectatorFinalCodes = new HashSet<int> { CloseCode.Normal, CloseCode.NoSuchRoom };

        readonly ClientOptions options;
        readonly Stopwatch watch = Stopwatch.StartNew();
        readonly Random jitter = new Random();
        readonly ServerMessageDecoder decoder = new ServerMessageDecoder();
        readonly ByteWriter writer = new ByteWriter(Protocol.MaxClientMessage);
        readonly Replica replica = new Replica();
        readonly double[] arrivals = new double[128];
        readonly List<double> rttSamples = new List<double>();
        readonly List<double> rttSorted = new List<double>();
        int arrivalHead, arrivalCount;

        Connection conn;
        /// <summary>The close of the last connection Close() ended, for WaitClosed.</summary>
        System.Threading.Tasks.Task closing;
        Welcome welcome;
        int protocolVersion;
        bool resuming;
        ServerClock clock;
        Interpolator interp;
        Predictor predictor;
        int attempts;
        int policyCloses;
        double reconnectAt = -1;
        int serverErrorCode;
        string serverErrorReason;
        double sessionStart;

        // The spectator: what it asked to follow last (kept across connections), and the
        // Spectating of this connection (null before it, and for a player).
        uint? follow;
        // A Follow() not sent yet: a send was under way when it was made (sent by Poll).
        bool followUnsent;
        Spectating spectating;

        // The player, which outlives a connection when it is resumed.
        bool hasPlayer;
        uint player;
        string resumeToken;
        uint lastEventSeq;
        uint seq;

        // Inputs: what the game wants and what was sent last (latest wins).
        float wantDx, wantDy;
        uint wantButtons;
        float sentDx, sentDy;
        uint sentButtons;
        bool sentValid;
        long lastInputTick = long.MinValue;
        double lastInputAt = double.NegativeInfinity;
        double leadAdjust;
        double lastPingAt = double.NegativeInfinity;
        double offsetX, offsetY;
        double lastFrameAt = -1;
        /// The render tick of the last frame drawn (NaN before one): what Input5 says was shown.
        double lastRenderTick = double.NaN;

        long updates, events, desyncs, resumes, reconnects, moves, bytesIn;
        /// <summary>Where the client connects: options.Url, then wherever the room moved.</summary>
        string url;
        /// <summary>The URL of a v5 Moved on this connection: where the room continues once it closes.</summary>
        string movedTo;
        double rttMs = -1;

        /// <summary>The state changed.</summary>
        public event Action<ConnectionState> StateChanged;
        /// <summary>A Welcome arrived: a new view starts (after a Join or a Resume; a spectator's: the Spectating's welcome).</summary>
        public event Action<Welcome> Welcomed;
        /// <summary>An update was applied and verified; the replica holds the new view.</summary>
        public event Action<Replica> Updated;
        /// <summary>A game event, in seq order, each exactly once (also across resumes).</summary>
        public event Action<GameEvent> GameEventReceived;
        /// <summary>A problem, as a value (the client carries on: it resumes or closes as the code says).</summary>
        public event Action<ClientError> Error;
        /// <summary>A connection ended.</summary>
        public event Action<CloseInfo> Closed;
        /// <summary>A Pong: the round trip in milliseconds.</summary>
        public event Action<double> PongReceived;
        /// <summary>
        /// The room moved to another process (protocol v5's Moved): the client resumes there by
        /// itself, at once, as the same player (a spectator spectates there again); the argument
        /// is the new URL.
        /// </summary>
        public event Action<string> Moved;
        /// <summary>
        /// A spectator's view starts (v6's Spectating, on every connection: after a drop or a
        /// Moved the client spectates again); raised just before <see cref="Welcomed"/>, which
        /// gets its <see cref="Spectating.Welcome"/>.
        /// </summary>
        public event Action<Spectating> SpectatingStarted;

        /// <summary>A client for <paramref name="options"/>; <see cref="Connect"/> starts it.</summary>
        public TickstreamClient(ClientOptions options)
        {
            if (options == null) throw new ArgumentNullException("options");
            if (!ClientMessages.IsValidRoomName(options.Room)) throw new ArgumentException("invalid room name: " + options.Room);
            Uri uri;
            if (!Uri.TryCreate(options.Url, UriKind.Absolute, out uri) || (uri.Scheme != "ws" && uri.Scheme != "wss"))
                throw new ArgumentException("not a ws:// or wss:// URL: " + options.Url);
            this.options = options;
            url = options.Url;
            follow = options.Follow;
            State = ConnectionState.Idle;
        }

        /// <summary>Where the client is in its life.</summary>
        public ConnectionState State { get; private set; }
        /// <summary>The newest Welcome of this connection, or null.</summary>
        public Welcome Welcome { get { return welcome; } }
        /// <summary>The verified copy of the view (server's latest, grid points).</summary>
        public Replica Replica { get { return replica; } }
        /// <summary>Whether this client watches the room (<see cref="ClientOptions.Spectate"/>): no own entity, no prediction, no inputs.</summary>
        public bool IsSpectator { get { return options.Spectate; } }
        /// <summary>
        /// A spectator's Spectating of this connection (what it follows, its delay, whether it
        /// watches a recording), or null before it arrives and for a player.
        /// </summary>
        public Spectating Spectating { get { return spectating; } }
        /// <summary>What a spectator follows: the latest <see cref="Follow"/> (or the option); null: the whole room.</summary>
        public uint? Following { get { return follow; } }
        /// <summary>The protocol version of this connection (2 to 6), 0 before the server chose.</summary>
        public int ProtocolVersion { get { return protocolVersion; } }
        /// <summary>The last close, or null.</summary>
        public CloseInfo LastClose { get; private set; }
        /// <summary>The last error, or null.</summary>
        public ClientError LastError { get; private set; }
        /// <summary>The seq of the last game event delivered (what a Resume asks to continue after).</summary>
        public uint LastEventSeq { get { return lastEventSeq; } }
        /// <summary>The last input seq sent (seqs continue across resumes).</summary>
        public uint InputSeq { get { return seq; } }
        /// <summary>The own entity (valid once welcomed; 0 for a spectator, which has none).</summary>
        public uint OwnEntity { get { return player; } }
        /// <summary>The predictor of the own entity, or null when the game's rule is unknown.</summary>
        public Predictor Predictor { get { return predictor; } }
        /// <summary>The interpolator of remote entities (valid once welcomed).</summary>
        public Interpolator Interpolator { get { return interp; } }
        /// <summary>The render tick of the last <see cref="Frame"/>.</summary>
        public double RenderTick { get; private set; }
        /// <summary>Exceptions thrown by the game's event handlers (caught: a handler's bug must not end the session).</summary>
        public Exception LastHandlerException { get; private set; }

        /// <summary>The client's clock, milliseconds.</summary>
        public double NowMs { get { return watch.Elapsed.TotalMilliseconds; } }

        void Raise<T>(Action<T> handler, T value)
        {
            if (handler == null) return;
            try { handler(value); }
            catch (Exception e)
            {
                LastHandlerException = e;
                Console.Error.WriteLine("tickstream: an event handler failed: " + e);
            }
        }

        void SetState(ConnectionState s)
        {
            if (State == s) return;
            State = s;
            Raise(StateChanged, s);
        }

        void ResetSession()
        {
            welcome = null;
            spectating = null;
            replica.Clear();
            clock = null;
            interp = null;
            predictor = null;
            protocolVersion = 0;
            resuming = false;
            sentValid = false;
            lastInputTick = long.MinValue;
            lastInputAt = double.NegativeInfinity;
            leadAdjust = 0;
            lastPingAt = double.NegativeInfinity;
            serverErrorCode = 0;
            serverErrorReason = null;
            movedTo = null;
            offsetX = offsetY = 0;
            lastFrameAt = -1;
            lastRenderTick = double.NaN;
            arrivalCount = 0;
        }

        /// <summary>Opens the connection (joining, resuming the player it holds, or spectating); it keeps reconnecting until Close().</summary>
        public void Connect()
        {
            if (State == ConnectionState.Connecting || State == ConnectionState.Joining || State == ConnectionState.Playing) return;
            reconnectAt = -1;
            ResetSession();
            SetState(ConnectionState.Connecting);
            string token = options.Token;
            if (options.TokenProvider != null)
            {
                try { token = options.TokenProvider(); }
                catch (Exception e)
                {
                    OnClosed(CloseCode.Abnormal, "join token provider failed: " + e.Message, true, ErrorKind.Transport);
                    return;
                }
            }
            string target = url;
            if (!string.IsNullOrEmpty(token)) target += (target.IndexOf('?') >= 0 ? "&" : "?") + "token=" + Uri.EscapeDataString(token);
            conn = new Connection(new Uri(target), options);
            conn.Start();
        }

        /// <summary>Leaves for good: closes with 1000 (the server removes the player), no reconnect.</summary>
        public void Close()
        {
            ForgetPlayer();
            reconnectAt = -1;
            var c = conn;
            conn = null;
            SetState(ConnectionState.Closed);
            if (c != null)
            {
                closing = c.Close(CloseCode.Normal, "client closing");
                LastClose = new CloseInfo { Code = CloseCode.Normal, Reason = "client closing" };
                Raise(Closed, LastClose);
            }
        }

        /// <summary>
        /// Closes with 4100 but keeps the player: the server holds it for its grace period and
        /// <see cref="Connect"/> resumes it. No reconnect until then.
        /// </summary>
        public void Suspend()
        {
            reconnectAt = -1;
            var c = conn;
            conn = null;
            SetState(ConnectionState.Idle);
            if (c != null)
            {
                c.Close(CloseCode.Suspend, "suspended");
                LastClose = new CloseInfo { Code = CloseCode.Suspend, Reason = "suspended" };
                Raise(Closed, LastClose);
            }
        }

        /// <summary>
        /// Drops the socket at once without a close frame, as a lost link does (tests, and a
        /// game that detects a dead network): the client then reconnects and resumes.
        /// </summary>
        public void DropConnection()
        {
            var c = conn;
            if (c == null) return;
            c.Abort();
            OnClosed(CloseCode.Abnormal, "connection dropped", true, ErrorKind.Transport);
        }

        /// <summary>What a later connection needs to resume this player, or null before the first Welcome.</summary>
        public ResumeState GetResumeState()
        {
            if (!hasPlayer || resumeToken == null) return null;
            return new ResumeState { Room = options.Room, Token = resumeToken, LastEventSeq = lastEventSeq, Entity = player, InputSeq = seq };
        }

        /// <summary>
        /// Takes over a saved player (from <see cref="GetResumeState"/>): the next
        /// <see cref="Connect"/> resumes it instead of joining. False, and nothing changes, when
        /// the state is for another room or has no token.
        /// </summary>
        public bool AdoptResumeState(ResumeState state)
        {
            if (options.Spectate || state == null || string.IsNullOrEmpty(state.Token) || state.Room != options.Room) return false;
            hasPlayer = true;
            player = state.Entity;
            resumeToken = state.Token;
            lastEventSeq = state.LastEventSeq;
            seq = state.InputSeq;
            return true;
        }

        /// <summary>Forgets the player: the next connection joins afresh.</summary>
        public void ForgetPlayer()
        {
            hasPlayer = false;
            resumeToken = null;
            lastEventSeq = 0;
            seq = 0;
        }

        /// <summary>
        /// Waits up to <paramref name="millisecondsTimeout"/> for the close frame of
        /// <see cref="Close"/> to go out and the socket to end: for a console program about to
        /// exit (a game keeps running, and never needs to wait). True when it ended in time.
        /// </summary>
        public bool WaitClosed(int millisecondsTimeout)
        {
            var c = closing;
            return c == null || c.Wait(millisecondsTimeout);
        }

        /// <summary>Closes without ceremony (1000), as <see cref="Close"/>.</summary>
        public void Dispose() { Close(); }

        /// <summary>
        /// Sets the player's intent (each component clamped into [-1, 1]). It is sent at the next
        /// chance: at most once per tick, and only while the socket is not backed up; until then
        /// a newer call replaces it, so nothing stale queues up. A spectator sends no input (the
        /// server would close its connection with 1002): the intent is kept and never sent.
        /// </summary>
        public void SetInput(float dx, float dy, uint buttons = 0)
        {
            wantDx = Clamp(dx);
            wantDy = Clamp(dy);
            wantButtons = buttons;
        }

        /// <summary>
        /// A spectator's new choice of view (protocol v6's Follow): the view of
        /// <paramref name="entity"/> (everything within the view radius of it, while it exists;
        /// the whole room otherwise), or the whole room when null. It takes effect from the
        /// server's next update; the choice is kept, and a later connection spectates with it.
        /// Returns false, and sends nothing, for a player (the server would close with 1002).
        /// </summary>
        public bool Follow(uint? entity)
        {
            if (!options.Spectate) return false;
            follow = entity;
            followUnsent = true;
            // Before Spectating the choice goes with it (see OnSpectating); after, at once, or
            // from the next Poll when a send is under way (one message at a time).
            SendFollow();
            return true;
        }

        void SendFollow()
        {
            if (!followUnsent || conn == null || spectating == null || conn.Busy) return;
            ClientMessages.Follow(writer, follow);
            if (conn.TrySend(writer)) followUnsent = false;
        }

        static float Clamp(float v)
        {
            if (float.IsNaN(v) || float.IsInfinity(v)) return 0;
            return v < -1 ? -1 : v > 1 ? 1 : v;
        }

        /// <summary>
        /// Call once per frame on the game's thread: applies what arrived, raises the events,
        /// sends the pending input and pings, steps the prediction, and reconnects when due.
        /// </summary>
        public void Poll()
        {
            double t = NowMs;
            var c = conn;
            InboxItem item;
            while (c != null && c == conn && c.Inbox.TryTake(out item))
            {
                switch (item.Kind)
                {
                    case InboxKind.Opened: OnOpen(item.Text); break;
                    case InboxKind.Frame:
                        OnMessage(item.Data, item.Length, t);
                        c.Inbox.Release(item.Data, item.Length);
                        break;
                    case InboxKind.Closed:
                        conn = null;
                        int code = item.Code;
                        string reason = string.IsNullOrEmpty(item.Text) ? (serverErrorReason ?? string.Empty) : item.Text;
                        if (code == CloseCode.Abnormal && serverErrorCode != 0)
                        {
                            // The server's Error names the close it sends next: when that close
                            // frame is lost, its code still decides (a final code stays final).
                            code = serverErrorCode;
                            reason = serverErrorReason ?? string.Empty;
                        }
                        OnClosed(code, reason, true, serverErrorCode != 0 ? ErrorKind.Closed : ErrorKind.Transport);
                        break;
                }
            }
            if (State == ConnectionState.Reconnecting && reconnectAt >= 0 && t >= reconnectAt) Connect();
            Pump(t);
        }

        void Send()
        {
            // Join, Resume and the first messages: nothing is under way yet.
            if (conn != null) conn.TrySend(writer);
        }

        void OnOpen(string subprotocol)
        {
            int version = Protocol.VersionOf(subprotocol);
            if (version == 0)
            {
                Fail(ErrorKind.Protocol, "server chose subprotocol \"" + subprotocol + "\", not one of " + string.Join(", ", Protocol.Subprotocols), false);
                return;
            }
            protocolVersion = version;
            if (options.Spectate)
            {
                if (version < 6)
                {
                    Fail(ErrorKind.Protocol, "the server speaks protocol v" + version + "; spectating needs v6", false);
                    return;
                }
                SetState(ConnectionState.Joining);
                resuming = false;
                ClientMessages.Spectate(writer, options.Room, follow);
                Send();
                return;
            }
            SetState(ConnectionState.Joining);
            resuming = resumeToken != null;
            if (resuming) ClientMessages.Resume(writer, options.Room, resumeToken, lastEventSeq);
            else ClientMessages.Join(writer, options.Room);
            Send();
        }

        void OnMessage(byte[] data, int length, double t)
        {
            ServerMessage msg;
            string error;
            if (!decoder.TryDecode(data, 0, length, out msg, out error))
            {
                Fail(ErrorKind.Protocol, "malformed message: " + error, true);
                return;
            }
            bytesIn += length;
            switch (msg.Type)
            {
                case ServerMessageType.Welcome:
                    if (options.Spectate)
                    {
                        Fail(ErrorKind.Protocol, "a Welcome on a spectator's connection", true);
                        return;
                    }
                    OnWelcome(msg.Welcome, t);
                    break;
                case ServerMessageType.Spectating:
                    if (!options.Spectate || protocolVersion < 6)
                    {
                        Fail(ErrorKind.Protocol, "a Spectating on a version " + protocolVersion + (options.Spectate ? " spectator's" : " player's") + " connection", true);
                        return;
                    }
                    OnSpectating(msg.Spectating, t);
                    break;
                case ServerMessageType.Update:
                case ServerMessageType.Update3:
                    if ((msg.Type == ServerMessageType.Update3) != (protocolVersion >= 3))
                    {
                        Fail(ErrorKind.Protocol, msg.Type + " on a version " + protocolVersion + " connection", true);
                        return;
                    }
                    OnUpdate(msg, t);
                    break;
                case ServerMessageType.Pong:
                    {
                        // The clock now, not the poll's start: a pong can arrive while one poll drains.
                        double rtt = (Math.Floor(NowMs * 1000) - msg.PongClientTime) / 1000.0;
                        if (rtt >= 0 && rtt < 60000)
                        {
                            rttSamples.Add(rtt);
                            if (rttSamples.Count > 5) rttSamples.RemoveAt(0);
                            rttSorted.Clear();
                            rttSorted.AddRange(rttSamples);
                            rttSorted.Sort();
                            rttMs = rttSorted[rttSorted.Count / 2];
                            Raise(PongReceived, rtt);
                        }
                        break;
                    }
                case ServerMessageType.Error:
                    serverErrorCode = msg.ErrorCode;
                    serverErrorReason = msg.ErrorReason;
                    break;
                case ServerMessageType.Moved:
                    {
                        Uri moved;
                        if (protocolVersion < 5 || !Uri.TryCreate(msg.MovedUrl, UriKind.Absolute, out moved) || (moved.Scheme != "ws" && moved.Scheme != "wss"))
                        {
                            Fail(ErrorKind.Protocol, "a Moved to \"" + msg.MovedUrl + "\" on a version " + protocolVersion + " connection", true);
                            return;
                        }
                        movedTo = msg.MovedUrl;
                        break;
                    }
            }
        }

        void OnWelcome(Welcome w, double t)
        {
            if (welcome != null) { Fail(ErrorKind.Protocol, "second Welcome", true); return; }
            if (w.ProtocolVersion != protocolVersion || (w.IsWelcome4 != (protocolVersion >= 4)))
            {
                Fail(ErrorKind.Protocol, "server speaks protocol " + w.ProtocolVersion + " on a version " + protocolVersion + " connection", false);
                return;
            }
            string problem = w.Problem();
            if (problem != null) { Fail(ErrorKind.Protocol, "invalid Welcome: " + problem, false); return; }
            bool resumed = resuming && w.Resumed && hasPlayer && w.Entity == player;
            if (resumed)
            {
                resumes++;
                // The server may still hold an input this client no longer wants: send the current one again.
                sentValid = false;
            }
            else
            {
                seq = 0;
                lastEventSeq = 0;
            }
            hasPlayer = true;
            player = w.Entity;
            resumeToken = w.ResumeToken;
            welcome = w;
            sessionStart = t;
            replica.Clear();
            clock = new ServerClock(w.TickRateHz, options.InterpolationDelayMs, options.MaxExtrapolationMs);
            double speed;
            MoveStep step = MoveRules.For(w, options, out speed);
            predictor = step != null ? new Predictor(step) : null;
            interp = Interpolator.ForSession(w, options, speed);
            SetState(ConnectionState.Playing);
            Raise(Welcomed, w);
            Ping(t);
        }

        /// <summary>
        /// A spectator's view starts: a fresh replica and clock, events numbered from 1 again,
        /// no predictor (there is no own entity), every entity interpolated.
        /// </summary>
        void OnSpectating(Spectating s, double t)
        {
            var w = s.Welcome;
            if (welcome != null) { Fail(ErrorKind.Protocol, "second Spectating", true); return; }
            if (w.ProtocolVersion != protocolVersion)
            {
                Fail(ErrorKind.Protocol, "server speaks protocol " + w.ProtocolVersion + " on a version " + protocolVersion + " connection", false);
                return;
            }
            string problem = w.Problem();
            if (problem != null) { Fail(ErrorKind.Protocol, "invalid Spectating: " + problem, false); return; }
            hasPlayer = false;
            player = 0;
            resumeToken = null;
            seq = 0;
            lastEventSeq = 0;
            spectating = s;
            welcome = w;
            sessionStart = t;
            replica.Clear();
            clock = new ServerClock(w.TickRateHz, options.InterpolationDelayMs, options.MaxExtrapolationMs);
            predictor = null;
            // The game's walk speed still bounds what interpolation takes for a legitimate move.
            double speed;
            MoveRules.For(w, options, out speed);
            interp = Interpolator.ForSession(w, options, speed);
            SetState(ConnectionState.Playing);
            // A Follow() made while the Spectate was under way: the server has the older choice.
            followUnsent = s.Follow != follow;
            SendFollow();
            Raise(SpectatingStarted, s);
            Raise(Welcomed, w);
            Ping(t);
        }

        void OnUpdate(ServerMessage msg, double t)
        {
            if (welcome == null) { Fail(ErrorKind.Protocol, "Update before Welcome", true); return; }
            List<GameEvent> evs = msg.Type == ServerMessageType.Update ? msg.Update.Events : msg.Update3.Events;
            // Events come exactly once, in seq order, without gaps (across resumes too). A gap or
            // a repeat ends the connection before anything of the update is used; the resume that
            // follows asks for every event after the last one delivered.
            uint expected = lastEventSeq + 1;
            foreach (var e in evs)
            {
                if (e.Seq != expected)
                {
                    Fail(ErrorKind.Desync, "event seq " + e.Seq + " where " + expected + " was due", true);
                    return;
                }
                expected++;
            }
            string desync = msg.Type == ServerMessageType.Update ? replica.Apply(msg.Update) : replica.Apply3(msg.Update3);
            if (desync != null)
            {
                desyncs++;
                Fail(ErrorKind.Desync, desync, true);
                return;
            }
            updates++;
            arrivals[(arrivalHead + arrivalCount) % arrivals.Length] = t;
            if (arrivalCount < arrivals.Length) arrivalCount++; else arrivalHead = (arrivalHead + 1) % arrivals.Length;
            if (!options.Spectate && replica.AckSeq > seq)
            {
                // The server applied a seq this client never sent here (a resume from a saved
                // state): continue after it, and send the current input again.
                seq = replica.AckSeq;
                sentValid = false;
                lastInputTick = long.MinValue;
            }
            long before;
            if (predictor != null && LocalTick(t, out before)) predictor.AdvanceTo(before);
            clock.Observe(replica.Tick, t);
            if (msg.Type == ServerMessageType.Update) interp.Record(replica.Tick, msg.Update.Despawns, msg.Update.Spawns, msg.Update.FieldChanges, replica);
            else interp.Record(replica.Tick, msg.Update3.Despawns, msg.Update3.Spawns, msg.Update3.FieldChanges, replica);
            var me = predictor != null ? replica.Get(welcome.Entity) : null;
            if (me != null)
            {
                bool had = predictor.HasPosition;
                double bx = predictor.X, by = predictor.Y;
                int feedback = predictor.Reconcile(replica.Tick, replica.AckSeq, me.WorldX, me.WorldY);
                leadAdjust = Math.Min(8, Math.Max(-4, leadAdjust + feedback * 0.25));
                long now;
                if (LocalTick(t, out now)) predictor.AdvanceTo(now);
                if (had)
                {
                    // Show the correction over a few frames; snap when it is large.
                    double ox = offsetX + bx - predictor.X, oy = offsetY + by - predictor.Y;
                    bool snap = Math.Sqrt(ox * ox + oy * oy) > options.SnapDistance;
                    offsetX = snap ? 0 : ox;
                    offsetY = snap ? 0 : oy;
                }
            }
            var kinds = welcome.EventKinds;
            foreach (var e in evs)
            {
                lastEventSeq = e.Seq;
                events++;
                e.Tick = replica.Tick;
                e.KindName = e.Kind < kinds.Count ? kinds[e.Kind] : null;
                Raise(GameEventReceived, e);
            }
            Raise(Updated, replica);
        }

        /// <summary>Ends the connection on the client's side: 4100 and a resume with <paramref name="retry"/>, else 1000 for good.</summary>
        void Fail(ErrorKind kind, string reason, bool retry)
        {
            // A spectator has no player for the server to keep: it leaves, and spectates again.
            int code = retry && !options.Spectate ? CloseCode.Suspend : CloseCode.Normal;
            var c = conn;
            conn = null;
            if (c != null) c.Close(code, reason);
            OnClosed(code, reason, retry, kind);
        }

        void OnClosed(int code, string reason, bool retry, ErrorKind kind)
        {
            double t = NowMs;
            conn = null;
            if (welcome != null && t - sessionStart > 10000) attempts = 0;
            bool resumeRefused = resuming && code == CloseCode.ResumeRefused;
            if (resumeRefused) ForgetPlayer();
            bool policyFinal = false;
            if (code == CloseCode.Policy)
            {
                policyCloses++;
                bool staticToken = options.TokenProvider == null && !string.IsNullOrEmpty(options.Token);
                policyFinal = policyCloses > options.PolicyRetries || (staticToken && welcome == null);
            }
            else policyCloses = 0;
            // A close from the server (not one of the client's own): a recording's end, say.
            bool fromServer = kind == ErrorKind.Transport || kind == ErrorKind.Closed;
            bool recordingEnded = fromServer && code == CloseCode.Normal && spectating != null && spectating.Recording;
            bool final = FinalCodes.Contains(code)
                || (options.Spectate && fromServer && SpectatorFinalCodes.Contains(code))
                || (!options.Spectate && code == CloseCode.SpectatorsOnly);
            // The room moved (v5): follow it at once, resuming the same player at the new URL.
            string moved = retry && options.Reconnect ? movedTo : null;
            movedTo = null;
            bool willReconnect = moved != null || (retry && options.Reconnect && !final && !policyFinal);
            double retryIn = 0;
            if (moved != null)
            {
                url = moved;
                attempts = 0;
                reconnects++;
                moves++;
                reconnectAt = t;
                SetState(ConnectionState.Reconnecting);
            }
            else if (willReconnect)
            {
                double b = Math.Min(options.ReconnectMaxMs, options.ReconnectInitialMs * Math.Pow(2, Math.Min(attempts, 20)));
                retryIn = Math.Round(b * (0.5 + jitter.NextDouble() * 0.5));
                attempts++;
                reconnects++;
                reconnectAt = t + retryIn;
                SetState(ConnectionState.Reconnecting);
            }
            else
            {
                reconnectAt = -1;
                SetState(ConnectionState.Closed);
            }
            var info = new CloseInfo
            {
                Code = code,
                Reason = reason ?? string.Empty,
                ServerErrorCode = serverErrorCode,
                ServerErrorReason = serverErrorReason,
                WillReconnect = willReconnect,
                RetryInMs = retryIn,
                ResumeRefused = resumeRefused,
                MovedTo = moved,
                RecordingEnded = recordingEnded,
            };
            LastClose = info;
            if (moved != null)
            {
                Raise(Moved, moved);
                Raise(Closed, info);
                return;
            }
            var error = new ClientError { Kind = kind, CloseCode = code, Message = reason ?? string.Empty };
            if (kind == ErrorKind.Closed && serverErrorReason != null) error.Message = serverErrorReason;
            bool clean = recordingEnded || (kind == ErrorKind.Transport && (code == CloseCode.Normal || code == CloseCode.Suspend) && serverErrorCode == 0);
            if (!clean)
            {
                LastError = error;
                Raise(Error, error);
            }
            Raise(Closed, info);
        }

        /// <summary>The local tick: when an input sent now is expected to be applied.</summary>
        bool LocalTick(double t, out long tick)
        {
            tick = 0;
            if (clock == null || !clock.Known || welcome == null) return false;
            double rttTicks = (rttMs > 0 ? rttMs : 0) * welcome.TickRateHz / 1000.0;
            long estimate = (long)Math.Floor(clock.TickAt(t) + rttTicks + 1 + leadAdjust);
            tick = replica.HasTick ? Math.Max(estimate, (long)replica.Tick + 1) : estimate;
            return true;
        }

        void Ping(double t)
        {
            if (conn == null || conn.Busy) return;
            lastPingAt = t;
            ClientMessages.Ping(writer, (ulong)Math.Floor(NowMs * 1000));
            conn.TrySend(writer);
        }

        void Pump(double t)
        {
            if (conn == null || State != ConnectionState.Playing) return;
            if (options.Spectate)
            {
                // A spectator sends no input: its latest Follow if it is still to go, and pings.
                SendFollow();
                if (t - lastPingAt >= options.PingIntervalMs) Ping(t);
                return;
            }
            long tick;
            if (LocalTick(t, out tick))
            {
                bool changed = !sentValid || wantDx != sentDx || wantDy != sentDy || wantButtons != sentButtons;
                if (changed && tick > lastInputTick && t - lastInputAt >= 1000.0 / options.MaxInputRateHz && !conn.Busy)
                {
                    // From v5 on the input carries the render tick of the last frame: the server
                    // judges it against what the player saw (lag compensation).
                    if (protocolVersion >= 5 && !double.IsNaN(lastRenderTick))
                    {
                        uint viewTick;
                        byte viewFrac;
                        ClientMessages.ViewTime(lastRenderTick, out viewTick, out viewFrac);
                        ClientMessages.Input5(writer, seq + 1, wantDx, wantDy, wantButtons, viewTick, viewFrac);
                    }
                    else
                    {
                        ClientMessages.Input(writer, seq + 1, wantDx, wantDy, wantButtons);
                    }
                    if (conn.TrySend(writer))
                    {
                        seq++;
                        sentDx = wantDx; sentDy = wantDy; sentButtons = wantButtons; sentValid = true;
                        lastInputTick = tick;
                        lastInputAt = t;
                        if (predictor != null) predictor.NoteInput(seq, wantDx, wantDy);
                    }
                }
                if (predictor != null) predictor.AdvanceTo(tick);
            }
            if (t - lastPingAt >= options.PingIntervalMs) Ping(t);
        }

        /// <summary>
        /// What to draw now: fills <paramref name="remotes"/> with every other entity interpolated
        /// in the past by the adaptive render delay (PROTOCOL.md §13.2: 1¼ ticks plus the measured
        /// jitter, at least <see cref="ClientOptions.InterpolationDelayMs"/>), with its game fields
        /// as of that moment, and <paramref name="own"/>
        /// with the own entity at its predicted position (corrections blended in), or at the
        /// server's when it is not predicted. World units. Returns whether the own entity is known.
        /// The list is cleared and reused: no allocation once it has grown. A spectator gets
        /// every entity of its view in <paramref name="remotes"/>, and false (no own entity).
        /// </summary>
        public bool Frame(List<EntityView> remotes, out EntityView own)
        {
            double t = NowMs;
            own = new EntityView();
            if (remotes != null) remotes.Clear();
            if (welcome == null || clock == null || !clock.Known || !replica.HasTick) return false;
            double dt = lastFrameAt < 0 ? 0 : Math.Max(0, t - lastFrameAt);
            lastFrameAt = t;
            double decay = Math.Exp(-dt / options.SmoothingMs);
            offsetX *= decay;
            offsetY *= decay;
            // Remote entities: at the clock's render tick, which adapts its delay to the jitter
            // and never steps (PROTOCOL.md §13.2).
            double renderTick = clock.RenderTickAt(t);
            RenderTick = renderTick;
            lastRenderTick = renderTick;
            if (options.Spectate)
            {
                if (remotes != null) interp.RenderAll(renderTick, t, replica, remotes);
                interp.Prune(renderTick - 1);
                return false;
            }
            if (remotes != null) interp.Render(renderTick, t, replica, welcome.Entity, remotes);
            interp.Prune(renderTick - 1);
            var me = replica.Get(welcome.Entity);
            own.Id = welcome.Entity;
            own.Kind = me != null ? me.Kind : (byte)0;
            if (me != null) own.Fields = me.Fields;
            if (predictor != null && predictor.HasPosition)
            {
                own.X = predictor.X + offsetX;
                own.Y = predictor.Y + offsetY;
                return true;
            }
            if (me == null) return false;
            own.X = me.WorldX;
            own.Y = me.WorldY;
            return true;
        }

        /// <summary>Field <paramref name="index"/> of entity <paramref name="id"/> in the game's units (raw × scale), or NaN.</summary>
        public double Field(uint id, int index)
        {
            var e = replica.Get(id);
            if (e == null || welcome == null || index < 0 || index >= Protocol.MaxFields) return double.NaN;
            double scale = index < welcome.Fields.Count ? welcome.Fields[index].Scale : 1;
            return e.Fields[index] * scale;
        }

        /// <summary>Fills <paramref name="s"/> (reused) with the current numbers.</summary>
        public void GetStats(ClientStats s)
        {
            double t = NowMs;
            s.Connected = State == ConnectionState.Playing;
            s.State = State;
            s.ProtocolVersion = protocolVersion;
            s.Spectator = options.Spectate;
            s.Entity = player;
            s.Tick = replica.Tick;
            s.AckSeq = replica.AckSeq;
            s.InputSeq = seq;
            s.Entities = replica.Count;
            int n = 0;
            double first = t;
            for (int i = 0; i < arrivalCount; i++)
            {
                double a = arrivals[(arrivalHead + i) % arrivals.Length];
                if (a > t - 2000) { n++; if (a < first) first = a; }
            }
            s.UpdateRateHz = n == 0 ? 0 : n / (Math.Min(2000, Math.Max(t - first, 1000.0 / 60)) / 1000.0);
            s.RttMs = rttMs;
            s.InterpolationDelayMs = clock != null && clock.Known ? clock.DelayMs : options.InterpolationDelayMs;
            s.JitterMs = clock != null ? clock.JitterMs : 0;
            s.Updates = updates;
            s.Events = events;
            s.LastEventSeq = lastEventSeq;
            s.Desyncs = desyncs;
            s.Resumes = resumes;
            s.Moves = moves;
            s.Reconnects = reconnects;
            s.BytesIn = bytesIn;
            s.Predicting = predictor != null && predictor.HasPosition;
            s.PredictedX = s.Predicting ? predictor.X : 0;
            s.PredictedY = s.Predicting ? predictor.Y : 0;
        }
    }
}
