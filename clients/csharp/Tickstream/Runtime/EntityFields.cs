using System;

namespace Tickstream
{
    /// <summary>
    /// The 8 game fields of an entity (PROTOCOL.md §7.1a), held inline so that records and
    /// entities carry them without an array each. Unused fields are 0.
    /// </summary>
    public struct EntityFields : IEquatable<EntityFields>
    {
        /// <summary>Field 0.</summary>
        public int F0;
        /// <summary>Field 1.</summary>
        public int F1;
        /// <summary>Field 2.</summary>
        public int F2;
        /// <summary>Field 3.</summary>
        public int F3;
        /// <summary>Field 4.</summary>
        public int F4;
        /// <summary>Field 5.</summary>
        public int F5;
        /// <summary>Field 6.</summary>
        public int F6;
        /// <summary>Field 7.</summary>
        public int F7;

        /// <summary>Field <paramref name="i"/> (0..7).</summary>
        public int this[int i]
        {
            get
            {
                switch (i)
                {
                    case 0: return F0; case 1: return F1; case 2: return F2; case 3: return F3;
                    case 4: return F4; case 5: return F5; case 6: return F6; case 7: return F7;
                    default: throw new ArgumentOutOfRangeException("i");
                }
            }
            set
            {
                switch (i)
                {
                    case 0: F0 = value; break; case 1: F1 = value; break; case 2: F2 = value; break;
                    case 3: F3 = value; break; case 4: F4 = value; break; case 5: F5 = value; break;
                    case 6: F6 = value; break; case 7: F7 = value; break;
                    default: throw new ArgumentOutOfRangeException("i");
                }
            }
        }

        /// <summary>The mask of the non-zero fields (bit i for field i).</summary>
        public int NonZeroMask
        {
            get
            {
                int m = 0;
                for (int i = 0; i < Protocol.MaxFields; i++) if (this[i] != 0) m |= 1 << i;
                return m;
            }
        }

        /// <summary>Fields from up to 8 values (tests and tools).</summary>
        public static EntityFields Of(params int[] values)
        {
            var f = new EntityFields();
            for (int i = 0; i < values.Length && i < Protocol.MaxFields; i++) f[i] = values[i];
            return f;
        }

        /// <inheritdoc/>
        public bool Equals(EntityFields o)
        {
            return F0 == o.F0 && F1 == o.F1 && F2 == o.F2 && F3 == o.F3 && F4 == o.F4 && F5 == o.F5 && F6 == o.F6 && F7 == o.F7;
        }

        /// <inheritdoc/>
        public override bool Equals(object obj) { return obj is EntityFields && Equals((EntityFields)obj); }

        /// <inheritdoc/>
        public override int GetHashCode() { return F0 ^ F1 * 31 ^ F2 * 131 ^ F3 * 1031 ^ F4 ^ F5 ^ F6 ^ F7; }

        /// <inheritdoc/>
        public override string ToString()
        {
            return "[" + F0 + ", " + F1 + ", " + F2 + ", " + F3 + ", " + F4 + ", " + F5 + ", " + F6 + ", " + F7 + "]";
        }
    }
}
