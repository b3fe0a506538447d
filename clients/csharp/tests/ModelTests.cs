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
            // Interpolation under jitter (PROTOCOL.md §13.2), as tests/js/interpolation.test.mjs.
            t.Add(new KeyValuePair<string, Action>("model: the clock measures the jitter and its delay covers it, at any tick rate", ClockJitter));
            t.Add(new KeyValuePair<string, Action>("model: render time never steps: 95-105 % speed, only a jump of seconds resets it", ClockSlew));
            t.Add(new KeyValuePair<string, Action>("model: render time goes at most MaxExtrapolationMs past the newest tick, then holds", ClockBound));
            t.Add(new KeyValuePair<string, Action>("model: a moving entity is extrapolated for a bounded time, a still one is not", Extrapolate));
            t.Add(new KeyValuePair<string, Action>("model: a wrong extrapolation is blended out over frames, not drawn in one", BlendOut));
            t.Add(new KeyValuePair<string, Action>("model: game fields are shown as of the render tick, with the positions", FieldsByTick));
            t.Add(new KeyValuePair<string, Action>("model: the snap threshold is per kind: configured by name, or learned from steady speed", SnapPerKind));
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

        static void ClockJitter()
        {
            foreach (int hz in new[] { 10, 30, 60 })
            {
                var clock = new ServerClock(hz);
                var random = new Random(hz);
                for (uint tick = 0; tick < 200; tick++) clock.Observe(tick, tick * 1000.0 / hz + 50 + random.NextDouble() * 80);
                Check.True(clock.JitterMs > 25 && clock.JitterMs < 60, hz + " Hz: about half of 0-80 ms later than the mean (" + clock.JitterMs + ")");
                double tickMs = 1000.0 / hz;
                Check.True(Math.Abs(clock.DelayMs - (1.25 * tickMs + clock.JitterMs)) < 1e-9, hz + " Hz: the delay is 1 1/4 ticks plus the jitter (" + clock.DelayMs + ")");
                var steady = new ServerClock(hz);
                for (uint tick = 0; tick < 200; tick++) steady.Observe(tick, tick * 1000.0 / hz + 50);
                Check.True(Math.Abs(steady.DelayMs - 1.25 * tickMs) < 1, hz + " Hz, no jitter: 1 1/4 ticks (" + steady.DelayMs + ")");
            }
            var floor = new ServerClock(30, 100);
            floor.Observe(1, 0);
            Check.Equal(100.0, floor.DelayMs, "InterpolationDelayMs is the minimum");
            Check.True(double.IsNaN(new ServerClock(30).RenderTickAt(0)), "no render tick before the first update");
        }

        static void ClockSlew()
        {
            var clock = new ServerClock(30);
            const double tickMs = 1000.0 / 30;
            for (uint tick = 0; tick < 100; tick++) clock.Observe(tick, tick * tickMs);
            double t = 100 * tickMs;
            double r = clock.RenderTickAt(t);
            // A 250 ms stall, then everything at once: the clock bends, render time does not step.
            for (uint tick = 100; tick < 108; tick++) clock.Observe(tick, t + 250);
            for (int i = 0; i < 120; i++)
            {
                t += 1000.0 / 60;
                if (i % 2 == 0) clock.Observe((uint)(108 + i / 2), t + 250 - tickMs);
                double next = clock.RenderTickAt(t);
                double speed = (next - r) / 0.5;
                Check.True(speed >= 0.95 - 1e-9 || next == clock.Newest + 4.5, "frame " + i + ": speed " + speed + " or held at the bound");
                Check.True(speed <= 1.05 + 1e-9, "frame " + i + ": at most 105 % (" + speed + ")");
                r = next;
            }
            clock.Observe(10000, t);
            Check.True(Math.Abs(clock.RenderTickAt(t + 1) - (10000 - clock.DelayTicks)) < 0.1, "a jump of seconds resets");
        }

        static void ClockBound()
        {
            var clock = new ServerClock(30, 0, 100);
            for (uint tick = 0; tick < 100; tick++) clock.Observe(tick, tick * (1000.0 / 30));
            Check.Equal(102.0, clock.RenderTickAt(99 * (1000.0 / 30) + 5000), "three ticks past tick 99 at most");
        }

        /// <summary>A replica and an interpolator fed with updates built from spawns, moves and field changes (grid points).</summary>
        sealed class Fed
        {
            public readonly Replica Replica = new Replica();
            public readonly Interpolator Interp;
            readonly Dictionary<uint, Entity> shadow = new Dictionary<uint, Entity>();
            Update u = new Update();

            public Fed(Interpolator interp) { Interp = interp; }

            public Fed Spawn(uint id, uint x, uint y, byte kind = 1, int field0 = 0)
            {
                var f = EntityFields.Of(field0);
                u.Spawns.Add(new SpawnRecord { Id = id, Kind = kind, X = x, Y = y, Fields = f });
                shadow[id] = new Entity { Id = id, Kind = kind, X = x, Y = y, Fields = f };
                return this;
            }

            public Fed Move(uint id, int dx, int dy = 0)
            {
                u.Changes.Add(new ChangeRecord { Id = id, Dx = dx, Dy = dy, Form = ChangeRecord.FormOf(dx, dy) });
                var e = shadow[id];
                e.X = (uint)(e.X + dx);
                e.Y = (uint)(e.Y + dy);
                return this;
            }

            public Fed Field0(uint id, int value)
            {
                u.FieldChanges.Add(new FieldChangeRecord { Id = id, Mask = 1, Values = EntityFields.Of(value) });
                shadow[id].Fields.F0 = value;
                return this;
            }

            public void Apply(uint tick)
            {
                u.Tick = tick;
                uint sum = 0;
                foreach (var e in shadow.Values) unchecked { sum += ViewChecksum.EntityHash(e.Id, e.Kind, e.X, e.Y, ref e.Fields); }
                u.Checksum = sum;
                string desync = Replica.Apply(u);
                Check.True(desync == null, "update " + tick + " applies: " + desync);
                Interp.Record(tick, u.Despawns, u.Spawns, u.FieldChanges, Replica);
                u = new Update();
            }

            public double X(uint id, double t)
            {
                double x, y;
                Check.True(Interp.TryPositionAt(id, t, out x, out y), "entity " + id + " tracked");
                return x;
            }
        }

        static void Extrapolate()
        {
            var f = new Fed(new Interpolator(5, null, 2));
            f.Spawn(1, 0, 0).Spawn(2, 0, 0).Apply(10);
            f.Move(1, 320).Move(2, 320).Apply(11);
            f.Move(1, 320).Apply(12);
            Check.Equal(15.0, f.X(1, 13), "one tick on at 5 units a tick");
            Check.Equal(20.0, f.X(1, 20), "two ticks at most, then held");
            Check.Equal(5.0, f.X(2, 13), "stopped at tick 12: held");
        }

        static void BlendOut()
        {
            var f = new Fed(new Interpolator(5, null, 3, 100));
            var list = new List<EntityView>();
            f.Spawn(1, 0, 0).Apply(10);
            f.Move(1, 320).Apply(11);
            f.Interp.Render(12, 0, f.Replica, uint.MaxValue, list);
            Check.Equal(10.0, list[0].X, "drawn a tick past the newest");
            // It turned back at tick 12: the new state says it was at 0 there.
            f.Move(1, -320).Apply(12);
            f.Interp.Render(12.5, 1000.0 / 60, f.Replica, uint.MaxValue, list);
            Check.True(list[0].X > 5, "still near where it was drawn (" + list[0].X + ")");
            double x = list[0].X;
            for (int i = 2; i < 60; i++)
            {
                f.Interp.Render(12.5 + i / 100.0, i * 1000.0 / 60, f.Replica, uint.MaxValue, list);
                Check.True(Math.Abs(list[0].X - x) < 3, "frame " + i + ": no big step (" + x + " to " + list[0].X + ")");
                x = list[0].X;
            }
            double truth = f.X(1, 12.5 + 59 / 100.0);
            Check.True(Math.Abs(x - truth) < 0.5, "and then where the states say (" + x + ", " + truth + ")");
        }

        static void FieldsByTick()
        {
            var f = new Fed(new Interpolator(5, null, 4.5, 200, true));
            var list = new List<EntityView>();
            f.Spawn(1, 0, 0, 1, 1).Apply(10);
            f.Field0(1, 2).Apply(11);
            f.Field0(1, 7).Apply(12);
            f.Interp.Render(10.5, 0, f.Replica, uint.MaxValue, list);
            Check.Equal(1, list[0].Fields.F0, "at 10.5: the spawn's score");
            f.Interp.Render(11.5, 10, f.Replica, uint.MaxValue, list);
            Check.Equal(2, list[0].Fields.F0, "at 11.5: tick 11's");
            f.Interp.Render(12, 20, f.Replica, uint.MaxValue, list);
            Check.Equal(7, list[0].Fields.F0, "at 12: the newest");
            Check.Equal(7, f.Replica.Get(1).Fields.F0, "the replica holds the newest");
            // A game without fields by tick draws the replica's.
            var g = new Fed(new Interpolator(5));
            g.Spawn(1, 0, 0, 1, 1).Apply(10);
            g.Field0(1, 2).Apply(11);
            g.Interp.Render(10.5, 0, g.Replica, uint.MaxValue, list);
            Check.Equal(2, list[0].Fields.F0, "without fields by tick: the replica's");
        }

        static void SnapPerKind()
        {
            var w = W(false, "coins");
            w.Kinds.Add("player");
            w.Kinds.Add("npc");
            var o = new ClientOptions { MaxStepByKind = new Dictionary<string, double> { { "npc", 12 } } };
            double speed;
            MoveRules.For(w, o, out speed);
            var session = Interpolator.ForSession(w, o, speed);
            Check.Equal(12.0, session.StepOf(1), "npc: as configured");
            Check.Equal(4.0, session.StepOf(0), "player: the game's player speed (coins)");
            Check.Equal(4.5, session.MaxExtrapolationTicks, "150 ms at 30 Hz");

            var f = new Fed(new Interpolator(5));
            f.Spawn(1, 0, 0, 3).Spawn(2, 0, 0, 4).Apply(10);
            for (uint tick = 11; tick <= 14; tick++) f.Move(1, 12 * 64).Apply(tick); // 12 units a tick, kind 3
            Check.True(f.Interp.StepOf(3) >= 12, "kind 3 learned its speed (" + f.Interp.StepOf(3) + ")");
            Check.Equal(42.0, f.X(1, 13.5), "interpolated between 36 and 48, not snapped");
            f.Move(2, 640 * 64).Apply(15);
            Check.Equal(5.0, f.Interp.StepOf(4), "a single jump teaches nothing");
            Check.Equal(0.0, f.X(2, 14.5), "and is a teleport");
        }
    }
}
