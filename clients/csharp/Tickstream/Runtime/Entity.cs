namespace Tickstream
{
    /// <summary>An entity as the replica holds it: the server's latest state, in grid points.</summary>
    public sealed class Entity
    {
        /// <summary>Unique in its room.</summary>
        public uint Id;
        /// <summary>Game-defined kind; Welcome.Kinds names it.</summary>
        public byte Kind;
        /// <summary>Position x in grid points (x / 64 world units).</summary>
        public uint X;
        /// <summary>Position y in grid points.</summary>
        public uint Y;
        /// <summary>The 8 game fields.</summary>
        public EntityFields Fields;
        /// <summary>v3: x one update earlier (the prediction's previous state).</summary>
        internal uint PrevX;
        /// <summary>v3: y one update earlier.</summary>
        internal uint PrevY;

        /// <summary>x in world units.</summary>
        public double WorldX { get { return X / Protocol.GridScale; } }
        /// <summary>y in world units.</summary>
        public double WorldY { get { return Y / Protocol.GridScale; } }

        internal uint Hash() { return ViewChecksum.EntityHash(Id, Kind, X, Y, ref Fields); }
    }
}
