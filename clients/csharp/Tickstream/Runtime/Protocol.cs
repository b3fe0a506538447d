// Tickstream C# client: the constants of the wire protocol (docs/PROTOCOL.md).
namespace Tickstream
{
    /// <summary>
    /// The protocol's fixed numbers. The client offers <see cref="Subprotocols"/>, newest first;
    /// the server echoes the highest it speaks and names the same version in Welcome.protocol.
    /// </summary>
    public static class Protocol
    {
        /// <summary>
        /// Offered subprotocols, newest first (v4 adds Welcome4's movement rule; v5 Input5's
        /// displayed time for lag compensation, and Moved: the room continues in another
        /// process, and the client follows it; v6 spectators: Spectate, Follow, Spectating).
        /// </summary>
        public static readonly string[] Subprotocols = { "tickstream.v6", "tickstream.v5", "tickstream.v4", "tickstream.v3", "tickstream.v2" };

        /// <summary>The version a subprotocol names, or 0 when the client does not speak it.</summary>
        public static int VersionOf(string subprotocol)
        {
            switch (subprotocol)
            {
                case "tickstream.v6": return 6;
                case "tickstream.v5": return 5;
                case "tickstream.v4": return 4;
                case "tickstream.v3": return 3;
                case "tickstream.v2": return 2;
                default: return 0;
            }
        }

        /// <summary>Grid points per world unit: positions travel as u32 counts of 1/64 unit.</summary>
        public const double GridScale = 64.0;
        /// <summary>The largest server message accepted (4 MiB); a larger one is refused.</summary>
        public const int MaxServerMessage = 4 * 1024 * 1024;
        /// <summary>The largest client message the server accepts.</summary>
        public const int MaxClientMessage = 256;
        /// <summary>The most entries one list of a delta may hold.</summary>
        public const int MaxListLen = 65536;
        /// <summary>Game fields per entity; unused ones are 0.</summary>
        public const int MaxFields = 8;
        /// <summary>The longest close reason a WebSocket accepts, in UTF-8 bytes.</summary>
        public const int MaxCloseReason = 123;
    }

    /// <summary>WebSocket close codes (PROTOCOL.md §4), plus 1006 for a lost link.</summary>
    public static class CloseCode
    {
        /// <summary>The session ended cleanly: the player left, or (v6) the recording a spectator watched ended.</summary>
        public const int Normal = 1000;
        /// <summary>The server drains (after a v5 Moved: the room continues at its URL, where the client resumes).</summary>
        public const int GoingAway = 1001;
        /// <summary>A malformed message or a rule broken: a client bug.</summary>
        public const int ProtocolError = 1002;
        /// <summary>No close frame: the link was lost (reported by the client, never sent).</summary>
        public const int Abnormal = 1006;
        /// <summary>Rate limit, or a join token refused.</summary>
        public const int Policy = 1008;
        /// <summary>A client message too large.</summary>
        public const int TooBig = 1009;
        /// <summary>The server or the room's game failed.</summary>
        public const int Internal = 1011;
        /// <summary>Room full or too busy, or (v6) the room's spectator seats are full: retry later.</summary>
        public const int TryAgain = 1013;
        /// <summary>The client did not take its updates in time.</summary>
        public const int TooSlow = 4000;
        /// <summary>No Join in time after the upgrade.</summary>
        public const int JoinTimeout = 4001;
        /// <summary>The room name is invalid.</summary>
        public const int BadRoomName = 4002;
        /// <summary>The client sent nothing for too long.</summary>
        public const int IdleTimeout = 4003;
        /// <summary>The client's bounded event queue overflowed.</summary>
        public const int EventsOverflow = 4004;
        /// <summary>A Resume was refused: join afresh.</summary>
        public const int ResumeRefused = 4005;
        /// <summary>v6: a Spectate named a room that does not exist (a spectator never creates one).</summary>
        public const int NoSuchRoom = 4006;
        /// <summary>v6: a Join or Resume on a server that plays a recording back: only spectators are let in.</summary>
        public const int SpectatorsOnly = 4007;
        /// <summary>Sent by a client that closes but keeps its player for a resume.</summary>
        public const int Suspend = 4100;
    }
}
