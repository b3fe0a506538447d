namespace Tickstream
{
    /// <summary>Which server message was decoded.</summary>
    public enum ServerMessageType
    {
        /// <summary>Variant 0 (or 5, Welcome4, on v4).</summary>
        Welcome,
        /// <summary>Variant 1, v2 only.</summary>
        Update,
        /// <summary>Variant 2.</summary>
        Pong,
        /// <summary>Variant 3: sent right before the server closes.</summary>
        Error,
        /// <summary>Variant 4, v3 and later.</summary>
        Update3,
        /// <summary>Variant 6, v5: the room moved to another process; resume at <see cref="ServerMessage.MovedUrl"/>.</summary>
        Moved,
        /// <summary>
        /// Variant 7, v6: the answer to Spectate; <see cref="ServerMessage.Spectating"/> holds it
        /// and <see cref="ServerMessage.Welcome"/> its welcome.
        /// </summary>
        Spectating,
    }

    /// <summary>
    /// A decoded server message: <see cref="Type"/> says which member holds it. Owned by the
    /// decoder and overwritten by its next message.
    /// </summary>
    public sealed class ServerMessage
    {
        /// <summary>Which message this is.</summary>
        public ServerMessageType Type;
        /// <summary>Set for Welcome and Spectating (a new object each time).</summary>
        public Welcome Welcome;
        /// <summary>Set for Update (reused).</summary>
        public Update Update;
        /// <summary>Set for Update3 (reused).</summary>
        public Update3 Update3;
        /// <summary>Pong: the ping's client_time.</summary>
        public ulong PongClientTime;
        /// <summary>Pong: the room's tick when the ping was read.</summary>
        public uint PongServerTick;
        /// <summary>Error: the close code that follows.</summary>
        public ushort ErrorCode;
        /// <summary>Error: a human-readable reason (never parse it).</summary>
        public string ErrorReason;
        /// <summary>Moved: the WebSocket URL where the room continues.</summary>
        public string MovedUrl;
        /// <summary>Set for Spectating (a new object each time).</summary>
        public Spectating Spectating;
    }
}
