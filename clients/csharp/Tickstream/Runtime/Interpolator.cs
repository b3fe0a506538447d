using System.Collections.Generic;

namespace Tickstream
{
    /// <summary>
    /// Renders remote entities a little in the past, interpolating linearly between the two
    /// known states around the render tick (PROTOCOL.md §13.2); a jump larger than the game
    /// allows snaps. Positions in world units. Each entity keeps a ring of
    /// <see cref="Samples"/> states, created when it spawns: recording and sampling allocate
    /// nothing in steady state. Deliberately small and self-contained, so that an adaptive delay
    /// (as in the JavaScript client) can replace the fixed one without touching the rest.
    /// </summary>
    public sealed class Interpolator
    {
        /// <summary>States kept per entity.</summary>
        public const int Samples = 32;

        sealed class Track
        {
            public uint Id;
            public byte Kind;
            public int Head, N;
            public readonly double[] T = new double[Samples];
            public readonly double[] X = new double[Samples];
            public readonly double[] Y = new double[Samples];
            public readonly bool[] Snap = new bool[Samples];

            public int At(int i) { return (Head + i) % Samples; }
            public int Last { get { return At(N - 1); } }

            public void Push(double t, double x, double y, bool snap)
            {
                if (N == Samples) { Head = (Head + 1) % Samples; N--; }
                int j = At(N++);
                T[j] = t; X[j] = x; Y[j] = y; Snap[j] = snap;
            }

            public void Sample(double t, out double x, out double y)
            {
                int first = At(0);
                if (t <= T[first]) { x = X[first]; y = Y[first]; return; }
                for (int i = N - 1; i > 0; i--)
                {
                    int a = At(i - 1);
                    if (T[a] > t) continue;
                    int b = At(i);
                    if (t >= T[b]) { x = X[b]; y = Y[b]; }
                    else if (Snap[b]) { x = X[a]; y = Y[a]; }
                    else
                    {
                        double f = (t - T[a]) / (T[b] - T[a]);
                        x = X[a] + (X[b] - X[a]) * f;
                        y = Y[a] + (Y[b] - Y[a]) * f;
                    }
                    return;
                }
                int last = Last;
                x = X[last]; y = Y[last];
            }

            public void Prune(double t)
            {
                while (N > 1 && T[At(1)] <= t) { Head = (Head + 1) % Samples; N--; }
            }
        }

        readonly Dictionary<uint, Track> tracks = new Dictionary<uint, Track>();
        readonly Stack<Track> spare = new Stack<Track>();
        readonly double maxStep;
        bool hasLast;
        uint lastTick;

        /// <param name="maxStep">The largest legitimate move per tick, world units; a larger jump snaps.</param>
        public Interpolator(double maxStep = 5) { this.maxStep = maxStep; }

        /// <summary>How many entities are tracked.</summary>
        public int Count { get { return tracks.Count; } }

        /// <summary>Forgets everything (a new view).</summary>
        public void Clear()
        {
            foreach (var t in tracks.Values) spare.Push(t);
            tracks.Clear();
            hasLast = false;
        }

        Track NewTrack(uint id, byte kind)
        {
            var t = spare.Count > 0 ? spare.Pop() : new Track();
            t.Id = id; t.Kind = kind; t.Head = 0; t.N = 0;
            return t;
        }

        /// <summary>
        /// Records an applied update: its tick, despawns and spawns, and the replica after it,
        /// whose <see cref="Replica.Moved"/> lists the entities that moved.
        /// </summary>
        public void Record(uint tick, List<uint> despawns, List<SpawnRecord> spawns, Replica replica)
        {
            foreach (var id in despawns)
            {
                Track old;
                if (tracks.TryGetValue(id, out old)) { tracks.Remove(id); spare.Push(old); }
            }
            foreach (var s in spawns)
            {
                Track old;
                if (tracks.TryGetValue(s.Id, out old)) { tracks.Remove(s.Id); spare.Push(old); }
                var t = NewTrack(s.Id, s.Kind);
                t.Push(tick, s.X / Protocol.GridScale, s.Y / Protocol.GridScale, true);
                tracks.Add(s.Id, t);
            }
            foreach (var m in replica.Moved)
            {
                Track t;
                var e = replica.Get(m.Id);
                if (e == null || !tracks.TryGetValue(m.Id, out t) || t.N == 0) continue;
                int last = t.Last;
                // Unchanged until the previous update: pin that, so the move is not spread back in time.
                if (hasLast && t.T[last] < lastTick)
                {
                    t.Push(lastTick, t.X[last], t.Y[last], false);
                    last = t.Last;
                }
                double ticks = System.Math.Max(1, tick - t.T[last]);
                double dx = e.WorldX - t.X[last], dy = e.WorldY - t.Y[last];
                double limit = maxStep * ticks * 1.5 + 1;
                t.Push(tick, e.WorldX, e.WorldY, dx * dx + dy * dy > limit * limit);
            }
            lastTick = tick;
            hasLast = true;
        }

        /// <summary>The position of <paramref name="id"/> at the fractional tick <paramref name="t"/>; false if not in view.</summary>
        public bool TryPositionAt(uint id, double t, out double x, out double y)
        {
            Track track;
            if (!tracks.TryGetValue(id, out track)) { x = 0; y = 0; return false; }
            track.Sample(t, out x, out y);
            return true;
        }

        /// <summary>Fills <paramref name="output"/> with every tracked entity but <paramref name="except"/> at tick <paramref name="t"/>.</summary>
        public void SampleAll(double t, uint except, List<EntityView> output)
        {
            output.Clear();
            foreach (var track in tracks.Values)
            {
                if (track.Id == except) continue;
                var v = new EntityView { Id = track.Id, Kind = track.Kind };
                track.Sample(t, out v.X, out v.Y);
                output.Add(v);
            }
        }

        /// <summary>Drops samples no longer needed to render at tick <paramref name="t"/> or later.</summary>
        public void Prune(double t)
        {
            foreach (var track in tracks.Values) track.Prune(t);
        }
    }

    /// <summary>An entity as drawn: id, kind and a position in world units.</summary>
    public struct EntityView
    {
        /// <summary>Entity id.</summary>
        public uint Id;
        /// <summary>Game-defined kind.</summary>
        public byte Kind;
        /// <summary>x, world units.</summary>
        public double X;
        /// <summary>y, world units.</summary>
        public double Y;
    }
}
