namespace Tickstream
{
    /// <summary>An entity entering the view, with its full state (PROTOCOL.md §7.4).</summary>
    public struct SpawnRecord
    {
        /// <summary>Entity id.</summary>
        public uint Id;
        /// <summary>Game-defined kind.</summary>
        public byte Kind;
        /// <summary>Position x in grid points (1/64 unit).</summary>
        public uint X;
        /// <summary>Position y in grid points.</summary>
        public uint Y;
        /// <summary>Its game fields (0 where not sent).</summary>
        public EntityFields Fields;
    }

    /// <summary>A v2 position change in grid points (§7.5), with the form it travelled in.</summary>
    public struct ChangeRecord
    {
        /// <summary>Entity id.</summary>
        public uint Id;
        /// <summary>x difference.</summary>
        public int Dx;
        /// <summary>y difference.</summary>
        public int Dy;
        /// <summary>0 XY12, 1 X16, 2 Y16, 3 WIDE.</summary>
        public int Form;

        /// <summary>The form the server picks for (dx, dy) (§7.5).</summary>
        public static int FormOf(long dx, long dy)
        {
            if (dy == 0 && dx != 0 && dx >= -32768 && dx <= 32767) return 1;
            if (dx == 0 && dy != 0 && dy >= -32768 && dy <= 32767) return 2;
            if (dx != 0 && dy != 0 && dx >= -2048 && dx <= 2047 && dy >= -2048 && dy <= 2047) return 0;
            return 3;
        }
    }

    /// <summary>
    /// Game fields of an entity that stays in view (§7.6): in v2 the new values, in v3 the
    /// differences (wrapping), of the fields whose bit is in <see cref="Mask"/>.
    /// </summary>
    public struct FieldChangeRecord
    {
        /// <summary>Entity id.</summary>
        public uint Id;
        /// <summary>Bit i set: field i is sent.</summary>
        public int Mask;
        /// <summary>The values under the mask (others 0).</summary>
        public EntityFields Values;
    }

    /// <summary>One v3 residual: held entity at <see cref="Index"/> (id order) moved by (Rx, Ry) off its prediction.</summary>
    public struct MoveRecord
    {
        /// <summary>Index among the held entities, in id order.</summary>
        public int Index;
        /// <summary>Residual x, grid points.</summary>
        public long Rx;
        /// <summary>Residual y, grid points.</summary>
        public long Ry;
    }
}
