using System;
using System.Collections.Generic;

namespace Tickstream
{
    /// <summary>
    /// Renders remote entities a little in the past, interpolating linearly between the two
    /// known states around the render tick (PROTOCOL.md §13.2, as <c>Interpolator</c> in
    /// tickstream.js and the Rust client): positions in world units, and the game fields as they
    /// were at the render tick. Past the newest state, an entity that moved in the newest update
    /// goes on with its last velocity for at most <see cref="MaxExtrapolationTicks"/>, then holds;
    /// when the next states say otherwise, the difference is blended out over
    /// <see cref="SmoothingMs"/> rather than drawn in one frame. A move larger than its kind
    /// allows (<see cref="StepOf"/>) is a teleport: drawn in one step at its tick.
    ///
    /// Each entity keeps a ring of <see cref="Samples"/> states (and of <see cref="FieldSamples"/>
    /// field changes), created when it spawns and reused after it despawns: recording and
    /// rendering allocate nothing in steady state. The render tick comes from
    /// <see cref="ServerClock.RenderTickAt"/>.
    /// </summary>
    public sealed class Interpolator
    {
        /// <summary>States kept per entity.</summary>
        public const int Samples = 32;
        /// <summary>Field changes kept per entity (games with fields).</summary>
        public const int FieldSamples = 8;
        /// <summary>Kind numbers (a u8 on the wire).</summary>
        const int Kinds = 256;

        sealed class Track
        {
            public uint Id;
            public byte Kind;
            public int Head, N;
            public readonly double[] T = new double[Samples];
            public readonly double[] X = new double[Samples];
            public readonly double[] Y = new double[Samples];
            public readonly bool[] Snap = new bool[Samples];
            // The position drawn by the last frame, the correction still blended in, the speed per
            // tick of the last move, and whether the last sample (frame) went past the newest state.
            public double DrawnX, DrawnY, CorrX, CorrY, Speed;
            public bool Extrapolated, DrewPast;
            // Game fields by tick (games with fields): a ring of the last FieldSamples changes.
            public double[] FT;
            public EntityFields[] FV;
            public int FTotal;

            public int At(int i) { return (Head + i) % Samples; }
            public int Last { get { return At(N - 1); } }

            public void Reset(uint id, byte kind, bool fields)
            {
                Id = id; Kind = kind; Head = 0; N = 0;
                DrawnX = DrawnY = CorrX = CorrY = Speed = 0;
                Extrapolated = DrewPast = false;
                FTotal = 0;
                if (fields && FT == null) { FT = new double[FieldSamples]; FV = new EntityFields[FieldSamples]; }
            }

            public void Push(double t, double x, double y, bool snap)
            {
                if (N == Samples) { Head = (Head + 1) % Samples; N--; }
                int j = At(N++);
                T[j] = t; X[j] = x; Y[j] = y; Snap[j] = snap;
            }

            public void PushFields(double t, ref EntityFields f)
            {
                int s = FTotal++ % FieldSamples;
                FT[s] = t;
                FV[s] = f;
            }

            /// <summary>The game fields as of tick <paramref name="t"/>: the newest change at or before it.</summary>
            public void FieldsAt(double t, out EntityFields f)
            {
                int oldest = Math.Max(0, FTotal - FieldSamples);
                int k = FTotal - 1;
                while (k > oldest && FT[k % FieldSamples] > t) k--;
                if (k >= 0) f = FV[k % FieldSamples];
                else f = default(EntityFields);
            }

            /// <summary>
            /// The position at fractional tick <paramref name="t"/>. Past the newest sample, an
            /// entity that moved in the newest update (<paramref name="hasNewest"/>,
            /// <paramref name="newest"/>) goes on with its last velocity for at most
            /// <paramref name="limit"/> ticks, then holds; <see cref="Extrapolated"/> says whether it did.
            /// </summary>
            public void Sample(double t, double limit, bool hasNewest, double newest, out double x, out double y)
            {
                Extrapolated = false;
                int first = At(0);
                if (t <= T[first]) { x = X[first]; y = Y[first]; return; }
                for (int i = N - 1; i > 0; i--)
                {
                    int a = At(i - 1);
                    if (T[a] > t) continue;
                    int b = At(i);
                    if (t >= T[b])
                    {
                        // Past the newest sample.
                        double f = 0;
                        if (i == N - 1 && hasNewest && T[b] == newest && !Snap[b] && limit > 0)
                        {
                            f = Math.Min(t - T[b], limit) / (T[b] - T[a]);
                            Extrapolated = true;
                        }
                        x = X[b] + (X[b] - X[a]) * f;
                        y = Y[b] + (Y[b] - Y[a]) * f;
                    }
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

            /// <summary>Drops samples no longer needed at tick t or later (two stay: the velocity past the newest).</summary>
            public void Prune(double t)
            {
                while (N > 2 && T[At(1)] <= t) { Head = (Head + 1) % Samples; N--; }
            }
        }

        readonly Dictionary<uint, Track> tracks = new Dictionary<uint, Track>();
        readonly Stack<Track> spare = new Stack<Track>();
        readonly double maxStep;
        /// <summary>The configured step per kind (0: maxStep) and the speed per kind seen steadily.</summary>
        readonly double[] kindStep = new double[Kinds];
        readonly double[] kindSpeed = new double[Kinds];
        readonly bool fields;
        bool hasLast;
        uint lastTick;
        long records, recordsDrawn;
        bool hasRender;
        double renderTick, renderAt;

        /// <summary>
        /// An interpolator. <paramref name="maxStep"/>: the largest legitimate move per tick in
        /// world units (5 in the reference game) for kinds without their own in
        /// <paramref name="maxStepByKind"/> (by kind number; 0 = none); a larger jump snaps, unless
        /// the entity keeps moving at that speed (then its kind's step is raised to it).
        /// <paramref name="maxExtrapolationTicks"/>: how far past its newest state a moving
        /// entity goes on (150 ms at 30 Hz). <paramref name="smoothingMs"/>: how fast a wrong
        /// extrapolation is blended out. <paramref name="fields"/>: keep the game fields by tick
        /// (for games that have fields), so that they are drawn as of the render tick.
        /// </summary>
        public Interpolator(double maxStep = 5, double[] maxStepByKind = null, double maxExtrapolationTicks = 4.5,
            double smoothingMs = 200, bool fields = false)
        {
            this.maxStep = maxStep;
            if (maxStepByKind != null)
                for (int k = 0; k < Math.Min(Kinds, maxStepByKind.Length); k++) kindStep[k] = maxStepByKind[k] > 0 ? maxStepByKind[k] : 0;
            MaxExtrapolationTicks = maxExtrapolationTicks;
            SmoothingMs = smoothingMs > 0 ? smoothingMs : 200;
            this.fields = fields;
        }

        /// <summary>
        /// The interpolator of a session: <see cref="ClientOptions.MaxStep"/> (else the game's walk
        /// speed <paramref name="speed"/>, else 5) for every kind but those named in
        /// <see cref="ClientOptions.MaxStepByKind"/>; extrapolation up to
        /// <see cref="ClientOptions.MaxExtrapolationMs"/>; fields by tick when the game has fields.
        /// </summary>
        public static Interpolator ForSession(Welcome w, ClientOptions o, double speed)
        {
            double step = o.MaxStep > 0 ? o.MaxStep : speed > 0 ? speed : 5;
            double[] byKind = null;
            if (o.MaxStepByKind != null && o.MaxStepByKind.Count > 0)
            {
                byKind = new double[Math.Min(Kinds, w.Kinds.Count)];
                for (int k = 0; k < byKind.Length; k++)
                {
                    double v;
                    if (w.Kinds[k] != null && o.MaxStepByKind.TryGetValue(w.Kinds[k], out v)) byKind[k] = v;
                }
            }
            return new Interpolator(step, byKind, o.MaxExtrapolationMs * w.TickRateHz / 1000.0, 200, w.Fields.Count > 0);
        }

        /// <summary>How far past its newest state a moving entity is extrapolated, ticks.</summary>
        public double MaxExtrapolationTicks { get; private set; }
        /// <summary>The time constant a wrong extrapolation is blended out with, ms.</summary>
        public double SmoothingMs { get; private set; }

        /// <summary>How many entities are tracked.</summary>
        public int Count { get { return tracks.Count; } }

        /// <summary>The largest legitimate move per tick of entities of <paramref name="kind"/>.</summary>
        public double StepOf(byte kind)
        {
            return Math.Max(kindStep[kind] > 0 ? kindStep[kind] : maxStep, kindSpeed[kind]);
        }

        /// <summary>Forgets everything (a new view).</summary>
        public void Clear()
        {
            foreach (var t in tracks.Values) spare.Push(t);
            tracks.Clear();
            hasLast = false;
            hasRender = false;
        }

        Track NewTrack(uint id, byte kind)
        {
            var t = spare.Count > 0 ? spare.Pop() : new Track();
            t.Reset(id, kind, fields);
            return t;
        }

        /// <summary>Records an applied update without field changes (a game without fields).</summary>
        public void Record(uint tick, List<uint> despawns, List<SpawnRecord> spawns, Replica replica)
        {
            Record(tick, despawns, spawns, null, replica);
        }

        /// <summary>
        /// Records an applied update: its tick, despawns, spawns and field changes, and the replica
        /// after it, whose <see cref="Replica.Moved"/> lists the entities that moved.
        /// </summary>
        public void Record(uint tick, List<uint> despawns, List<SpawnRecord> spawns, List<FieldChangeRecord> fieldChanges, Replica replica)
        {
            records++;
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
                if (fields)
                {
                    var e = replica.Get(s.Id);
                    var f = e != null ? e.Fields : s.Fields;
                    t.PushFields(tick, ref f);
                }
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
                    t.Speed = 0;
                }
                double ticks = Math.Max(1, tick - t.T[last]);
                double dx = e.WorldX - t.X[last], dy = e.WorldY - t.Y[last];
                double limit = StepOf(t.Kind) * ticks * 1.5 + 1;
                double speed = Math.Sqrt(dx * dx + dy * dy) / ticks;
                bool snap = dx * dx + dy * dy > limit * limit;
                double before = t.Speed;
                if (snap && before > 0 && Math.Abs(speed - before) <= 0.2 * speed)
                {
                    // Two moves in a row at the same speed: a kind faster than its step, not a teleport.
                    kindSpeed[t.Kind] = Math.Max(kindSpeed[t.Kind], speed);
                    snap = false;
                }
                t.Speed = speed;
                t.Push(tick, e.WorldX, e.WorldY, snap);
            }
            if (fields && fieldChanges != null)
            {
                foreach (var c in fieldChanges)
                {
                    Track t;
                    var e = replica.Get(c.Id);
                    if (e != null && tracks.TryGetValue(c.Id, out t)) t.PushFields(tick, ref e.Fields);
                }
            }
            lastTick = tick;
            hasLast = true;
        }

        /// <summary>
        /// The position of <paramref name="id"/> at the fractional tick <paramref name="t"/>
        /// (extrapolated as <see cref="Render"/> does, without its blended corrections); false if
        /// not in view.
        /// </summary>
        public bool TryPositionAt(uint id, double t, out double x, out double y)
        {
            Track track;
            if (!tracks.TryGetValue(id, out track)) { x = 0; y = 0; return false; }
            bool drewPast = track.Extrapolated;
            track.Sample(t, MaxExtrapolationTicks, hasLast, lastTick, out x, out y);
            track.Extrapolated = drewPast;
            return true;
        }

        /// <summary>The game fields of <paramref name="id"/> as of tick <paramref name="t"/> (a game with fields); false if not in view.</summary>
        public bool TryFieldsAt(uint id, double t, out EntityFields f)
        {
            Track track;
            if (!fields || !tracks.TryGetValue(id, out track)) { f = default(EntityFields); return false; }
            track.FieldsAt(t, out f);
            return true;
        }

        /// <summary>
        /// Fills <paramref name="output"/> (cleared, reused) with every entity but
        /// <paramref name="except"/> as drawn at render tick <paramref name="t"/> and local time
        /// <paramref name="nowMs"/>, and returns how many. Positions are interpolated (or
        /// extrapolated) with corrections blended in; the fields are as of <paramref name="t"/>
        /// (or the replica's, for a game without fields). Call once per frame.
        /// </summary>
        public int Render(double t, double nowMs, Replica replica, uint except, List<EntityView> output)
        {
            return RenderCore(t, nowMs, replica, true, except, output);
        }

        /// <summary>
        /// As <see cref="Render"/>, every entity
        /// included: a spectator has no own entity to leave out (and entity 0 is a real one).
        /// </summary>
        public int RenderAll(double t, double nowMs, Replica replica, List<EntityView> output)
        {
            return RenderCore(t, nowMs, replica, false, 0, output);
        }

        int RenderCore(double t, double nowMs, Replica replica, bool skip, uint except, List<EntityView> output)
        {
            output.Clear();
            double dt = hasRender ? Math.Max(0, nowMs - renderAt) : 0;
            double decay = Math.Exp(-dt / SmoothingMs);
            double before = renderTick;
            // New states since the last frame: a track drawn past its newest may have been wrong.
            bool fresh = records != recordsDrawn && hasRender;
            renderAt = nowMs;
            renderTick = t;
            hasRender = true;
            recordsDrawn = records;
            double limit = MaxExtrapolationTicks;
            foreach (var track in tracks.Values)
            {
                if (skip && track.Id == except) continue;
                double x, y;
                if (fresh && track.DrewPast)
                {
                    // What the new states say about the moment of the last frame, against what it
                    // drew: the difference is drawn away over a few frames, unless it is a teleport.
                    track.Sample(before, limit, hasLast, lastTick, out x, out y);
                    if (!track.Snap[track.Last])
                    {
                        track.CorrX += track.DrawnX - x;
                        track.CorrY += track.DrawnY - y;
                    }
                }
                track.Sample(t, limit, hasLast, lastTick, out x, out y);
                track.DrewPast = track.Extrapolated;
                track.DrawnX = x;
                track.DrawnY = y;
                if (track.CorrX != 0 || track.CorrY != 0)
                {
                    track.CorrX *= decay;
                    track.CorrY *= decay;
                    if (Math.Abs(track.CorrX) + Math.Abs(track.CorrY) < 1e-3) { track.CorrX = 0; track.CorrY = 0; }
                    x += track.CorrX;
                    y += track.CorrY;
                }
                var v = new EntityView { Id = track.Id, Kind = track.Kind, X = x, Y = y };
                if (fields) track.FieldsAt(t, out v.Fields);
                else
                {
                    var e = replica != null ? replica.Get(track.Id) : null;
                    if (e != null) v.Fields = e.Fields;
                }
                output.Add(v);
            }
            return output.Count;
        }

        /// <summary>
        /// Fills <paramref name="output"/> with every tracked entity but <paramref name="except"/>
        /// at tick <paramref name="t"/>, without corrections and without fields (the stateless
        /// sampling; a frame uses <see cref="Render"/>).
        /// </summary>
        public void SampleAll(double t, uint except, List<EntityView> output)
        {
            output.Clear();
            foreach (var track in tracks.Values)
            {
                if (track.Id == except) continue;
                var v = new EntityView { Id = track.Id, Kind = track.Kind };
                TryPositionAt(track.Id, t, out v.X, out v.Y);
                output.Add(v);
            }
        }

        /// <summary>Drops samples no longer needed to render at tick <paramref name="t"/> or later.</summary>
        public void Prune(double t)
        {
            foreach (var track in tracks.Values) track.Prune(t);
        }
    }

    /// <summary>An entity as drawn: id, kind, a position in world units, and its game fields as of the render tick.</summary>
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
        /// <summary>The game fields (raw; <see cref="FieldSpec"/> gives the scale) as of the render tick.</summary>
        public EntityFields Fields;
    }
}
