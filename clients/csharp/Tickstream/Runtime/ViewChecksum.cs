namespace Tickstream
{
    /// <summary>
    /// The view checksum (PROTOCOL.md §9): the wrapping sum of one murmur3-finalised hash per
    /// entity, over its id, kind, position and non-zero fields.
    /// </summary>
    public static class ViewChecksum
    {
        /// <summary>murmur3's 32-bit finalizer.</summary>
        public static uint Fmix32(uint h)
        {
            unchecked
            {
                h ^= h >> 16;
                h *= 0x85EBCA6B;
                h ^= h >> 13;
                h *= 0xC2B2AE35;
                h ^= h >> 16;
                return h;
            }
        }

        /// <summary>One entity's hash.</summary>
        public static uint EntityHash(uint id, byte kind, uint x, uint y, ref EntityFields fields)
        {
            unchecked
            {
                uint h = Fmix32((id * 0x9E3779B1) ^ kind);
                h = Fmix32(h ^ x);
                h = Fmix32(h + y);
                for (int i = 0; i < Protocol.MaxFields; i++)
                {
                    int v = fields[i];
                    if (v != 0) h = Fmix32(h ^ ((uint)v + (uint)(i + 1) * 0x85EBCA6B));
                }
                return h;
            }
        }
    }
}
