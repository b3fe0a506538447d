using System;

namespace Tickstream
{
    /// <summary>
    /// Estimates which server tick is arriving "now" from the arrival times of updates, measures
    /// their jitter, and hands out the tick to render remote entities at (PROTOCOL.md §13.2; the
    /// same as <c>ServerClock</c> in tickstream.js and in the Rust client, so that all draw alike):
    /// <list type="bullet">
    /// <item>Each update for tick T arriving at local time now gives a sample T − now × hz. The
    /// offset is the mean of the first 20 samples, then moves 5 % of a sample's deviation
    /// (clamped to ±2 ticks), so that a stall bends it a little; a sample more than a second away
    /// (a resume, a stall of seconds) resets it.</item>
    /// <item>The jitter is how much later than the offset the latest of the last 64 samples
    /// arrived (at least one tick while fewer than 64 have).</item>
    /// <item>The delay is 1 tick + jitter + ¼ tick, at least the configured minimum, at most a
    /// second.</item>
    /// <item>The render tick runs with the local clock toward TickAt(now) − delay at 95 to 105 %
    /// speed (75 to 125 % in the first second, while the clock settles); it never steps, except
    /// by more than a second (after a reset); and it goes at most the maximum extrapolation past
    /// the newest tick.</item>
    /// </list>
    /// Nothing here allocates after construction.
    /// </summary>
    public sealed class ServerClock
    {
        /// <summary>Arrival samples the jitter is measured over.</summary>
        public const int Window = 64;
        /// <summary>How far the render clock's speed may differ from the local clock's once settled.</summary>
        public const double Slew = 0.05;
        /// <summary>The longest render delay, milliseconds.</summary>
        public const double MaxDelayMs = 1000;

        readonly double hz;
        readonly double minDelayMs;
        readonly double maxExtrapolationMs;
        readonly double[] samples = new double[Window];
        double offset;
        bool known;
        int count;
        double late;
        bool hasNewest;
        uint newest;
        bool hasRender;
        double render, renderAt;

        /// <summary>
        /// A clock for a room ticking at <paramref name="tickRateHz"/>: the render delay is at
        /// least <paramref name="minDelayMs"/> (0: what the jitter needs), and render time goes at
        /// most <paramref name="maxExtrapolationMs"/> past the newest tick.
        /// </summary>
        public ServerClock(double tickRateHz, double minDelayMs = 0, double maxExtrapolationMs = 150)
        {
            hz = tickRateHz;
            this.minDelayMs = minDelayMs > 0 ? minDelayMs : 0;
            this.maxExtrapolationMs = maxExtrapolationMs > 0 ? maxExtrapolationMs : 0;
        }

        /// <summary>Records that an update for <paramref name="tick"/> arrived at <paramref name="nowMs"/>.</summary>
        public void Observe(uint tick, double nowMs)
        {
            double sample = tick - nowMs * hz / 1000.0;
            if (!known || Math.Abs(sample - offset) > Math.Max(hz, 4))
            {
                offset = sample;
                known = true;
                count = 0;
                hasNewest = false;
                hasRender = false;
            }
            else
            {
                // The mean of the first 20 samples, then 5 % a sample.
                offset += Math.Min(2, Math.Max(-2, sample - offset)) * Math.Max(0.05, 1.0 / (count + 1));
            }
            samples[count % Window] = sample;
            count++;
            if (!hasNewest || tick > newest) { newest = tick; hasNewest = true; }
            double earliest = offset;
            for (int i = Math.Min(count, Window) - 1; i >= 0; i--)
                if (samples[i] < earliest) earliest = samples[i];
            late = Math.Max(offset - earliest, count < Window ? 1 : 0);
        }

        /// <summary>Whether an update was observed.</summary>
        public bool Known { get { return known; } }

        /// <summary>The newest tick observed since the last reset (only when Known).</summary>
        public uint Newest { get { return newest; } }

        /// <summary>The fractional tick of an update arriving at <paramref name="nowMs"/> (only when Known).</summary>
        public double TickAt(double nowMs) { return nowMs * hz / 1000.0 + offset; }

        /// <summary>The measured arrival jitter in milliseconds (0 before the first update).</summary>
        public double JitterMs { get { return known ? late * 1000.0 / hz : 0; } }

        /// <summary>The render delay the clock aims at, in ticks.</summary>
        public double DelayTicks
        {
            get
            {
                double ticks = Math.Min(1 + late + 0.25, MaxDelayMs * hz / 1000.0);
                return Math.Max(ticks, minDelayMs * hz / 1000.0);
            }
        }

        /// <summary>The render delay the clock aims at, in milliseconds.</summary>
        public double DelayMs { get { return DelayTicks * 1000.0 / hz; } }

        /// <summary>
        /// The tick to render remote entities at, at local time <paramref name="nowMs"/> (call it
        /// once per frame; the same time gives the same tick). NaN before the first update.
        /// </summary>
        public double RenderTickAt(double nowMs)
        {
            if (!known) return double.NaN;
            double target = TickAt(nowMs) - DelayTicks;
            double r;
            if (!hasRender) r = target;
            else
            {
                double dt = (nowMs - renderAt) * hz / 1000.0;
                if (!(dt > 0)) return render;
                // Seconds ahead of where render time would be at the local clock's speed.
                double err = (target - (render + dt)) / hz;
                // In the first second after a (re)start the clock is still settling: 25 %.
                double slew = count < hz ? 0.25 : Slew;
                if (Math.Abs(err) > 1) r = target;
                else r = render + dt * (1 + Math.Min(slew, Math.Max(-slew, err)));
            }
            double cap = newest + maxExtrapolationMs * hz / 1000.0;
            if (r > cap) r = cap;
            render = r;
            renderAt = nowMs;
            hasRender = true;
            return r;
        }
    }
}
