namespace Tickstream
{
    /// <summary>
    /// Protocol v6's answer to Spectate (ServerMsg variant 7, PROTOCOL.md §18): how the room runs
    /// and what the spectator sees. Updates follow as on a player's connection (Update3, with
    /// ack_delta always 0).
    /// </summary>
    public sealed class Spectating
    {
        /// <summary>
        /// The room as a v4 welcome describes it (protocol 6), except that a spectator has no
        /// entity (0), no resume token (it spectates again instead) and <see cref="Welcome.Tick"/>
        /// is the tick its view starts at.
        /// </summary>
        public Welcome Welcome;
        /// <summary>The entity the view follows, as asked; null: the whole room.</summary>
        public uint? Follow;
        /// <summary>
        /// How far behind the live room the view runs, milliseconds (the server's
        /// rooms.spectator_delay_ms, whole ticks): the first update may take that long.
        /// </summary>
        public uint DelayMs;
        /// <summary>
        /// True when the room is a recording played back: the match already happened, and the
        /// server closes with 1000 "the recording ended" at its end.
        /// </summary>
        public bool Recording;
    }
}
