using System;
using System.Collections.Generic;
using System.Security.Cryptography.X509Certificates;
using System.Threading;

namespace Tickstream.Tests
{
    /// <summary>
    /// The client against real tickstream-servers that test.sh starts on free loopback ports:
    /// join and 300 verified updates; wss with the development certificate trusted (and refused
    /// without); inputs acknowledged and the prediction within one grid point of the server;
    /// coin events in order; resume after an abrupt drop without losing an event; a refused
    /// join token as an error value with its close code; a spectator (v6) watching a player's
    /// room with every checksum verified while it switches what it follows, and 4006 for a
    /// missing room. Every wait is bounded generously.
    /// </summary>
    static class LiveTests
    {
        public static void Register(List<KeyValuePair<string, Action>> t)
        {
            t.Add(Pair("live: joins and applies 300 updates with zero checksum mismatches", JoinAnd300Updates));
            t.Add(Pair("live: steady-state updates allocate (almost) nothing on the game thread", SteadyStateAllocation));
            t.Add(Pair("live: wss trusts the given development certificate, and only that", WssTrust));
            t.Add(Pair("live: inputs are acknowledged; the prediction is within one grid point of the server", InputsAndPrediction));
            t.Add(Pair("live: coin events arrive once each, in seq order", CoinEvents));
            t.Add(Pair("live: resume after an abrupt drop: same entity, no event lost, input seqs continue", ResumeAfterDrop));
            t.Add(Pair("live: a saved resume state takes the player over in a new client", ResumeFromSavedState));
            t.Add(Pair("live: a refused join token is an error value with close code 1008", RefusedToken));
            t.Add(Pair("live: a spectator watches a player's room, switches Follow twice, zero checksum mismatches", SpectatorWatches));
            t.Add(Pair("live: spectating a room that does not exist closes with 4006, final", SpectateMissingRoom));
            t.Add(Pair("live: a recording played back: verified updates, then 1000 \"the recording ended\", final; a Join is 4007", WatchesRecording));
            t.Add(Pair("live: a spectator 300 ms behind is told its delay and verifies every update; a second one finds the seat taken (1013)", DelayedSpectatorAndFullSeats));
        }

        static KeyValuePair<string, Action> Pair(string name, Action a) { return new KeyValuePair<string, Action>(name, a); }

        static readonly Random Rng = new Random();
        static string Room(string prefix) { return prefix + "-cs-" + Rng.Next(1000000); }

        /// <summary>A generous bound: it bounds the test on a loaded machine, it is not what is measured.</summary>
        const double Timeout = 60;

        static TickstreamClient Client(string url, string room, Action<ClientOptions> tweak = null)
        {
            var o = new ClientOptions { Url = url, Room = room };
            if (tweak != null) tweak(o);
            return new TickstreamClient(o);
        }

        /// <summary>Polls the clients (as a game loop would) until <paramref name="done"/>; fails after <paramref name="seconds"/>.</summary>
        internal static void Until(Func<bool> done, string what, double seconds = Timeout, params TickstreamClient[] clients)
        {
            var watch = System.Diagnostics.Stopwatch.StartNew();
            while (!done())
            {
                if (watch.Elapsed.TotalSeconds > seconds) throw new CheckFailed("timed out after " + seconds + " s waiting for: " + what);
                foreach (var c in clients) c.Poll();
                Thread.Sleep(2);
            }
        }

        /// <summary>Leaves (1000) and waits for the socket to end, so the process exits cleanly.</summary>
        internal static void Finish(TickstreamClient c)
        {
            c.Close();
            c.WaitClosed(5000);
        }

        static void For(double seconds, params TickstreamClient[] clients)
        {
            var watch = System.Diagnostics.Stopwatch.StartNew();
            Until(() => watch.Elapsed.TotalSeconds >= seconds, "time", seconds + 30, clients);
        }

        static void JoinAnd300Updates()
        {
            var c = Client(TestRunner.Arg("ws"), Room("arena"));
            int updates = 0, errors = 0;
            c.Updated += r => updates++;
            c.Error += e => errors++;
            c.Connect();
            Until(() => updates >= 300 || errors > 0, "300 updates", Timeout, c);
            var s = new ClientStats();
            c.GetStats(s);
            Check.Equal(0, errors, "no error (a checksum mismatch would be one)");
            Check.Equal(0L, s.Desyncs, "zero checksum mismatches");
            Check.Equal(6, c.ProtocolVersion, "the server picks v6, the newest offered");
            Check.Equal(MoveRuleKind.Walk, c.Welcome.MoveRule, "the arena publishes its walk");
            Check.Equal(5f, c.Welcome.Speed, "at its player speed");
            Check.True(c.Replica.Count > 1, "the view holds the NPCs and the player");
            Check.Equal(c.Replica.Checksum, c.Replica.FullChecksum(), "the incremental checksum equals the full one");
            Check.True(c.Replica.Get(c.OwnEntity) != null, "the own entity is in view");
            Finish(c);
        }

        static void SteadyStateAllocation()
        {
            // 500 NPCs moving every tick: each update decodes, applies, verifies, interpolates.
            var c = Client(TestRunner.Arg("ws"), Room("arena"));
            int updates = 0;
            c.Updated += r => updates++;
            c.Connect();
            var remotes = new List<EntityView>();
            var stats = new ClientStats();
            EntityView own;
            c.SetInput(1, 0);
            Until(() => { c.Frame(remotes, out own); return updates >= 90; }, "warm-up", Timeout, c);
            long before = GC.GetAllocatedBytesForCurrentThread();
            int start = updates;
            var watch = System.Diagnostics.Stopwatch.StartNew();
            while (updates < start + 150)
            {
                if (watch.Elapsed.TotalSeconds > Timeout) throw new CheckFailed("timed out measuring");
                c.Poll();
                c.Frame(remotes, out own);
                c.GetStats(stats);
                Thread.Sleep(2);
            }
            long perUpdate = (GC.GetAllocatedBytesForCurrentThread() - before) / (updates - start);
            Console.WriteLine("      game-thread allocation: " + perUpdate + " bytes per update (" + c.Replica.Count + " entities; pings and sends allocate their Tasks)");
            Check.True(perUpdate < 128, "under 128 bytes per update, with " + c.Replica.Count + " entities in view: " + perUpdate);
            Finish(c);
        }

        static void WssTrust()
        {
            var cert = new X509Certificate2(TestRunner.Arg("cert"));
            var c = Client(TestRunner.Arg("wss"), Room("arena"), o => o.TrustedCertificate = cert);
            int updates = 0;
            c.Updated += r => updates++;
            c.Connect();
            Until(() => updates >= 10, "10 updates over wss", Timeout, c);
            Finish(c);

            var untrusted = Client(TestRunner.Arg("wss"), Room("arena"), o => o.Reconnect = false);
            ClientError error = null;
            untrusted.Error += e => error = e;
            untrusted.Connect();
            Until(() => error != null, "a refused certificate", Timeout, untrusted);
            Check.Equal(ErrorKind.Transport, error.Kind, "refused as a transport error");
            Check.True(untrusted.Welcome == null, "never welcomed: verification stays on for other connections");
            Check.Equal(ConnectionState.Closed, untrusted.State, "no reconnect when told not to");
        }

        static void InputsAndPrediction()
        {
            var c = Client(TestRunner.Arg("ws"), Room("arena"));
            c.Connect();
            Until(() => c.Replica.HasTick && c.Replica.Get(c.OwnEntity) != null, "the first update", Timeout, c);
            var me = c.Replica.Get(c.OwnEntity);
            // Toward the middle, so that no wall clamps the walk during the test.
            float dx = me.WorldX < c.Welcome.WorldWidth / 2 ? 1 : -1;
            float dy = me.WorldY < c.Welcome.WorldHeight / 2 ? 1 : -1;
            var predicted = new Dictionary<long, double[]>();
            int compared = 0, far = 0;
            double worst = 0;
            uint firstAck = 0;
            c.Updated += r =>
            {
                double[] p;
                var own = r.Get(c.OwnEntity);
                if (own == null || firstAck == 0 || r.AckSeq != c.InputSeq || r.Tick < firstAck + 5) return;
                if (!predicted.TryGetValue(r.Tick, out p)) return;
                double err = Math.Max(Math.Abs(p[0] - own.WorldX), Math.Abs(p[1] - own.WorldY));
                worst = Math.Max(worst, err);
                compared++;
                if (err > 1 / 64.0) far++;
            };
            c.SetInput(dx, 0);
            Until(() =>
            {
                var p = c.Predictor;
                if (p != null && p.HasPosition) predicted[p.Tick] = new[] { p.X, p.Y };
                if (firstAck == 0 && c.InputSeq >= 1 && c.Replica.AckSeq == c.InputSeq) firstAck = c.Replica.Tick;
                return compared >= 30;
            }, "30 updates compared with the prediction", Timeout, c);
            Check.True(c.InputSeq >= 1 && c.Replica.AckSeq == c.InputSeq, "the input is acknowledged");
            Check.Equal(0, far, "predicted positions within one grid point of the server's (worst " + worst + ")");
            // A change of intent is sent as a new seq and acknowledged too.
            uint before = c.InputSeq;
            c.SetInput(0, dy);
            Until(() => c.InputSeq > before && c.Replica.AckSeq == c.InputSeq, "the second input acknowledged", Timeout, c);
            Finish(c);
        }

        /// <summary>Steers toward the nearest coin (kind 1) of the client's view.</summary>
        static void Steer(TickstreamClient c)
        {
            if (c.Welcome == null) return;
            var me = c.Replica.Get(c.OwnEntity);
            if (me == null) return;
            Entity best = null;
            double bestD = double.MaxValue;
            foreach (var e in c.Replica.Entities)
            {
                if (e.Kind != 1) continue;
                double d = (e.WorldX - me.WorldX) * (e.WorldX - me.WorldX) + (e.WorldY - me.WorldY) * (e.WorldY - me.WorldY);
                if (d < bestD) { bestD = d; best = e; }
            }
            if (best == null) { c.SetInput(0, 0); return; }
            double ddx = best.WorldX - me.WorldX, ddy = best.WorldY - me.WorldY;
            double len = Math.Sqrt(ddx * ddx + ddy * ddy);
            if (len < 1e-9) c.SetInput(1, 0);
            else c.SetInput((float)(ddx / len), (float)(ddy / len));
        }

        static void CoinEvents()
        {
            var c = Client(TestRunner.Arg("ws"), Room("coins"));
            var events = new List<GameEvent>();
            int errors = 0;
            c.GameEventReceived += e => events.Add(e);
            c.Error += e => errors++;
            c.Connect();
            Until(() => { Steer(c); return events.Count >= 5; }, "five coin events", Timeout, c);
            Check.Equal(0, errors, "no error");
            for (int i = 0; i < events.Count; i++)
            {
                Check.Equal((uint)(i + 1), events[i].Seq, "event seqs 1, 2, 3, ... in order");
                Check.Equal("collected", events[i].KindName, "a collected event");
                Check.True(events[i].Text.StartsWith("coin "), "it names the coin");
            }
            Check.Equal(c.OwnEntity, events[events.Count - 1].Entity, "the own player collected it");
            Finish(c);
        }

        static string Describe(GameEvent e) { return e.Kind + "/" + e.Entity + "/" + e.Value + "/" + e.Text; }

        static void ResumeAfterDrop()
        {
            string room = Room("coins");
            var a = Client(TestRunner.Arg("ws"), room, o => o.ReconnectInitialMs = 3000);
            var b = Client(TestRunner.Arg("ws"), room);
            var aEvents = new List<GameEvent>();
            var bEvents = new List<GameEvent>();
            int aErrors = 0, aWelcomes = 0;
            a.GameEventReceived += e => aEvents.Add(e);
            b.GameEventReceived += e => bEvents.Add(e);
            a.Welcomed += w => aWelcomes++;
            a.Error += e => { if (e.CloseCode != CloseCode.Abnormal) aErrors++; };
            a.Connect();
            Until(() => a.Welcome != null, "a welcomed", Timeout, a);
            b.Connect();
            Until(() => b.Welcome != null, "b welcomed", Timeout, a, b);
            Until(() => { Steer(a); Steer(b); return aEvents.Count >= 2 && bEvents.Count >= 2; }, "events before the drop", Timeout, a, b);
            uint entity = a.OwnEntity;
            uint seqBefore = a.InputSeq;
            int bBefore = bEvents.Count;
            a.DropConnection();
            Check.Equal(ConnectionState.Reconnecting, a.State, "a reconnects after the drop");
            // b keeps collecting while a is away: a misses those events and gets them on resume.
            Until(() => { Steer(b); return aWelcomes == 2; }, "a resumed", Timeout, a, b);
            int missed = bEvents.Count - bBefore;
            Check.True(a.Welcome.Resumed, "the Welcome answers the Resume");
            Check.Equal(entity, a.OwnEntity, "the same entity");
            Until(() => { Steer(a); Steer(b); return a.InputSeq > seqBefore && a.Replica.AckSeq > seqBefore; }, "a's next input acknowledged", Timeout, a, b);
            Check.True(a.InputSeq > seqBefore, "input seqs continue after the resume");
            For(2, a, b);
            a.SetInput(0, 0);
            b.SetInput(0, 0);
            For(1.5, a, b);
            Check.Equal(0, aErrors, "no error but the drop");
            Check.True(missed >= 1, "events happened while a was away (" + missed + ")");
            for (int i = 0; i < aEvents.Count; i++) Check.Equal((uint)(i + 1), aEvents[i].Seq, "a's event seqs contiguous across the resume");
            // Every player gets every event of the room: b's are the tail of a's, none lost.
            Check.True(aEvents.Count >= bEvents.Count, "a has at least b's events");
            int offset = aEvents.Count - bEvents.Count;
            for (int i = 0; i < bEvents.Count; i++)
                Check.Equal(Describe(bEvents[i]), Describe(aEvents[offset + i]), "event " + (i + 1) + " of b's also reached a");
            Finish(a);
            Finish(b);
        }

        static void ResumeFromSavedState()
        {
            string room = Room("coins");
            var a = Client(TestRunner.Arg("ws"), room);
            var events = new List<GameEvent>();
            a.GameEventReceived += e => events.Add(e);
            a.Connect();
            Until(() => { Steer(a); return events.Count >= 2 && a.Replica.AckSeq >= 1; }, "events and an acknowledged input", Timeout, a);
            a.Suspend(); // 4100: the server keeps the player for its grace period
            var saved = a.GetResumeState();
            Check.True(saved != null, "a resume state after a Welcome");
            a.WaitClosed(5000);

            var b = Client(TestRunner.Arg("ws"), room);
            var later = new List<GameEvent>();
            b.GameEventReceived += e => later.Add(e);
            Check.True(b.AdoptResumeState(saved), "the state is adopted");
            Check.True(!b.AdoptResumeState(new ResumeState { Room = "elsewhere", Token = saved.Token }), "a state for another room is not");
            b.Connect();
            Until(() => { Steer(b); return b.Welcome != null && later.Count >= 1 && b.InputSeq > saved.InputSeq && b.Replica.AckSeq == b.InputSeq; }, "resumed, an event and an input", Timeout, b);
            Check.True(b.Welcome.Resumed, "resumed, not joined");
            Check.Equal(saved.Entity, b.OwnEntity, "the same entity");
            Check.Equal(saved.LastEventSeq + 1, later[0].Seq, "events continue after the last one delivered");
            Finish(a);
            Finish(b);
        }

        static void RefusedToken()
        {
            string url = TestRunner.Arg("token-ws");
            var bad = Client(url, TestRunner.Arg("token-room"), o => o.Token = "forged.token");
            ClientError error = null;
            CloseInfo closed = null;
            bad.Error += e => error = e;
            bad.Closed += c => closed = c;
            bad.Connect();
            Until(() => closed != null, "the refusal", Timeout, bad);
            Check.Equal(CloseCode.Policy, closed.Code, "closed with 1008");
            Check.Equal(CloseCode.Policy, closed.ServerErrorCode, "after an Error message with the same code");
            Check.True(!closed.WillReconnect, "a refused static token is not retried");
            Check.Equal(ConnectionState.Closed, bad.State, "closed for good");
            Check.True(error != null && error.Kind == ErrorKind.Closed && error.CloseCode == CloseCode.Policy, "an error value with its close code: " + error);

            var good = Client(url, TestRunner.Arg("token-room"), o => o.Token = TestRunner.Arg("token"));
            good.Connect();
            Until(() => good.Replica.HasTick, "welcomed with a valid token", Timeout, good);
            Finish(good);
        }
    
        /// <summary>Polls until the spectator applied <paramref name="count"/> more updates (or failed).</summary>
        static void SpectatorUpdates(TickstreamClient spec, Func<int> updates, List<ClientError> errors, int count, string what, params TickstreamClient[] clients)
        {
            int target = updates() + count;
            Until(() => updates() >= target || errors.Count > 0, what, Timeout, clients);
            var s = new ClientStats();
            spec.GetStats(s);
            Check.Equal(0, errors.Count, what + ": no error (a checksum mismatch would be one): " + (errors.Count > 0 ? errors[0].ToString() : ""));
            Check.Equal(0L, s.Desyncs, what + ": zero checksum mismatches");
            Check.Equal(spec.Replica.Checksum, spec.Replica.FullChecksum(), what + ": the incremental checksum equals the full one");
        }

        static void SpectatorWatches()
        {
            string room = Room("arena");
            var player = Client(TestRunner.Arg("ws"), room);
            player.Connect();
            Until(() => player.Replica.HasTick, "the player in its room", Timeout, player);
            uint watched = player.OwnEntity;
            player.SetInput(1, 0.5f);

            var spec = Client(TestRunner.Arg("ws"), room, o => { o.Spectate = true; o.Follow = watched; });
            int updates = 0;
            var errors = new List<ClientError>();
            spec.Updated += r => updates++;
            spec.Error += e => errors.Add(e);
            spec.Connect();
            SpectatorUpdates(spec, () => updates, errors, 90, "90 updates following the player", player, spec);
            Check.Equal(6, spec.ProtocolVersion, "spectating on v6");
            Check.True(spec.Spectating != null && spec.Spectating.Follow == watched, "Spectating names the followed player");
            Check.True(!spec.Spectating.Recording, "a live room");
            Check.Equal(0u, spec.OwnEntity, "no own entity");
            Check.True(spec.Predictor == null, "nothing predicted");
            Check.True(spec.Replica.Get(watched) != null, "the followed player is in the view");
            int followed = spec.Replica.Count;

            // The whole room: the view grows to everything, still verified update by update.
            Check.True(spec.Follow(null), "switch to the whole room");
            SpectatorUpdates(spec, () => updates, errors, 60, "60 updates of the whole room", player, spec);
            int whole = spec.Replica.Count;
            Check.True(whole >= followed, "the whole room holds at least the player's view (" + whole + " against " + followed + ")");

            // Another entity's view: the first NPC the spectator sees that is not the player.
            uint other = watched;
            foreach (var e in spec.Replica.Entities) if (e.Id != watched) { other = e.Id; break; }
            Check.True(other != watched, "an entity to follow besides the player");
            Check.True(spec.Follow(other), "switch to entity " + other);
            SpectatorUpdates(spec, () => updates, errors, 60, "60 updates following entity " + other, player, spec);
            Check.True(spec.Replica.Get(other) != null, "the newly followed entity is in the view");

            var remotes = new List<EntityView>();
            EntityView own;
            Check.True(!spec.Frame(remotes, out own), "Frame reports no own entity");
            Check.True(remotes.Exists(v => v.Id == other), "the followed entity is drawn, interpolated, among " + remotes.Count);
            var stats = new ClientStats();
            spec.GetStats(stats);
            Check.True(stats.Spectator, "stats say spectator");
            Check.Equal(0u, stats.InputSeq, "no input sent");
            Check.True(player.State == ConnectionState.Playing, "the player plays on beside the spectator");
            Finish(spec);
            Finish(player);
        }

        static void SpectateMissingRoom()
        {
            var c = Client(TestRunner.Arg("ws"), Room("nowhere"), o => o.Spectate = true);
            ClientError error = null;
            CloseInfo closed = null;
            c.Error += e => error = e;
            c.Closed += info => closed = info;
            c.Connect();
            Until(() => closed != null, "the refusal", Timeout, c);
            Check.Equal(CloseCode.NoSuchRoom, closed.Code, "closed with 4006 NO_SUCH_ROOM");
            Check.True(!closed.WillReconnect, "not retried: a spectator never creates the room");
            Check.Equal(ConnectionState.Closed, c.State, "closed for good");
            Check.True(error != null && error.CloseCode == CloseCode.NoSuchRoom, "an error value with 4006: " + error);
            Check.True(c.Welcome == null, "never welcomed");
        }
    
        static void DelayedSpectatorAndFullSeats()
        {
            string url = TestRunner.Arg("delayed-ws");
            Check.True(url != null, "test.sh passes --delayed-ws, a server with spectator_delay_ms = 300 and one seat");
            string room = Room("coins");
            var player = Client(url, room);
            player.Connect();
            Until(() => player.Replica.HasTick, "the player in its room", Timeout, player);
            player.SetInput(0.5f, 1);

            var spec = Client(url, room, o => o.Spectate = true);
            int updates = 0;
            var errors = new List<ClientError>();
            spec.Updated += r => updates++;
            spec.Error += e => errors.Add(e);
            spec.Connect();
            SpectatorUpdates(spec, () => updates, errors, 60, "60 delayed updates of the whole room", player, spec);
            Check.True(spec.Spectating.DelayMs >= 300 && spec.Spectating.DelayMs < 400, "the delay, in whole ticks: " + spec.Spectating.DelayMs);
            long behind = (long)player.Replica.Tick - spec.Replica.Tick;
            long delayTicks = spec.Spectating.DelayMs * spec.Welcome.TickRateHz / 1000;
            Check.True(behind >= delayTicks / 2, "the view runs behind the player's: " + behind + " ticks, the delay is " + delayTicks);
            Check.True(spec.Replica.Get(player.OwnEntity) != null, "the player is in the whole room's view");

            var second = Client(url, room, o => { o.Spectate = true; o.ReconnectInitialMs = 60000; });
            CloseInfo closed = null;
            second.Closed += c => closed = c;
            second.Connect();
            Until(() => closed != null, "the second spectator's refusal", Timeout, player, spec, second);
            Check.Equal(CloseCode.TryAgain, closed.Code, "1013: the room's one seat is taken");
            Check.True(closed.WillReconnect, "a full room is retried later");
            second.Close();
            SpectatorUpdates(spec, () => updates, errors, 30, "the first spectator watches on", player, spec);
            Finish(spec);
            Finish(player);
        }
    
        static void WatchesRecording()
        {
            string url = TestRunner.Arg("playback-ws");
            string room = TestRunner.Arg("playback-room");
            Check.True(url != null && room != null, "test.sh passes --playback-ws and --playback-room, a recording served");
            var spec = Client(url, room, o => o.Spectate = true);
            int updates = 0;
            var errors = new List<ClientError>();
            CloseInfo closed = null;
            spec.Updated += r => updates++;
            spec.Error += e => errors.Add(e);
            spec.Closed += c => closed = c;
            spec.Connect();
            Until(() => closed != null, "the end of the recording", Timeout, spec);
            var s = new ClientStats();
            spec.GetStats(s);
            Check.True(spec.Welcome != null && spec.Spectating != null && spec.Spectating.Recording, "Spectating says: a recording");
            Check.Equal(0u, spec.Spectating.DelayMs, "no delay for a recording");
            Check.True(updates >= 30, "the recording's updates were watched (" + updates + ")");
            Check.Equal(0L, s.Desyncs, "zero checksum mismatches");
            Check.Equal(0, errors.Count, "no error, the end included: " + (errors.Count > 0 ? errors[0].ToString() : ""));
            Check.Equal(CloseCode.Normal, closed.Code, "closed with 1000");
            Check.Equal("the recording ended", closed.Reason, "with the server's reason");
            Check.True(closed.RecordingEnded, "marked as the recording's end");
            Check.True(!closed.WillReconnect, "no reconnect after the end");
            Check.Equal(ConnectionState.Closed, spec.State, "closed for good");

            var player = Client(url, room);
            CloseInfo refused = null;
            player.Closed += c => refused = c;
            player.Connect();
            Until(() => refused != null, "the player's refusal", Timeout, player);
            Check.Equal(CloseCode.SpectatorsOnly, refused.Code, "4007: a recording takes spectators only");
            Check.True(!refused.WillReconnect, "final for a player");
            Check.True(player.Welcome == null, "never welcomed");
        }
    }
}
