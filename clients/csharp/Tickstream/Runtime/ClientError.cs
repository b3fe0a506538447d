namespace Tickstream
{
    /// <summary>What kind of problem a <see cref="ClientError"/> reports.</summary>
    public enum ErrorKind
    {
        /// <summary>The socket failed: could not connect, TLS refused, link lost.</summary>
        Transport,
        /// <summary>The server sent something that does not decode or breaks the session rules.</summary>
        Protocol,
        /// <summary>An update did not apply to the replica (a checksum mismatch, say); the client resumes.</summary>
        Desync,
        /// <summary>The server closed the session, with a code and usually an Error message first.</summary>
        Closed,
    }

    /// <summary>
    /// A problem, as a value: delivered on the game thread by <see cref="TickstreamClient.Error"/>,
    /// never thrown.
    /// </summary>
    public sealed class ClientError
    {
        /// <summary>What kind of problem.</summary>
        public ErrorKind Kind;
        /// <summary>The close code that ended (or will end) the connection; 0 when none.</summary>
        public int CloseCode;
        /// <summary>A human-readable description.</summary>
        public string Message = string.Empty;

        /// <inheritdoc/>
        public override string ToString() { return Kind + (CloseCode != 0 ? " " + CloseCode : "") + ": " + Message; }
    }

    /// <summary>How a connection ended (<see cref="TickstreamClient.Closed"/>).</summary>
    public sealed class CloseInfo
    {
        /// <summary>The close code: the server's, the client's own (1000, 4100), or 1006 for a lost link.</summary>
        public int Code;
        /// <summary>The close reason (or the server's Error reason).</summary>
        public string Reason = string.Empty;
        /// <summary>The code of the server's Error message before the close; 0 when none came.</summary>
        public int ServerErrorCode;
        /// <summary>The reason of the server's Error message, or null.</summary>
        public string ServerErrorReason;
        /// <summary>Whether the client reconnects (resuming its player when it can).</summary>
        public bool WillReconnect;
        /// <summary>When it reconnects, in how many milliseconds.</summary>
        public double RetryInMs;
        /// <summary>True when a Resume was refused (4005): the next connection joins afresh.</summary>
        public bool ResumeRefused;
        /// <summary>The URL of a v5 Moved before this close: the client resumes (a spectator: spectates again) there at once; else null.</summary>
        public string MovedTo;
        /// <summary>
        /// A spectator watched a recording (<see cref="Spectating.Recording"/>) and it ended: the
        /// server closed with 1000 and its reason ("the recording ended"). Not an error; no reconnect.
        /// </summary>
        public bool RecordingEnded;

        /// <inheritdoc/>
        public override string ToString()
        {
            return Code + " " + Reason + (WillReconnect ? " (reconnecting in " + (int)RetryInMs + " ms)" : "");
        }
    }

    /// <summary>Where a <see cref="TickstreamClient"/> is in its life.</summary>
    public enum ConnectionState
    {
        /// <summary>Not connected; Connect() starts.</summary>
        Idle,
        /// <summary>Opening the WebSocket.</summary>
        Connecting,
        /// <summary>Open; Join, Resume or Spectate sent, waiting for Welcome (or Spectating).</summary>
        Joining,
        /// <summary>Welcomed (a spectator: answered with Spectating): updates flow.</summary>
        Playing,
        /// <summary>Lost; reconnecting after a backoff.</summary>
        Reconnecting,
        /// <summary>Ended for good.</summary>
        Closed,
    }
}
