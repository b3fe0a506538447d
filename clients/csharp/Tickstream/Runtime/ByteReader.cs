using System;
using System.Text;

namespace Tickstream
{
    /// <summary>
    /// Reads one bincode 2 (standard configuration) message from a byte range; every read checks
    /// the bounds and throws <see cref="ProtocolException"/> on malformed input (PROTOCOL.md §5).
    /// </summary>
    public sealed class ByteReader
    {
        static readonly UTF8Encoding StrictUtf8 = new UTF8Encoding(false, true);

        byte[] buf;
        int pos;
        int end;

        /// <summary>Starts reading <paramref name="count"/> bytes of <paramref name="bytes"/> at <paramref name="offset"/>.</summary>
        public void Reset(byte[] bytes, int offset, int count)
        {
            if (bytes == null || offset < 0 || count < 0 || offset + count > bytes.Length)
                throw new ArgumentException("byte range outside the array");
            buf = bytes;
            pos = offset;
            end = offset + count;
        }

        /// <summary>Bytes not read yet.</summary>
        public int Remaining { get { return end - pos; } }

        void Need(int n)
        {
            if (n < 0 || end - pos < n) throw new ProtocolException("message truncated");
        }

        /// <summary>One raw byte.</summary>
        public byte U8()
        {
            Need(1);
            return buf[pos++];
        }

        /// <summary>`n` raw bytes: the array and where they start (no copy).</summary>
        public int Raw(int n, out byte[] array)
        {
            Need(n);
            array = buf;
            int at = pos;
            pos += n;
            return at;
        }

        uint LeU32()
        {
            Need(4);
            uint v = (uint)(buf[pos] | buf[pos + 1] << 8 | buf[pos + 2] << 16 | buf[pos + 3] << 24);
            pos += 4;
            return v;
        }

        /// <summary>
        /// A varint whose first byte may be at most <paramref name="maxTag"/> (0xFB for u16,
        /// 0xFC for u32, 0xFD for u64; §5.1).
        /// </summary>
        public ulong Varint(int maxTag)
        {
            byte b = U8();
            if (b <= 250) return b;
            if (b > maxTag) throw new ProtocolException("invalid varint tag 0x" + b.ToString("x2"));
            if (b == 251)
            {
                Need(2);
                ulong v = (ulong)(buf[pos] | buf[pos + 1] << 8);
                pos += 2;
                return v;
            }
            if (b == 252) return LeU32();
            ulong lo = LeU32();
            ulong hi = LeU32();
            return lo | hi << 32;
        }

        /// <summary>A u16 varint.</summary>
        public ushort U16() { return (ushort)Varint(0xFB); }
        /// <summary>A u32 varint.</summary>
        public uint U32() { return (uint)Varint(0xFC); }
        /// <summary>A u64 varint.</summary>
        public ulong U64() { return Varint(0xFD); }

        /// <summary>An i32: zigzag over a u32 varint.</summary>
        public int I32()
        {
            uint u = U32();
            return (int)(u >> 1) ^ -(int)(u & 1);
        }

        /// <summary>A u32 little-endian in 4 raw bytes (the view checksum).</summary>
        public uint Fixed32() { return LeU32(); }

        /// <summary>An f32, IEEE-754 little-endian.</summary>
        public float F32()
        {
            return FloatBits.FromBits(LeU32());
        }

        /// <summary>A bool: 0 or 1, anything else is malformed.</summary>
        public bool Bool()
        {
            byte b = U8();
            if (b > 1) throw new ProtocolException("invalid bool byte " + b);
            return b == 1;
        }

        /// <summary>A Vec length (u64 varint); larger than the bytes left is malformed.</summary>
        public int Len()
        {
            ulong n = U64();
            if (n > (ulong)Remaining) throw new ProtocolException("length " + n + " past the end of the message");
            return (int)n;
        }

        /// <summary>A delta list's count (u32 varint), at most 65,536.</summary>
        public int Count()
        {
            uint n = U32();
            if (n > Protocol.MaxListLen) throw new ProtocolException("list of " + n + " entries (limit 65536)");
            return (int)n;
        }

        /// <summary>A String: byte length, then strict UTF-8.</summary>
        public string Str()
        {
            int n = Len();
            if (n == 0) return string.Empty;
            try
            {
                string s = StrictUtf8.GetString(buf, pos, n);
                pos += n;
                return s;
            }
            catch (ArgumentException)
            {
                throw new ProtocolException("string is not UTF-8");
            }
        }

        /// <summary>The message must end here: trailing bytes are malformed.</summary>
        public void End()
        {
            if (pos != end) throw new ProtocolException((end - pos) + " bytes after the message");
        }

    }
}
