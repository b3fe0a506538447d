using System;
using System.Collections.Generic;
using System.Threading;

namespace Tickstream.Tests
{
    /// <summary>
    /// The spectator's path through the client (protocol v6), against a scripted
    /// <see cref="FakeServer"/>: Spectate with its follow, the view drawn whole with no own entity,
    /// events numbered from 1, no input ever sent, Follow sent; a Moved followed by spectating
    /// again with the latest choice; a recording's end; a missing room (4006); a server below v6.
    /// The real server's side is in LiveTests.
    /// </summary>
    static class SpectatorTests
    {
        public static void Register(List<KeyValuePair<string, Action>> t)
        {
            t.Add(Pair("spectator model: Spectate with its follow; every entity drawn, events from 1, no input, Follow sent", WatchesAndFollows));
            t.Add(Pair("spectator model: a Moved spectates again at its URL with the latest Follow; a recording's end is a clean, final 1000", MovedAndRecordingEnd));
            t.Add(Pair("spectator model: a missing room is 4006 and final; a server below v6 is never spectated nor joined", MissingRoomAndOldServer));
            t.Add(Pair("spectator model: an Error and then a lost link close with the Error's code: 1013 retried, 4006 final", ErrorThenLostLink));
        }

        static KeyValuePair<string, Action> Pair(string name, Action a) { return new KeyValuePair<string, Action>(name, a); }

        /// <summary>Bounds each wait; the fake server answers at once.</summary>
        const double Timeout = 30;

        static Welcome RoomWelcome()
        {
            var w = new Welcome
            {
                ProtocolVersion = 6, Entity = 0, TickRateHz = 30, Tick = 100, WorldWidth = 1000, WorldHeight = 1000,
                Game = "coins", IsWelcome4 = true, MoveRule = MoveRuleKind.Walk, Speed = 4,
            };
            w.Kinds.Add("player");
            w.Kinds.Add("coin");
            w.EventKinds.Add("joined");
            w.EventKinds.Add("left");
            w.EventKinds.Add("collected");
            return w;
        }

        static ServerMessage SpectatingMsg(uint? follow, bool recording)
        {
            var s = new Spectating { Welcome = RoomWelcome(), Follow = follow, DelayMs = recording ? 0u : 100u, Recording = recording };
            return new ServerMessage { Type = ServerMessageType.Spectating, Spectating = s, Welcome = s.Welcome };
        }

        /// <summary>A room of still entities, as the server would send its Update3s.</summary>
        sealed class ScriptedRoom
        {
            readonly List<SpawnRecord> entities = new List<SpawnRecord>();
            uint tick;
            bool started;

            public void Spawn(uint id, byte kind, uint x, uint y)
            {
                entities.Add(new SpawnRecord { Id = id, Kind = kind, X = x, Y = y });
                entities.Sort((a, b) => a.Id.CompareTo(b.Id));
            }

            uint Checksum()
            {
                uint sum = 0;
                foreach (var e in entities)
                {
                    var f = e.Fields;
                    unchecked { sum += ViewChecksum.EntityHash(e.Id, e.Kind, e.X, e.Y, ref f); }
                }
                return sum;
            }

            /// <summary>The next tick's update: the first spawns everything, later ones hold it still.</summary>
            public ServerMessage Update(params GameEvent[] events)
            {
                var u = new Update3 { AckDelta = 0, Checksum = Checksum(), Sparse = true };
                if (!started)
                {
                    tick = 101;
                    u.TickGap = tick;
                    u.Held = 0;
                    u.Spawns.AddRange(entities);
                    started = true;
                }
                else
                {
                    tick++;
                    u.TickGap = 1;
                    u.Held = entities.Count;
                }
                u.Events.AddRange(events);
                return new ServerMessage { Type = ServerMessageType.Update3, Update3 = u };
            }
        }

        static GameEvent Event(uint seq, ushort kind, uint entity)
        {
            return new GameEvent { Seq = seq, Kind = kind, Entity = entity, Value = 1, Text = "" };
        }

        static FakePeer WaitPeer(FakeServer server, TickstreamClient c)
        {
            FakePeer peer = null;
            LiveTests.Until(() => server.TryNextPeer(out peer), "a connection to the fake server", Timeout, c);
            return peer;
        }

        /// <summary>The next message the client sent other than a Ping.</summary>
        static ClientMessage NextMessage(FakePeer peer, TickstreamClient c, string what)
        {
            ClientMessage m = null;
            LiveTests.Until(() =>
            {
                byte[] bytes;
                while (m == null && peer.TryReceive(out bytes))
                {
                    ClientMessage decoded;
                    string error;
                    Check.True(ClientMessages.TryDecode(bytes, out decoded, out error), "the client's message decodes (" + error + ")");
                    if (decoded.Variant != 2) m = decoded;
                }
                return m != null;
            }, what, Timeout, c);
            return m;
        }

        /// <summary>Polls for <paramref name="seconds"/> and returns the variants of every message the client sent meanwhile.</summary>
        static List<int> SentFor(FakePeer peer, TickstreamClient c, double seconds)
        {
            var variants = new List<int>();
            var watch = System.Diagnostics.Stopwatch.StartNew();
            while (watch.Elapsed.TotalSeconds < seconds)
            {
                c.Poll();
                Thread.Sleep(5);
            }
            byte[] bytes;
            while (peer.TryReceive(out bytes))
            {
                ClientMessage m;
                string error;
                variants.Add(ClientMessages.TryDecode(bytes, out m, out error) ? m.Variant : -1);
            }
            return variants;
        }

        static void WatchesAndFollows()
        {
            using (var server = new FakeServer("tickstream.v6"))
            {
                var c = new TickstreamClient(new ClientOptions { Url = server.Url, Room = "duel-1", Spectate = true, Follow = 7 });
                Spectating started = null;
                int welcomes = 0, updates = 0;
                var errors = new List<ClientError>();
                var events = new List<GameEvent>();
                c.SpectatingStarted += s => started = s;
                c.Welcomed += w => welcomes++;
                c.Updated += r => updates++;
                c.Error += e => errors.Add(e);
                c.GameEventReceived += e => events.Add(e);
                c.Connect();
                var peer = WaitPeer(server, c);
                Check.True(peer.Offered != null && peer.Offered.Replace(" ", "").StartsWith("tickstream.v6,tickstream.v5", StringComparison.Ordinal), "v6 offered first: " + peer.Offered);
                var spectate = NextMessage(peer, c, "the Spectate");
                Check.Equal(5, spectate.Variant, "Spectate instead of Join");
                Check.Equal("duel-1", spectate.Room, "the room");
                Check.Equal((uint?)7, spectate.Follow, "following the option's entity");

                peer.Send(SpectatingMsg(7, false));
                LiveTests.Until(() => started != null, "Spectating", Timeout, c);
                Check.Equal(1, welcomes, "Welcomed too, with the Spectating's welcome");
                Check.True(c.IsSpectator && ReferenceEquals(started, c.Spectating), "the client's Spectating");
                Check.Equal((uint?)7, c.Spectating.Follow, "what it follows");
                Check.Equal(100u, c.Spectating.DelayMs, "its delay");
                Check.Equal(ConnectionState.Playing, c.State, "updates flow");
                Check.True(c.Predictor == null, "nothing predicted");
                Check.Equal(0u, c.OwnEntity, "no own entity");
                Check.True(c.GetResumeState() == null, "nothing to resume");

                // Entity 0 is a real entity: a spectator draws it with the others.
                var room = new ScriptedRoom();
                room.Spawn(0, 0, 6400, 6400);
                room.Spawn(7, 0, 12800, 12800);
                room.Spawn(9, 1, 19200, 6400);
                peer.Send(room.Update(Event(1, 0, 7), Event(2, 0, 0)));
                for (int i = 0; i < 29; i++) peer.Send(i == 10 ? room.Update(Event(3, 2, 7)) : room.Update());
                LiveTests.Until(() => updates >= 30, "30 updates", Timeout, c);
                Check.Equal(0, errors.Count, "no error: " + (errors.Count > 0 ? errors[0].ToString() : ""));
                Check.Equal("1,2,3", string.Join(",", events.ConvertAll(e => e.Seq.ToString()).ToArray()), "events numbered from 1, in order");
                Check.Equal("collected", events[2].KindName, "named by the welcome");

                c.SetInput(1, 0);
                var sent = SentFor(peer, c, 0.4);
                Check.True(!sent.Contains(1) && !sent.Contains(4), "no Input nor Input5 from a spectator: " + string.Join(",", sent.ConvertAll(v => v.ToString()).ToArray()));

                var remotes = new List<EntityView>();
                EntityView own;
                bool hasOwn = true;
                LiveTests.Until(() => { hasOwn = c.Frame(remotes, out own); return remotes.Count == 3; }, "every entity drawn", Timeout, c);
                Check.True(!hasOwn, "Frame reports no own entity");
                var ids = remotes.ConvertAll(v => v.Id);
                ids.Sort();
                Check.Equal("0,7,9", string.Join(",", ids.ConvertAll(v => v.ToString()).ToArray()), "entities 0, 7 and 9, interpolated");

                Check.True(c.Follow(9), "Follow is a spectator's");
                var follow = NextMessage(peer, c, "the Follow");
                Check.Equal(6, follow.Variant, "a Follow");
                Check.Equal((uint?)9, follow.Follow, "of entity 9");
                Check.True(c.Follow(null), "the whole room again");
                Check.True(!NextMessage(peer, c, "the second Follow").Follow.HasValue, "Follow { None }");
                Check.True(!c.Following.HasValue, "the choice is kept");

                var stats = new ClientStats();
                c.GetStats(stats);
                Check.True(stats.Spectator, "stats say spectator");
                Check.Equal(0L, stats.Desyncs, "zero checksum mismatches");
                Check.Equal(0u, stats.InputSeq, "no input seq used");
                Check.Equal(6, stats.ProtocolVersion, "v6");
                LiveTests.Finish(c);
            }
        }

        static void MovedAndRecordingEnd()
        {
            using (var a = new FakeServer("tickstream.v6"))
            using (var b = new FakeServer("tickstream.v6"))
            {
                var c = new TickstreamClient(new ClientOptions { Url = a.Url, Room = "final", Spectate = true });
                int starts = 0;
                var errors = new List<ClientError>();
                var events = new List<GameEvent>();
                string movedTo = null;
                CloseInfo closed = null;
                c.SpectatingStarted += s => starts++;
                c.Error += e => errors.Add(e);
                c.GameEventReceived += e => events.Add(e);
                c.Moved += url => movedTo = url;
                c.Closed += info => closed = info;
                c.Connect();
                var pa = WaitPeer(a, c);
                Check.True(!NextMessage(pa, c, "the Spectate").Follow.HasValue, "the whole room by default");
                pa.Send(SpectatingMsg(null, false));
                var roomA = new ScriptedRoom();
                roomA.Spawn(3, 0, 640, 640);
                pa.Send(roomA.Update(Event(1, 0, 3)));
                LiveTests.Until(() => events.Count == 1, "the first event", Timeout, c);
                Check.True(c.Follow(3), "follow entity 3");
                Check.Equal((uint?)3, NextMessage(pa, c, "the Follow").Follow, "Follow { 3 } sent");

                pa.Send(new ServerMessage { Type = ServerMessageType.Moved, MovedUrl = b.Url });
                pa.Close(CloseCode.GoingAway, "room moved");
                var pb = WaitPeer(b, c);
                var again = NextMessage(pb, c, "the Spectate at the new URL");
                Check.Equal(5, again.Variant, "spectates again (no resume for a spectator)");
                Check.Equal("final", again.Room, "the same room");
                Check.Equal((uint?)3, again.Follow, "with the latest Follow");
                Check.Equal(b.Url, movedTo, "the Moved event names the URL");
                pb.Send(SpectatingMsg(3, true));
                var roomB = new ScriptedRoom();
                roomB.Spawn(3, 0, 640, 640);
                roomB.Spawn(4, 0, 1280, 640);
                pb.Send(roomB.Update(Event(1, 0, 4)));
                pb.Send(roomB.Update());
                LiveTests.Until(() => events.Count == 2 && c.Replica.Count == 2, "the new view's first event", Timeout, c);
                Check.Equal(2, starts, "a second Spectating");
                Check.Equal(1u, events[1].Seq, "a fresh view numbers its events from 1");
                Check.True(c.Spectating.Recording, "watching a recording");
                var stats = new ClientStats();
                c.GetStats(stats);
                Check.Equal(1L, stats.Moves, "one move followed");
                Check.Equal(0, errors.Count, "no error: " + (errors.Count > 0 ? errors[0].ToString() : ""));

                closed = null;
                pb.Close(CloseCode.Normal, "the recording ended");
                LiveTests.Until(() => closed != null, "the end of the recording", Timeout, c);
                Check.Equal(CloseCode.Normal, closed.Code, "closed with 1000");
                Check.Equal("the recording ended", closed.Reason, "and the server's reason");
                Check.True(closed.RecordingEnded, "marked as the recording's end");
                Check.True(!closed.WillReconnect, "no reconnect after it");
                Check.Equal(ConnectionState.Closed, c.State, "closed for good");
                Check.Equal(0, errors.Count, "the end of a recording is not an error");
                c.Close();
            }
        }

        static void MissingRoomAndOldServer()
        {
            using (var server = new FakeServer("tickstream.v6"))
            {
                var c = new TickstreamClient(new ClientOptions { Url = server.Url, Room = "nowhere", Spectate = true });
                ClientError error = null;
                CloseInfo closed = null;
                c.Error += e => error = e;
                c.Closed += info => closed = info;
                c.Connect();
                var peer = WaitPeer(server, c);
                NextMessage(peer, c, "the Spectate");
                peer.Send(new ServerMessage { Type = ServerMessageType.Error, ErrorCode = CloseCode.NoSuchRoom, ErrorReason = "no such room" });
                peer.Close(CloseCode.NoSuchRoom, "no such room");
                LiveTests.Until(() => closed != null, "the refusal", Timeout, c);
                Check.Equal(CloseCode.NoSuchRoom, closed.Code, "closed with 4006");
                Check.True(!closed.WillReconnect, "a missing room is not retried");
                Check.Equal(ConnectionState.Closed, c.State, "closed for good");
                Check.True(error != null && error.Kind == ErrorKind.Closed && error.CloseCode == CloseCode.NoSuchRoom, "an error value with 4006: " + error);
            }
            using (var old = new FakeServer("tickstream.v5"))
            {
                var c = new TickstreamClient(new ClientOptions { Url = old.Url, Room = "lobby", Spectate = true });
                ClientError error = null;
                c.Error += e => error = e;
                c.Connect();
                var peer = WaitPeer(old, c);
                LiveTests.Until(() => error != null, "the refusal of v5", Timeout, c);
                Check.Equal(ErrorKind.Protocol, error.Kind, "a protocol error");
                Check.True(error.Message.Contains("v6"), "saying spectating needs v6: " + error.Message);
                Check.Equal(ConnectionState.Closed, c.State, "no reconnect: an older server stays older");
                Check.Equal(0, SentFor(peer, c, 0.2).Count, "neither Spectate nor Join sent");
            }
            var player = new TickstreamClient(new ClientOptions { Url = "ws://127.0.0.1:1/ws", Room = "lobby" });
            Check.True(!player.Follow(3), "Follow is refused for a player (the server would close 1002)");
            Check.True(!player.IsSpectator && player.Following == null, "a player follows nothing");
        }
    
        /// <summary>The server's Error, then the socket cut without a close frame: what the client decides.</summary>
        static CloseInfo RefusedWithoutCloseFrame(int code, string reason)
        {
            using (var server = new FakeServer("tickstream.v6"))
            {
                var c = new TickstreamClient(new ClientOptions { Url = server.Url, Room = "duel-1", Spectate = true, ReconnectInitialMs = 60000 });
                CloseInfo closed = null;
                c.Closed += info => closed = info;
                c.Connect();
                var peer = WaitPeer(server, c);
                NextMessage(peer, c, "the Spectate");
                peer.Send(new ServerMessage { Type = ServerMessageType.Error, ErrorCode = (ushort)code, ErrorReason = reason });
                peer.Dispose();
                LiveTests.Until(() => closed != null, "the refusal", Timeout, c);
                c.Close();
                return closed;
            }
        }

        static void ErrorThenLostLink()
        {
            var full = RefusedWithoutCloseFrame(CloseCode.TryAgain, "spectator seats full");
            Check.Equal(CloseCode.TryAgain, full.Code, "the Error's 1013, not 1006");
            Check.Equal("spectator seats full", full.Reason, "with the Error's reason");
            Check.True(full.WillReconnect, "full seats are retried later");
            var missing = RefusedWithoutCloseFrame(CloseCode.NoSuchRoom, "no such room");
            Check.Equal(CloseCode.NoSuchRoom, missing.Code, "the Error's 4006, not 1006");
            Check.True(!missing.WillReconnect, "and 4006 stays final");
        }
    }
}
