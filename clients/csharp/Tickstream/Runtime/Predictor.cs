using System;
using System.Collections.Generic;

namespace Tickstream
{
    /// <summary>
    /// One tick of the game's movement rule for the own entity: from (x, y) in world units with
    /// the input direction (dx, dy) to the new position. The built-in games use
    /// <see cref="Predictor.Walk"/>; a game of one's own supplies its rule.
    /// </summary>
    public delegate void MoveStep(double x, double y, float dx, float dy, out double nx, out double ny);

    /// <summary>
    /// Predicts the own entity ahead of the server with the game's rule (PROTOCOL.md §13.3) and
    /// reconciles with each update's ack_seq (§13.4). Positions in world units; ticks on the
    /// server's timeline. Bounded: at most <c>maxHistory</c> ticks and inputs are kept, in
    /// arrays allocated once.
    /// </summary>
    public sealed class Predictor
    {
        struct HistoryEntry { public long T; public uint Seq; public float Dx, Dy; }
        struct Dir { public float Dx, Dy; }

        readonly MoveStep step;
        readonly int maxHistory;
        readonly HistoryEntry[] history;
        int histHead, histCount;
        readonly Dictionary<uint, Dir> inputs = new Dictionary<uint, Dir>();
        readonly List<uint> scratch = new List<uint>();
        uint curSeq;
        float curDx, curDy;

        /// <summary>Whether a position is known (after the first reconcile).</summary>
        public bool HasPosition { get; private set; }
        /// <summary>Predicted x, world units.</summary>
        public double X { get; private set; }
        /// <summary>Predicted y, world units.</summary>
        public double Y { get; private set; }
        /// <summary>The last local tick stepped.</summary>
        public long Tick { get; private set; }
        bool hasTick;

        /// <summary>A predictor stepping with <paramref name="step"/>.</summary>
        public Predictor(MoveStep step, int maxHistory = 512)
        {
            if (step == null) throw new ArgumentNullException("step");
            this.step = step;
            this.maxHistory = Math.Max(8, maxHistory);
            history = new HistoryEntry[this.maxHistory];
            inputs[0] = new Dir();
        }

        /// <summary>
        /// The built-in games' rule (v4's Walk): per tick, the direction normalised (or zero),
        /// times speed, clamped to [0, width] × [0, height]; computed in double precision.
        /// </summary>
        public static MoveStep Walk(double speed, double worldWidth, double worldHeight)
        {
            return (double x, double y, float dx, float dy, out double nx, out double ny) =>
            {
                if (dx == 0 && dy == 0) { nx = x; ny = y; return; }
                double len = Math.Sqrt((double)dx * dx + (double)dy * dy);
                double inv = 1 / len;
                nx = Math.Min(Math.Max(x + dx * inv * speed, 0), worldWidth);
                ny = Math.Min(Math.Max(y + dy * inv * speed, 0), worldHeight);
            };
        }

        /// <summary>Records input <paramref name="seq"/> as sent; it is in force from the next tick stepped.</summary>
        public void NoteInput(uint seq, float dx, float dy)
        {
            inputs[seq] = new Dir { Dx = dx, Dy = dy };
            if (inputs.Count > maxHistory)
            {
                scratch.Clear();
                scratch.AddRange(inputs.Keys);
                scratch.Sort();
                for (int i = 0; inputs.Count > maxHistory && i < scratch.Count; i++) inputs.Remove(scratch[i]);
            }
            curSeq = seq; curDx = dx; curDy = dy;
        }

        void PushHistory(long t)
        {
            if (histCount == maxHistory) { histHead = (histHead + 1) % maxHistory; histCount--; }
            history[(histHead + histCount++) % maxHistory] = new HistoryEntry { T = t, Seq = curSeq, Dx = curDx, Dy = curDy };
        }

        /// <summary>Steps the prediction up to local tick <paramref name="t"/> with the newest input.</summary>
        public void AdvanceTo(long t)
        {
            if (!hasTick || !HasPosition || t <= Tick) return;
            long from = Math.Max(Tick, t - maxHistory);
            double x = X, y = Y;
            for (long k = from + 1; k <= t; k++)
            {
                step(x, y, curDx, curDy, out x, out y);
                PushHistory(k);
            }
            X = x; Y = y;
            Tick = t;
        }

        /// <summary>
        /// Reconciles with an update for tick <paramref name="T"/> acknowledging input
        /// <paramref name="A"/>, the server having the own entity at (sx, sy). Returns +1 when
        /// inputs reach the server later than predicted (run further ahead), −1 when earlier, else 0.
        /// </summary>
        public int Reconcile(long T, uint A, double sx, double sy)
        {
            int feedback = 0;
            bool found = false;
            uint seqAtT = 0;
            for (int i = 0; i < histCount; i++)
            {
                var h = history[(histHead + i) % maxHistory];
                if (h.T > T) break;
                found = true;
                seqAtT = h.Seq;
            }
            if (found) feedback = seqAtT > A ? 1 : seqAtT < A ? -1 : 0;
            while (histCount > 0 && history[histHead].T <= T) { histHead = (histHead + 1) % maxHistory; histCount--; }
            Dir acked;
            if (!inputs.TryGetValue(A, out acked)) acked = new Dir();
            double x = sx, y = sy;
            for (int i = 0; i < histCount; i++)
            {
                var h = history[(histHead + i) % maxHistory];
                if (h.Seq < A) step(x, y, acked.Dx, acked.Dy, out x, out y);
                else step(x, y, h.Dx, h.Dy, out x, out y);
            }
            X = x; Y = y;
            HasPosition = true;
            if (!hasTick || Tick < T) { Tick = T; hasTick = true; histCount = 0; histHead = 0; }
            if (inputs.Count > 1)
            {
                scratch.Clear();
                foreach (var seq in inputs.Keys) if (seq < A) scratch.Add(seq);
                foreach (var seq in scratch) inputs.Remove(seq);
            }
            return feedback;
        }
    }
}
