namespace Tickstream
{
    /// <summary>
    /// What a later connection, even of another run of the game, needs to take back a player
    /// within the server's grace period (PROTOCOL.md §3.8): save it when the app is paused or
    /// about to quit (<see cref="TickstreamClient.GetResumeState"/>), hand it to a new client
    /// (<see cref="TickstreamClient.AdoptResumeState"/>) and connect. The token is single use
    /// and changes with every Welcome: save the newest. Keep it private: it takes over the player.
    /// </summary>
    public sealed class ResumeState
    {
        /// <summary>The room the player is in.</summary>
        public string Room = string.Empty;
        /// <summary>The newest Welcome's resume token.</summary>
        public string Token = string.Empty;
        /// <summary>The seq of the last game event delivered: the server re-sends those after it.</summary>
        public uint LastEventSeq;
        /// <summary>The player's entity.</summary>
        public uint Entity;
        /// <summary>The last input seq sent: the server drops inputs at or below the one it applied, so the count continues.</summary>
        public uint InputSeq;
    }
}
