namespace Tickstream
{
    /// <summary>Numbers for an overlay, logs and tests (<see cref="TickstreamClient.GetStats"/>).</summary>
    public sealed class ClientStats
    {
        /// <summary>Whether the client is welcomed and receiving updates.</summary>
        public bool Connected;
        /// <summary>The connection's state.</summary>
        public ConnectionState State;
        /// <summary>The protocol version in use (0 before the server chose).</summary>
        public int ProtocolVersion;
        /// <summary>Whether this client watches the room (v6 Spectate) instead of playing in it.</summary>
        public bool Spectator;
        /// <summary>The own entity, when welcomed (0 for a spectator).</summary>
        public uint Entity;
        /// <summary>The replica's tick.</summary>
        public uint Tick;
        /// <summary>The replica's ack_seq.</summary>
        public uint AckSeq;
        /// <summary>The last input seq sent.</summary>
        public uint InputSeq;
        /// <summary>Entities in view.</summary>
        public int Entities;
        /// <summary>Updates per second over the last two seconds.</summary>
        public double UpdateRateHz;
        /// <summary>Median round trip of the last five pings, ms; negative before the first.</summary>
        public double RttMs = -1;
        /// <summary>The render delay of remote entities, ms (adaptive: 1¼ ticks plus the jitter, at least InterpolationDelayMs).</summary>
        public double InterpolationDelayMs;
        /// <summary>The measured arrival jitter of updates, ms.</summary>
        public double JitterMs;
        /// <summary>Updates applied this session.</summary>
        public long Updates;
        /// <summary>Game events delivered in all.</summary>
        public long Events;
        /// <summary>The seq of the last event delivered.</summary>
        public uint LastEventSeq;
        /// <summary>Desyncs detected (each followed by a resume).</summary>
        public long Desyncs;
        /// <summary>Successful resumes.</summary>
        public long Resumes;
        /// <summary>Times the room moved to another process and the client followed it (v5).</summary>
        public long Moves;
        /// <summary>Reconnects scheduled.</summary>
        public long Reconnects;
        /// <summary>Bytes of server messages received.</summary>
        public long BytesIn;
        /// <summary>The predicted own position (world units), when predicting.</summary>
        public bool Predicting;
        /// <summary>Predicted x.</summary>
        public double PredictedX;
        /// <summary>Predicted y.</summary>
        public double PredictedY;
    }
}
