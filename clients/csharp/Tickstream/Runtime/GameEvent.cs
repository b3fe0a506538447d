namespace Tickstream
{
    /// <summary>
    /// A one-shot game event (PROTOCOL.md §3.9): numbered 1, 2, 3, … per player, delivered once
    /// and in order, across resumes.
    /// </summary>
    public sealed class GameEvent
    {
        /// <summary>Per-player sequence number.</summary>
        public uint Seq;
        /// <summary>Game-defined kind; Welcome.EventKinds names it.</summary>
        public ushort Kind;
        /// <summary>The entity the event is about.</summary>
        public uint Entity;
        /// <summary>Game-defined number.</summary>
        public int Value;
        /// <summary>Game-defined text (often empty).</summary>
        public string Text = string.Empty;
        /// <summary>Set by the client: the tick of the update that carried it.</summary>
        public uint Tick;
        /// <summary>Set by the client: Welcome.EventKinds[Kind], or null when unknown.</summary>
        public string KindName;
    }
}
