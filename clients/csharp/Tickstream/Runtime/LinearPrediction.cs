namespace Tickstream
{
    /// <summary>
    /// The integer extrapolation every v3 client computes exactly (PROTOCOL.md §15.2): c plus
    /// (c − p) × k / g rounded half away from zero, clamped to the u32 grid.
    /// </summary>
    public static class LinearPrediction
    {
        /// <summary>The most ticks a prediction extrapolates.</summary>
        public const long MaxTicks = 65536;

        /// <summary>predict(c, p, k, g) of §15.2.</summary>
        public static long Predict(long c, long p, long k, long g)
        {
            long v = c - p;
            if (v == 0 || g == 0) return c;
            if (k > MaxTicks) k = MaxTicks;
            long s;
            if (k == g) s = v;
            else
            {
                long n = v * k;
                long a = n < 0 ? -n : n;
                s = (2 * a + g) / (2 * g);
                if (n < 0) s = -s;
            }
            long x = c + s;
            return x < 0 ? 0 : x > 0xFFFFFFFFL ? 0xFFFFFFFFL : x;
        }
    }
}
