using System;
using System.Collections.Generic;
using System.IO;

namespace Tickstream.Tests
{
    /// <summary>
    /// The codec and the replica against the protocol's golden bytes: shared/tests/golden/
    /// vectors.txt (v2 messages) and vectors-v3.txt (a v3 session), PROTOCOL.md §10.2's
    /// consistent sequence, §10.3's edge values, §9's checksum values and §15.2's prediction
    /// examples; v4's Welcome4; and malformed messages refused as error values.
    /// </summary>
    static class GoldenTests
    {
        public static void Register(List<KeyValuePair<string, Action>> t)
        {
            t.Add(Pair("golden: every vector of vectors.txt decodes and re-encodes byte for byte", EveryVectorRoundTrips));
            t.Add(Pair("golden: the v2 vectors decode to the documented values", V2Values));
            t.Add(Pair("golden: every vector of vectors-v3.txt decodes and re-encodes byte for byte", EveryV3VectorRoundTrips));
            t.Add(Pair("golden: the v3 session replays with every checksum verified", V3SessionReplays));
            t.Add(Pair("golden: a v3 replica that missed an update desyncs", V3MissedUpdateDesyncs));
            t.Add(Pair("golden: PROTOCOL.md 10.2's sequence applies with real checksums", ConsistentSequence));
            t.Add(Pair("golden: PROTOCOL.md 10.3's edge values decode and re-encode", EdgeValues));
            t.Add(Pair("golden: checksum check values of PROTOCOL.md 9", ChecksumValues));
            t.Add(Pair("golden: prediction examples of PROTOCOL.md 15.2", PredictExamples));
            t.Add(Pair("golden: every vector of vectors-v4.txt decodes with its move rule and re-encodes", Welcome4));
            t.Add(Pair("golden: the client_input5 vectors of vectors-v5.txt decode and re-encode", Input5));
            t.Add(Pair("golden: vectors-v5.txt's Moved decodes to its URL and re-encodes", MovedV5));
            t.Add(Pair("golden: every vector of vectors-v6.txt decodes and re-encodes byte for byte", EveryV6VectorRoundTrips));
            t.Add(Pair("golden: the v6 vectors decode to their values; the encoders write them", V6Values));
            t.Add(Pair("golden: the client offers v6 first, then v5 down to v2", OffersV6));
            t.Add(Pair("golden: malformed messages are error values", Malformed));
        }

        static KeyValuePair<string, Action> Pair(string name, Action a) { return new KeyValuePair<string, Action>(name, a); }

        static string Repo { get { return TestRunner.Arg("repo") ?? Path.Combine("..", ".."); } }

        /// <summary>A vector file: name → bytes, in file order.</summary>
        static List<KeyValuePair<string, byte[]>> Vectors(string file)
        {
            var list = new List<KeyValuePair<string, byte[]>>();
            foreach (var line in File.ReadAllLines(Path.Combine(Repo, "shared/tests/golden/" + file)))
            {
                var parts = line.Trim().Split(new[] { ' ', '\t' }, StringSplitOptions.RemoveEmptyEntries);
                if (parts.Length == 2) list.Add(new KeyValuePair<string, byte[]>(parts[0], Check.Unhex(parts[1])));
            }
            return list;
        }

        static byte[] Vector(string file, string name)
        {
            foreach (var v in Vectors(file)) if (v.Key == name) return v.Value;
            throw new CheckFailed("no vector " + name);
        }

        static ServerMessage Decode(ServerMessageDecoder d, byte[] bytes, string what)
        {
            ServerMessage m;
            string error;
            Check.True(d.TryDecode(bytes, 0, bytes.Length, out m, out error), what + " decodes (" + error + ")");
            return m;
        }

        static string Reencode(ServerMessage m)
        {
            var w = new ByteWriter();
            new ServerMessageEncoder().Encode(w, m);
            return Check.Hex(w.Buffer, w.Length);
        }

        static void MovedV5()
        {
            // v5: Moved (variant 6) = the URL as a string.
            // The file also holds the client_input5 vectors (Input5's test reads those).
            var bytes = Vector("vectors-v5.txt", "server_moved");
            var m = Decode(new ServerMessageDecoder(), bytes, "server_moved");
            Check.Equal(ServerMessageType.Moved, m.Type, "a Moved");
            Check.Equal("wss://b.example:7443/ws", m.MovedUrl, "its URL");
            Check.Equal(Check.Hex(bytes), Reencode(m), "re-encodes byte for byte");
        }

        static void OffersV6()
        {
            Check.Equal("tickstream.v6,tickstream.v5,tickstream.v4,tickstream.v3,tickstream.v2", string.Join(",", Protocol.Subprotocols), "v6 down to v2, newest first");
            Check.Equal(6, Protocol.VersionOf("tickstream.v6"), "names version 6");
            Check.Equal(0, Protocol.VersionOf("tickstream.v7"), "a version it does not speak is 0");
            Check.Equal(4006, CloseCode.NoSuchRoom, "NO_SUCH_ROOM");
            Check.Equal(4007, CloseCode.SpectatorsOnly, "SPECTATORS_ONLY");
        }

        /// <summary>Decodes every vector of <paramref name="file"/> (client_ and server_) and checks the re-encoding.</summary>
        static int RoundTripAll(string file)
        {
            var vectors = Vectors(file);
            foreach (var v in vectors)
            {
                if (v.Key.StartsWith("client_", StringComparison.Ordinal))
                {
                    ClientMessage m;
                    string error;
                    Check.True(ClientMessages.TryDecode(v.Value, out m, out error), v.Key + " decodes (" + error + ")");
                    var w = new ByteWriter();
                    ClientMessages.Encode(w, m);
                    Check.Equal(Check.Hex(v.Value), Check.Hex(w.Buffer, w.Length), v.Key + " re-encodes");
                }
                else
                {
                    var m = Decode(new ServerMessageDecoder(), v.Value, v.Key);
                    Check.Equal(Check.Hex(v.Value), Reencode(m), v.Key + " re-encodes");
                }
            }
            return vectors.Count;
        }

        static void EveryV6VectorRoundTrips()
        {
            Check.True(RoundTripAll("vectors-v6.txt") >= 6, "vectors-v6.txt holds its six vectors");
        }

        static ClientMessage DecodeClient(string file, string name)
        {
            ClientMessage m;
            string error;
            Check.True(ClientMessages.TryDecode(Vector(file, name), out m, out error), name + " decodes (" + error + ")");
            return m;
        }

        static string Encoded(ByteWriter w) { return Check.Hex(w.Buffer, w.Length); }

        static void V6Values()
        {
            // Spectate (variant 5) = room, then Option<EntityId>: 0, or 1 and the id.
            var spectate = DecodeClient("vectors-v6.txt", "client_spectate");
            Check.Equal(5, spectate.Variant, "Spectate is variant 5");
            Check.Equal("lobby", spectate.Room, "its room");
            Check.Equal((uint?)7, spectate.Follow, "following entity 7");
            var whole = DecodeClient("vectors-v6.txt", "client_spectate_room");
            Check.Equal("duel-1", whole.Room, "its room");
            Check.True(!whole.Follow.HasValue, "the whole room: no entity");
            // Follow (variant 6) = Option<EntityId>.
            var follow = DecodeClient("vectors-v6.txt", "client_follow");
            Check.Equal(6, follow.Variant, "Follow is variant 6");
            Check.Equal((uint?)300, follow.Follow, "entity 300");
            Check.True(!DecodeClient("vectors-v6.txt", "client_follow_room").Follow.HasValue, "back to the whole room");
            var w = new ByteWriter();
            ClientMessages.Spectate(w, "lobby", 7);
            Check.Equal(Check.Hex(Vector("vectors-v6.txt", "client_spectate")), Encoded(w), "Spectate { lobby, Some(7) }");
            ClientMessages.Spectate(w, "duel-1", null);
            Check.Equal(Check.Hex(Vector("vectors-v6.txt", "client_spectate_room")), Encoded(w), "Spectate { duel-1, None }");
            ClientMessages.Follow(w, 300);
            Check.Equal(Check.Hex(Vector("vectors-v6.txt", "client_follow")), Encoded(w), "Follow { Some(300) }");
            ClientMessages.Follow(w, null);
            Check.Equal(Check.Hex(Vector("vectors-v6.txt", "client_follow_room")), Encoded(w), "Follow { None }");

            // Spectating (variant 7) = the Welcome4 body, follow, delay_ms, recording.
            var live = Decode(new ServerMessageDecoder(), Vector("vectors-v6.txt", "server_spectating"), "server_spectating");
            Check.Equal(ServerMessageType.Spectating, live.Type, "a Spectating");
            var s = live.Spectating;
            Check.True(s != null && ReferenceEquals(s.Welcome, live.Welcome), "its welcome is the message's Welcome too");
            Check.Equal((ushort)6, s.Welcome.ProtocolVersion, "protocol 6");
            Check.Equal(0u, s.Welcome.Entity, "a spectator has no entity");
            Check.Equal(string.Empty, s.Welcome.ResumeToken, "and no resume token");
            Check.True(!s.Welcome.Resumed, "never resumed");
            Check.Equal(42u, s.Welcome.Tick, "the view starts at tick 42");
            Check.Equal("coins", s.Welcome.Game, "the game");
            Check.True(s.Welcome.IsWelcome4, "the v4 body, with its move rule");
            Check.Equal(MoveRuleKind.Walk, s.Welcome.MoveRule, "coins walks");
            Check.True(s.Welcome.Problem() == null, "a usable welcome: " + s.Welcome.Problem());
            Check.Equal((uint?)7, s.Follow, "follows entity 7");
            Check.Equal(2000u, s.DelayMs, "two seconds behind");
            Check.True(!s.Recording, "live, not a recording");
            var rec = Decode(new ServerMessageDecoder(), Vector("vectors-v6.txt", "server_spectating_recording"), "recording").Spectating;
            Check.True(!rec.Follow.HasValue, "the whole room");
            Check.Equal(0u, rec.DelayMs, "no delay for a recording");
            Check.True(rec.Recording, "a recording");

            // A bad Option tag is malformed, on both sides.
            string spectating = Check.Hex(Vector("vectors-v6.txt", "server_spectating_recording"));
            var badTag = Check.Unhex(spectating.Substring(0, spectating.Length - 6) + "020001");
            ServerMessage bad;
            string error;
            Check.True(!new ServerMessageDecoder().TryDecode(badTag, 0, badTag.Length, out bad, out error), "Option tag 2 in Spectating is refused");
            ClientMessage badFollow;
            Check.True(!ClientMessages.TryDecode(Check.Unhex("0602"), out badFollow, out error), "Option tag 2 in Follow is refused");
        }

        static void EveryVectorRoundTrips()
        {
            var vectors = Vectors("vectors.txt");
            Check.Equal(11, vectors.Count, "vectors.txt holds 11 vectors");
            foreach (var v in vectors)
            {
                if (v.Key.StartsWith("client_"))
                {
                    ClientMessage m;
                    string error;
                    Check.True(ClientMessages.TryDecode(v.Value, out m, out error), v.Key + " decodes (" + error + ")");
                    var w = new ByteWriter();
                    ClientMessages.Encode(w, m);
                    Check.Equal(Check.Hex(v.Value), Check.Hex(w.Buffer, w.Length), v.Key + " re-encodes");
                }
                else
                {
                    var m = Decode(new ServerMessageDecoder(), v.Value, v.Key);
                    Check.Equal(Check.Hex(v.Value), Reencode(m), v.Key + " re-encodes");
                }
            }
        }

        static void V2Values()
        {
            // The client encoders produce exactly the documented bytes.
            var w = new ByteWriter();
            ClientMessages.Join(w, "lobby");
            Check.Equal(Check.Hex(Vector("vectors.txt", "client_join")), Check.Hex(w.Buffer, w.Length), "Join { lobby }");
            ClientMessages.Input(w, 300, 1.0f, -0.5f, 1);
            Check.Equal(Check.Hex(Vector("vectors.txt", "client_input")), Check.Hex(w.Buffer, w.Length), "Input { 300, 1, -0.5, 1 }");
            ClientMessages.Ping(w, 1000000);
            Check.Equal(Check.Hex(Vector("vectors.txt", "client_ping")), Check.Hex(w.Buffer, w.Length), "Ping { 1000000 }");
            ClientMessages.Resume(w, "lobby", "00112233445566778899aabbccddeeff", 300);
            Check.Equal(Check.Hex(Vector("vectors.txt", "client_resume")), Check.Hex(w.Buffer, w.Length), "Resume");

            var d = new ServerMessageDecoder();
            var m = Decode(d, Vector("vectors.txt", "server_welcome"), "server_welcome");
            var x = m.Welcome;
            Check.Equal(ServerMessageType.Welcome, m.Type, "a Welcome");
            Check.Equal((ushort)2, x.ProtocolVersion, "protocol");
            Check.Equal(500u, x.Entity, "entity");
            Check.Equal((ushort)30, x.TickRateHz, "tick rate");
            Check.Equal(42u, x.Tick, "tick");
            Check.Equal(1000f, x.WorldWidth, "width");
            Check.Equal(150f, x.ViewRadius, "view radius");
            Check.Equal("coins", x.Game, "game");
            Check.Equal("player,coin", string.Join(",", x.Kinds), "kinds");
            Check.Equal("rotation", x.Fields[1].Name, "field 1");
            Check.Equal((float)(2 * Math.PI / 65536), x.Fields[1].Scale, "rotation scale");
            Check.Equal("joined,left,collected", string.Join(",", x.EventKinds), "event kinds");
            Check.Equal("00112233445566778899aabbccddeeff", x.ResumeToken, "token");
            Check.Equal(false, x.Resumed, "resumed");

            m = Decode(d, Vector("vectors.txt", "server_update_delta"), "server_update_delta");
            var u = m.Update;
            Check.Equal(70000u, u.Tick, "tick");
            Check.Equal(255u, u.AckSeq, "ack");
            Check.Equal(7u, u.Checksum, "checksum");
            Check.Equal("3,9", string.Join(",", u.Despawns), "despawns");
            Check.Equal(12u, u.Spawns[0].Id, "spawn id");
            Check.Equal(320u, u.Spawns[0].X, "spawn x");
            Check.Equal(640u, u.Spawns[0].Y, "spawn y");
            var changes = new List<string>();
            foreach (var c in u.Changes) changes.Add(c.Id + ":" + c.Dx + ":" + c.Dy + ":" + c.Form);
            Check.Equal("0:320:-320:0,1:-5:0:1,2:0:2047:2,4:3000:1:3", string.Join(",", changes), "changes with their forms");

            m = Decode(d, Vector("vectors.txt", "server_update_fields_events"), "server_update_fields_events");
            u = m.Update;
            Check.Equal(EntityFields.Of(5, -1), u.Spawns[0].Fields, "spawn fields");
            Check.Equal(20u, u.FieldChanges[0].Id, "field change id");
            Check.Equal(2, u.FieldChanges[0].Mask, "field change mask");
            Check.Equal(16384, u.FieldChanges[0].Values[1], "field 1 value");
            var e = u.Events[0];
            Check.Equal("1:2:3:10:hi", e.Seq + ":" + e.Kind + ":" + e.Entity + ":" + e.Value + ":" + e.Text, "the event");

            m = Decode(d, Vector("vectors.txt", "server_pong"), "server_pong");
            Check.Equal(1000000UL, m.PongClientTime, "pong time");
            Check.Equal(42u, m.PongServerTick, "pong tick");
            m = Decode(d, Vector("vectors.txt", "server_error"), "server_error");
            Check.Equal((ushort)4000, m.ErrorCode, "error code");
            Check.Equal("too slow", m.ErrorReason, "error reason");
        }

        static void EveryV3VectorRoundTrips()
        {
            var vectors = Vectors("vectors-v3.txt");
            Check.Equal(6, vectors.Count, "vectors-v3.txt holds six updates");
            foreach (var v in vectors)
            {
                var m = Decode(new ServerMessageDecoder(), v.Value, v.Key);
                Check.Equal(ServerMessageType.Update3, m.Type, v.Key + " is an Update3");
                Check.Equal(Check.Hex(v.Value), Reencode(m), v.Key + " re-encodes");
            }
            var first = Decode(new ServerMessageDecoder(), vectors[0].Value, "v3_session_1").Update3;
            Check.Equal(10u, first.TickGap, "v3_session_1 tick gap");
            Check.Equal(0x970A7241u, first.Checksum, "v3_session_1 checksum");
            Check.Equal(3, first.Spawns.Count, "v3_session_1 spawns");
            var sixth = Decode(new ServerMessageDecoder(), vectors[5].Value, "v3_session_6").Update3;
            Check.True(sixth.Sparse, "v3_session_6 is sparse");
            Check.Equal(297u, sixth.AckDelta, "v3_session_6 ack delta");
            Check.Equal("0:0:-960,1:-1:3", Moves(sixth), "v3_session_6 moves");
            var second = Decode(new ServerMessageDecoder(), vectors[1].Value, "v3_session_2").Update3;
            Check.Equal("0:320:0,2:226:226", Moves(second), "v3_session_2 moves (dense)");
        }

        static string Moves(Update3 u)
        {
            var s = new List<string>();
            foreach (var m in u.Moves) s.Add(m.Index + ":" + m.Rx + ":" + m.Ry);
            return string.Join(",", s);
        }

        static string View(Replica r)
        {
            var s = new List<string>();
            foreach (var e in r.SortedEntities())
            {
                string f = e.Fields.NonZeroMask != 0 ? " " + e.Fields : "";
                s.Add(e.Id + ":" + e.Kind + ":" + e.X + ":" + e.Y + f);
            }
            return string.Join(" ", s);
        }

        static void V3SessionReplays()
        {
            uint[] ticks = { 10, 11, 13, 14, 15, 18 };
            uint[] acks = { 0, 1, 1, 3, 3, 300 };
            var replica = new Replica();
            var d = new ServerMessageDecoder();
            int i = 0;
            foreach (var v in Vectors("vectors-v3.txt"))
            {
                var u = Decode(d, v.Value, v.Key).Update3;
                string desync = replica.Apply3(u);
                Check.True(desync == null, v.Key + " applies: " + desync);
                Check.Equal(ticks[i], replica.Tick, v.Key + " tick");
                Check.Equal(acks[i], replica.AckSeq, v.Key + " ack");
                Check.Equal(u.Checksum, replica.FullChecksum(), v.Key + ": the full checksum equals the server's");
                i++;
                if (i == 1) Check.Equal("0:1:6400:6400 1:1:100:200 2:0:3200:3200 [5, 0, 0, 0, 0, 0, 0, 0]", View(replica), "view after update 1");
                if (i == 3) Check.Equal("0:1:7360:6400 1:1:100:200 2:0:3879:3877 [6, 0, 0, 0, 0, 0, 0, 0]", View(replica), "view after update 3");
            }
            Check.Equal(15, replica.Count, "15 entities at the end");
            var two = replica.Get(2);
            Check.Equal("5012:5012:" + EntityFields.Of(0, -2), two.X + ":" + two.Y + ":" + two.Fields, "entity 2 at the end");
            var zero = replica.Get(0);
            Check.Equal("7360:7040", zero.X + ":" + zero.Y, "entity 0 at the end");
            var coin = replica.Get(31);
            Check.Equal("19840:640", coin.X + ":" + coin.Y, "the last coin");
        }

        static void V3MissedUpdateDesyncs()
        {
            var all = Vectors("vectors-v3.txt");
            var replica = new Replica();
            var d = new ServerMessageDecoder();
            Check.True(replica.Apply3(Decode(d, all[0].Value, "1").Update3) == null, "update 1 applies");
            Check.True(replica.Apply3(Decode(d, all[1].Value, "2").Update3) == null, "update 2 applies");
            string desync = replica.Apply3(Decode(d, all[3].Value, "4").Update3);
            Check.True(desync != null, "update 4 without 3 is a desync, not a silent drift");
        }

        static readonly string[] Sequence =
        {
            "0101007414784b00030001fb00fa0000000164c800fbf20100fb0019fb001900000000",
            "010301ab421cc20101010701fb4001fb8002000200c00e14fbcd0740010000",
            "010402ab421cc20000000000",
            "010502b1e8782700010801fb8002fb8002090a010001fbf4010106010102fbf4010600",
            "01060398d07380000001fbd207400102080800fbeb010300fb0080020202fbf401000003000800026869",
        };

        static void ConsistentSequence()
        {
            var replica = new Replica();
            var d = new ServerMessageDecoder();
            int n = 0;
            foreach (var hex in Sequence)
            {
                n++;
                var u = Decode(d, Check.Unhex(hex), "update " + n).Update;
                string desync = replica.Apply(u);
                Check.True(desync == null, "update " + n + " applies: " + desync);
            }
            Check.Equal("0:1:63680:320 7:1:320:640 8:1:640:640 [5, 0, 0, 0, 0, 0, 0, 0] 500:0:6720:6720 [0, 16384, 0, 0, 0, 0, 0, 0]", View(replica), "the view after update 5");
            Check.Equal(6u, replica.Tick, "tick 6");
            Check.Equal(3u, replica.AckSeq, "ack 3");
        }

        const string Edge = "01fcfffffffffcffffffff0403020101fcffffffff01fcffffffff00fcffffffff00fffcfffffffffcfeffffff0102fafbfc00fcffff0100fcfeff0100031400f87ffde89facb90300000001f0fffcfb5f5346fcfffffffffcfeffffff0205800efcf9ffffff01fcffffffff01fcfffffffffbfffffcfffffffffcffffffff05c3a9e282ac";

        static void EdgeValues()
        {
            var bytes = Check.Unhex(Edge);
            var m = Decode(new ServerMessageDecoder(), bytes, "the edge vector");
            var u = m.Update;
            Check.Equal(4294967295u, u.Tick, "tick");
            Check.Equal(4294967295u, u.Despawns[0], "despawn");
            Check.Equal(EntityFields.Of(int.MinValue, int.MaxValue, -1, 1, 125, 126, -65536, 65535), u.Spawns[0].Fields, "spawn fields");
            Check.Equal(4000000000u, u.Changes[1].Id, "change with a 9-byte header");
            Check.Equal(int.MinValue, u.Changes[2].Dx, "form 3 dx");
            Check.Equal(int.MaxValue, u.Changes[2].Dy, "form 3 dy");
            Check.Equal("é€", u.Events[0].Text, "multi-byte text");
            Check.Equal(int.MinValue, u.Events[0].Value, "event value");
            Check.Equal(Edge, Reencode(m), "re-encodes");
        }

        static void ChecksumValues()
        {
            Check.Equal(0u, ViewChecksum.Fmix32(0), "fmix32(0)");
            Check.Equal(0x514E28B7u, ViewChecksum.Fmix32(1), "fmix32(1)");
            var none = new EntityFields();
            Check.Equal(0xB9ABD0BCu, ViewChecksum.EntityHash(7, 1, 100, 200, ref none), "hash(7, 1, 100, 200)");
            var f = EntityFields.Of(5, 0, 0, -1);
            Check.Equal(0x6CFB17A4u, ViewChecksum.EntityHash(7, 1, 100, 200, ref f), "with fields");
            Check.Equal(0x7AC33406u, ViewChecksum.EntityHash(0, 1, 64000, 0, ref none), "hash(0, 1, 64000, 0)");
            Check.Equal(0x782F78C7u, ViewChecksum.EntityHash(500, 0, 6400, 6400, ref none), "hash(500, 0, 6400, 6400)");
        }

        static void PredictExamples()
        {
            Check.Equal(110L, LinearPrediction.Predict(100, 90, 1, 1), "predict(100, 90, 1, 1)");
            Check.Equal(120L, LinearPrediction.Predict(100, 90, 2, 1), "predict(100, 90, 2, 1)");
            Check.Equal(103L, LinearPrediction.Predict(100, 95, 1, 2), "predict(100, 95, 1, 2)");
            Check.Equal(97L, LinearPrediction.Predict(100, 105, 1, 2), "predict(100, 105, 1, 2)");
            Check.Equal(102L, LinearPrediction.Predict(100, 93, 1, 3), "predict(100, 93, 1, 3)");
            Check.Equal(0L, LinearPrediction.Predict(5, 20, 1, 1), "predict(5, 20, 1, 1)");
            Check.Equal(4294967295L, LinearPrediction.Predict(4294967290, 0, 5, 1), "clamped at the top");
        }

        static void Input5()
        {
            // v5: Input5 (ClientMsg variant 4) = Input's fields, then view_tick and view_frac.
            // The file may hold other v5 messages; only the client_input5 vectors are read here.
            int seen = 0;
            foreach (var v in Vectors("vectors-v5.txt"))
            {
                if (!v.Key.StartsWith("client_input5", StringComparison.Ordinal)) continue;
                seen++;
                ClientMessage m;
                string error;
                Check.True(ClientMessages.TryDecode(v.Value, out m, out error), v.Key + ": decodes (" + error + ")");
                Check.Equal(4, m.Variant, v.Key + ": variant 4");
                var w = new ByteWriter();
                ClientMessages.Encode(w, m);
                Check.Equal(Check.Hex(v.Value), Check.Hex(w.ToArray()), v.Key + ": re-encodes byte for byte");
            }
            Check.Equal(2, seen, "two client_input5 vectors");
            ClientMessage i5;
            string err;
            ClientMessages.TryDecode(Vector("vectors-v5.txt", "client_input5"), out i5, out err);
            Check.Equal(42u, i5.Seq, "seq");
            Check.Equal(1f, i5.Dx, "dx");
            Check.Equal(-0.5f, i5.Dy, "dy");
            Check.Equal(1000u, i5.ViewTick, "view tick");
            Check.Equal((byte)128, i5.ViewFrac, "half a tick");
            uint tick;
            byte frac;
            ClientMessages.ViewTime(1000.5, out tick, out frac);
            Check.Equal(1000u, tick, "viewTime(1000.5): tick");
            Check.Equal((byte)128, frac, "viewTime(1000.5): frac");
            ClientMessages.ViewTime(7.9999999, out tick, out frac);
            Check.Equal((byte)255, frac, "never 256");
            ClientMessages.ViewTime(double.NaN, out tick, out frac);
            Check.Equal(0u, tick, "NaN is tick 0");
        }

        static void Welcome4()
        {
            // v4: Welcome4 (variant 5) = the v3 Welcome's fields (protocol 4), then the move rule.
            var vectors = Vectors("vectors-v4.txt");
            Check.Equal(3, vectors.Count, "vectors-v4.txt holds three welcomes");
            foreach (var v in vectors)
            {
                var m = Decode(new ServerMessageDecoder(), v.Value, v.Key);
                var w = m.Welcome;
                Check.True(w.IsWelcome4, v.Key + ": decoded as Welcome4");
                Check.Equal((ushort)4, w.ProtocolVersion, v.Key + ": protocol 4");
                Check.Equal(Check.Hex(v.Value), Reencode(m), v.Key + ": re-encodes byte for byte");
            }
            var arena = Decode(new ServerMessageDecoder(), Vector("vectors-v4.txt", "server_welcome4_arena"), "arena").Welcome;
            Check.Equal("arena", arena.Game, "game");
            Check.Equal("9f86d081884c7d659a2feaa0c55ad015", arena.ResumeToken, "token");
            Check.Equal(MoveRuleKind.Walk, arena.MoveRule, "arena walks");
            Check.Equal(5f, arena.Speed, "at 5 units per tick");
            var coins = Decode(new ServerMessageDecoder(), Vector("vectors-v4.txt", "server_welcome4"), "coins").Welcome;
            Check.Equal(MoveRuleKind.Walk, coins.MoveRule, "coins walks");
            Check.Equal(4f, coins.Speed, "at 4 units per tick");
            var own = Decode(new ServerMessageDecoder(), Vector("vectors-v4.txt", "server_welcome4_own_game"), "own").Welcome;
            Check.Equal("mine", own.Game, "a game of one's own");
            Check.Equal(MoveRuleKind.None, own.MoveRule, "publishes no rule");
            // The v4 arena welcome is the v2 one with `05 04` in front and the rule behind.
            string v2 = Check.Hex(Vector("vectors.txt", "server_welcome_arena"));
            Check.Equal("0504" + v2.Substring(4) + "010000a040", Check.Hex(Vector("vectors-v4.txt", "server_welcome4_arena")), "the documented layout");
            ServerMessage bad;
            string error;
            string ownHex = Check.Hex(Vector("vectors-v4.txt", "server_welcome4_own_game"));
            var unknown = Check.Unhex(ownHex.Substring(0, ownHex.Length - 2) + "02");
            Check.True(!new ServerMessageDecoder().TryDecode(unknown, 0, unknown.Length, out bad, out error), "an unknown move rule is malformed");
        }

        static void Malformed()
        {
            var cases = new Dictionary<string, string>
            {
                { "trailing byte", Check.Hex(Vector("vectors.txt", "server_pong")) + "00" },
                { "truncated", "02fc40420f" },
                { "u32 with a u64 tag", "02fc40420f00fd0000000000000000" },
                { "bool 2", Check.Hex(Vector("vectors.txt", "server_welcome_arena")).Substring(0, Check.Hex(Vector("vectors.txt", "server_welcome_arena")).Length - 2) + "02" },
                { "unknown variant", "08" },
                { "a change that moves nothing", "0101" + "00" + "00000000" + "000001" + "00" + "000000" + "0000" },
                { "a field change with mask 0", "0101" + "00" + "00000000" + "000000" + "01" + "1400" + "00" },
                { "Update3 with non-zero padding", "0401" + "00" + "00000000" + "00" + "000101" + "000000" },
                { "Update3 with a sparse move past held", "0401" + "00" + "00000000" + "00" + "03010148" + "000000" },
                { "a list over 65536", "0101" + "00" + "00000000" + "fc01000100" },
                { "invalid UTF-8", "0300" + "02c328" },
            };
            foreach (var c in cases)
            {
                var bytes = Check.Unhex(c.Value);
                ServerMessage m;
                string error;
                Check.True(!new ServerMessageDecoder().TryDecode(bytes, 0, bytes.Length, out m, out error), c.Key + " is refused");
                Check.True(!string.IsNullOrEmpty(error), c.Key + " says why");
            }
        }
    }
}
