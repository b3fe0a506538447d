namespace Tickstream
{
    /// <summary>Appends bits most significant first (the Update3 encoder, for tests and tools).</summary>
    sealed class BitWriter
    {
        readonly ByteWriter bytes = new ByteWriter(32);
        int acc;
        int n;

        public void Clear() { bytes.Clear(); acc = 0; n = 0; }

        /// <summary>The low <paramref name="count"/> bits of <paramref name="v"/>.</summary>
        public void Put(ulong v, int count)
        {
            for (int i = count - 1; i >= 0; i--)
            {
                acc = acc << 1 | (int)((v >> i) & 1);
                if (++n == 8) { bytes.U8(acc); acc = 0; n = 0; }
            }
        }

        public void ExpGolomb(ulong value, int k)
        {
            ulong m = value + (1UL << k);
            int b = 0;
            for (ulong t = m; t != 0; t >>= 1) b++;
            Put(0, b - k - 1);
            Put(m, b);
        }

        static ulong Zigzag(long v) { return v >= 0 ? (ulong)v * 2 : (ulong)(-v) * 2 - 1; }

        public void Residual(long rx, long ry)
        {
            if (rx == 0 && ry == 0) Put(0, 1);
            else if (ry == 0 && (rx == 1 || rx == -1)) Put(rx > 0 ? 8UL : 9UL, 4);
            else if (rx == 0 && (ry == 1 || ry == -1)) Put(ry > 0 ? 10UL : 11UL, 4);
            else if ((rx == 1 || rx == -1) && (ry == 1 || ry == -1)) Put((ulong)(24 | (rx < 0 ? 2 : 0) | (ry < 0 ? 1 : 0)), 5);
            else
            {
                Put(7, 3);
                ExpGolomb(Zigzag(rx), 7);
                ExpGolomb(Zigzag(ry), 7);
            }
        }

        /// <summary>Pads the last byte with zero bits; the section is in <see cref="Bytes"/>.</summary>
        public void Finish()
        {
            if (n > 0) { bytes.U8(acc << (8 - n)); acc = 0; n = 0; }
        }

        public ByteWriter Bytes { get { return bytes; } }
    }
}
