using System;
using System.Text;

namespace Tickstream
{
    /// <summary>
    /// Writes bincode 2 (standard configuration) into a growable buffer that is reused from
    /// message to message (<see cref="Clear"/>), so that encoding allocates nothing in steady state.
    /// </summary>
    public sealed class ByteWriter
    {
        byte[] buf;
        int len;

        /// <summary>A writer with room for <paramref name="capacity"/> bytes before it grows.</summary>
        public ByteWriter(int capacity = 64) { buf = new byte[Math.Max(capacity, 16)]; }

        /// <summary>The bytes written so far start at 0 in this array (it may be replaced by growth).</summary>
        public byte[] Buffer { get { return buf; } }
        /// <summary>How many bytes were written.</summary>
        public int Length { get { return len; } }

        /// <summary>Forgets what was written, keeping the storage.</summary>
        public void Clear() { len = 0; }

        /// <summary>A copy of what was written.</summary>
        public byte[] ToArray()
        {
            var copy = new byte[len];
            Array.Copy(buf, copy, len);
            return copy;
        }

        void Reserve(int n)
        {
            if (len + n <= buf.Length) return;
            int size = buf.Length * 2;
            while (size < len + n) size *= 2;
            Array.Resize(ref buf, size);
        }

        /// <summary>One raw byte.</summary>
        public void U8(int b)
        {
            Reserve(1);
            buf[len++] = (byte)b;
        }

        /// <summary>Raw bytes.</summary>
        public void Raw(byte[] bytes, int offset, int count)
        {
            Reserve(count);
            System.Buffer.BlockCopy(bytes, offset, buf, len, count);
            len += count;
        }

        void Le(ulong v, int n)
        {
            Reserve(n);
            for (int i = 0; i < n; i++) buf[len++] = (byte)(v >> (8 * i));
        }

        /// <summary>An unsigned varint in its shortest form (§5.1).</summary>
        public void Varint(ulong v)
        {
            if (v <= 250) U8((int)v);
            else if (v <= 0xFFFF) { U8(0xFB); Le(v, 2); }
            else if (v <= 0xFFFFFFFF) { U8(0xFC); Le(v, 4); }
            else { U8(0xFD); Le(v, 8); }
        }

        /// <summary>An i32 as zigzag, then varint.</summary>
        public void I32(int n) { Varint((uint)((n << 1) ^ (n >> 31))); }

        /// <summary>A u32 in 4 raw little-endian bytes.</summary>
        public void Fixed32(uint v) { Le(v, 4); }

        /// <summary>An f32, IEEE-754 little-endian.</summary>
        public void F32(float f)
        {
            Le(FloatBits.ToBits(f), 4);
        }

        /// <summary>A bool byte.</summary>
        public void Bool(bool b) { U8(b ? 1 : 0); }

        /// <summary>A String: byte length, then UTF-8.</summary>
        public void Str(string s)
        {
            s = s ?? string.Empty;
            int n = Encoding.UTF8.GetByteCount(s);
            Varint((ulong)n);
            Reserve(n);
            len += Encoding.UTF8.GetBytes(s, 0, s.Length, buf, len);
        }
    }
}
