namespace Tickstream
{
    /// <summary>
    /// Reads the bit section of an Update3's motion, most significant bit first (PROTOCOL.md
    /// §15.3); reading past the end throws <see cref="ProtocolException"/>.
    /// </summary>
    sealed class BitReader
    {
        /// <summary>Residuals of order-7 Exp-Golomb escapes.</summary>
        const int EscapeOrder = 7;
        /// <summary>A residual beyond ±(2^32 − 1) is malformed.</summary>
        const long MaxResidual = 0xFFFFFFFFL;

        byte[] buf;
        long start;
        long pos;
        long bits;

        /// <summary>The last residual read.</summary>
        public long Rx, Ry;

        public void Reset(byte[] bytes, int offset, int count)
        {
            buf = bytes;
            start = (long)offset * 8;
            pos = start;
            bits = start + (long)count * 8;
        }

        int Bit()
        {
            if (pos >= bits) throw new ProtocolException("bit section truncated");
            int b = (buf[pos >> 3] >> (7 - (int)(pos & 7))) & 1;
            pos++;
            return b;
        }

        /// <summary>`n` (≤ 63) bits as a number.</summary>
        public ulong Take(int n)
        {
            ulong v = 0;
            for (int i = 0; i < n; i++) v = v << 1 | (uint)Bit();
            return v;
        }

        /// <summary>An Exp-Golomb code of order k: z zero bits, then z + k + 1 bits of n + 2^k.</summary>
        public ulong ExpGolomb(int k)
        {
            int zeros = 0;
            while (true)
            {
                if (pos >= bits) throw new ProtocolException("bit section truncated");
                int b = (buf[pos >> 3] >> (7 - (int)(pos & 7))) & 1;
                if (b == 1) break;
                pos++;
                if (++zeros > 34) throw new ProtocolException("Exp-Golomb code too long");
            }
            return Take(zeros + k + 1) - (1UL << k);
        }

        static long Unzigzag(ulong u) { return (long)(u >> 1) ^ -(long)(u & 1); }

        /// <summary>One residual code into <see cref="Rx"/>, <see cref="Ry"/>.</summary>
        public void Residual()
        {
            if (Bit() == 0) { Rx = 0; Ry = 0; return; }
            if (Bit() == 0)
            {
                int axis = (int)Take(2);
                Rx = axis == 0 ? 1 : axis == 1 ? -1 : 0;
                Ry = axis == 2 ? 1 : axis == 3 ? -1 : 0;
                return;
            }
            if (Bit() == 0)
            {
                Rx = Bit() == 1 ? -1 : 1;
                Ry = Bit() == 1 ? -1 : 1;
                return;
            }
            Rx = Unzigzag(ExpGolomb(EscapeOrder));
            Ry = Unzigzag(ExpGolomb(EscapeOrder));
            if (Rx > MaxResidual || Rx < -MaxResidual || Ry > MaxResidual || Ry < -MaxResidual)
                throw new ProtocolException("residual beyond the grid");
        }

        /// <summary>Every byte used, and the bits after the last code zero.</summary>
        public void Done()
        {
            while (((pos - start) & 7) != 0)
            {
                if (Bit() != 0) throw new ProtocolException("non-zero padding bits");
            }
            if (pos != bits) throw new ProtocolException("bytes left in the bit section");
        }
    }
}
