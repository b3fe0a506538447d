using System;

namespace Tickstream
{
    /// <summary>
    /// Estimates which server tick is arriving "now" from the arrival times of updates
    /// (PROTOCOL.md §13.1): a smoothed offset between the local clock and tick numbers, so that
    /// render time advances steadily instead of in steps of one update.
    /// </summary>
    public sealed class ServerClock
    {
        readonly double hz;
        double offset;
        bool known;

        /// <summary>A clock for a room ticking at <paramref name="tickRateHz"/>.</summary>
        public ServerClock(double tickRateHz) { hz = tickRateHz; }

        /// <summary>Records that an update for <paramref name="tick"/> arrived at <paramref name="nowMs"/>.</summary>
        public void Observe(uint tick, double nowMs)
        {
            double sample = tick - nowMs * hz / 1000.0;
            if (!known || Math.Abs(sample - offset) > 3) { offset = sample; known = true; }
            else offset += (sample - offset) * 0.1;
        }

        /// <summary>Whether an update was observed.</summary>
        public bool Known { get { return known; } }

        /// <summary>The fractional tick of an update arriving at <paramref name="nowMs"/> (only when Known).</summary>
        public double TickAt(double nowMs) { return nowMs * hz / 1000.0 + offset; }
    }
}
