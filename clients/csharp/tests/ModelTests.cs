using System;
using System.Collections.Generic;

namespace Tickstream.Tests
{
    /// <summary>The predictor and the interpolator in memory (PROTOCOL.md §13), without a server.</summary>
    static class ModelTests
    {
        public static void Register(List<KeyValuePair<string, Action>> t)
        {
            t.Add(new KeyValuePair<string, Action>("model: the walk normalises, moves speed per tick and clamps", Walk));
            t.Add(new KeyValuePair<string, Action>("model: reconcile replays unacknowledged inputs from the server's position", Reconcile));
            t.Add(new KeyValuePair<string, Action>("model: the interpolator blends between ticks and snaps teleports", Interpolate));
            t.Add(new KeyValuePair<string, Action>("model: the prediction rule comes from Welcome4 on v4, from the game before", Rules));
        }

        static void Walk()
        {
            var step = Predictor.Walk(5, 100, 100);
            double x, y;
            step(10, 10, 1, 0, out x, out y);
            Check.Equal(15.0, x, "moves 5 along x");
            step(10, 10, 0.1f, 0.1f, out x, out y);
            Check.True(Math.Abs(x - (10 + 5 / Math.Sqrt(2))) < 1e-9 && Math.Abs(y - x) < 1e-12, "a diagonal is not faster");
            step(98, 0, 1, -1, out x, out y);
            Check.Equal(100.0, x, "clamped at the width");
            Check.Equal(0.0, y, "clamped at 0");
            step(3, 4, 0, 0, out x, out y);
            Check.Equal("3:4", x + ":" + y, "(0, 0) stands still");
        }

        static void Reconcile()
        {
            var p = new Predictor(Predictor.Walk(5, 1000, 1000));
            p.Reconcile(10, 0, 100, 100);
            Check.Equal("100:100", p.X + ":" + p.Y, "the first reconcile takes the server's position");
            p.NoteInput(1, 1, 0);
            p.AdvanceTo(13); // ticks 11, 12, 13 with input 1
            Check.Equal(115.0, p.X, "three predicted steps");
            // The server applied input 1 from tick 12: at tick 12 it is at 105.
            p.Reconcile(12, 1, 105, 100);
            Check.Equal(110.0, p.X, "tick 13 replayed on top of the server's tick 12");
            Check.Equal(13L, p.Tick, "still at local tick 13");
        }

        static Welcome W(bool four, string game, MoveRuleKind motion = MoveRuleKind.None, float speed = 0)
        {
            return new Welcome { IsWelcome4 = four, ProtocolVersion = (ushort)(four ? 4 : 3), Game = game, WorldWidth = 1000, WorldHeight = 1000, TickRateHz = 30, MoveRule = motion, Speed = speed };
        }

        static double StepX(MoveStep step)
        {
            double x, y;
            step(100, 100, 1, 0, out x, out y);
            return x - 100;
        }

        static void Rules()
        {
            double speed;
            var o = new ClientOptions();
            Check.Equal(7.0, StepX(MoveRules.For(W(true, "arena", MoveRuleKind.Walk, 7), o, out speed)), "v4 Walk: the Welcome's speed");
            Check.Equal(7.0, speed, "and that speed bounds interpolation");
            Check.True(MoveRules.For(W(true, "mine", MoveRuleKind.None), o, out speed) == null, "v4 None: no prediction");
            Check.Equal(4.0, StepX(MoveRules.For(W(false, "coins"), o, out speed)), "v3 coins: 4 per tick");
            Check.Equal(5.0, StepX(MoveRules.For(W(false, "arena"), o, out speed)), "v3 arena: 5 per tick");
            o.PlayerSpeed = 6;
            Check.Equal(6.0, StepX(MoveRules.For(W(false, "arena"), o, out speed)), "v3 with PlayerSpeed");
            MoveStep mine = (double x, double y, float dx, float dy, out double nx, out double ny) => { nx = x + 2 * dx; ny = y; };
            o.Step = mine;
            Check.Equal(2.0, StepX(MoveRules.For(W(true, "mine", MoveRuleKind.None), o, out speed)), "a game's own rule wins on v4 None");
            Check.Equal(2.0, StepX(MoveRules.For(W(true, "arena", MoveRuleKind.Walk, 7), o, out speed)), "and over Walk");
        }

        static void Interpolate()
        {
            var replica = new Replica();
            var interp = new Interpolator(5);
            var u = new Update { Tick = 1 };
            var fields = new EntityFields();
            u.Spawns.Add(new SpawnRecord { Id = 3, Kind = 1, X = 640, Y = 640 });
            u.Checksum = ViewChecksum.EntityHash(3, 1, 640, 640, ref fields);
            Check.True(replica.Apply(u) == null, "spawn applies");
            interp.Record(u.Tick, u.Despawns, u.Spawns, replica);
            var v = new Update { Tick = 2 };
            v.Changes.Add(new ChangeRecord { Id = 3, Dx = 320, Form = 1 });
            v.Checksum = ViewChecksum.EntityHash(3, 1, 960, 640, ref fields);
            Check.True(replica.Apply(v) == null, "move applies");
            interp.Record(v.Tick, v.Despawns, v.Spawns, replica);
            double x, y;
            Check.True(interp.TryPositionAt(3, 1.5, out x, out y), "entity 3 tracked");
            Check.Equal(12.5, x, "half-way between 10 and 15");
            var w = new Update { Tick = 3 };
            w.Changes.Add(new ChangeRecord { Id = 3, Dx = 64000, Form = 1 });
            w.Checksum = ViewChecksum.EntityHash(3, 1, 64960, 640, ref fields);
            Check.True(replica.Apply(w) == null, "teleport applies");
            interp.Record(w.Tick, w.Despawns, w.Spawns, replica);
            interp.TryPositionAt(3, 2.5, out x, out y);
            Check.Equal(15.0, x, "a teleport snaps instead of sliding");
        }
    }
}
