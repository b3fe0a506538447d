using System;
using System.Security.Cryptography.X509Certificates;

namespace Tickstream
{
    /// <summary>How a <see cref="TickstreamClient"/> connects and plays. Only <see cref="Url"/> is required.</summary>
    public sealed class ClientOptions
    {
        /// <summary>The server's endpoint: <c>wss://host:7443/ws</c> (or <c>ws://</c> where the operator enabled it).</summary>
        public string Url = "wss://127.0.0.1:7443/ws";
        /// <summary>The room to join (or watch): 1..=64 characters of [A-Za-z0-9_.-].</summary>
        public string Room = "lobby";
        /// <summary>
        /// Watch <see cref="Room"/> instead of playing in it (protocol v6, PROTOCOL.md §18): the
        /// client sends Spectate instead of Join, has no entity, predicts nothing and sends no
        /// input, and draws every entity of its view interpolated. The room must exist (4006
        /// otherwise: a spectator never creates one). A server below v6 cannot be watched: the
        /// client closes with an error instead of joining as a player.
        /// </summary>
        public bool Spectate;
        /// <summary>
        /// Spectators: the entity whose view to watch at first (everything within the view radius
        /// of it, while it exists); null, the default, the whole room.
        /// <see cref="TickstreamClient.Follow"/> changes it later.
        /// </summary>
        public uint? Follow;
        /// <summary>A join token from the game's backend (servers with a join secret), or null.</summary>
        public string Token;
        /// <summary>Called (on the game thread) for a fresh join token per connection; overrides <see cref="Token"/>.</summary>
        public Func<string> TokenProvider;
        /// <summary>
        /// A certificate to trust for wss:// in addition to the system's roots, for a development
        /// server's self-signed certificate: only this connection trusts it, and only this one
        /// certificate. Verification stays on.
        /// </summary>
        public X509Certificate2 TrustedCertificate;
        /// <summary>Accept any server certificate on this connection (development only).</summary>
        public bool Insecure;
        /// <summary>
        /// The least render delay of remote entities, milliseconds; 0 (the default) = adaptive
        /// only. Remote entities are drawn 1¼ ticks plus the measured arrival jitter in the past
        /// (PROTOCOL.md §13.2), never less than this and never more than a second.
        /// </summary>
        public double InterpolationDelayMs;
        /// <summary>
        /// How far past its newest state a moving remote entity is extrapolated before it holds,
        /// milliseconds (and how far render time may run past the newest update).
        /// </summary>
        public double MaxExtrapolationMs = 150;
        /// <summary>
        /// The own entity's movement rule for prediction; null takes the server's (Welcome4's
        /// Walk on v4; on v2/v3 the built-in games' walk at <see cref="PlayerSpeed"/>). On v4 with
        /// motion None and no rule here, the own entity is not predicted.
        /// </summary>
        public MoveStep Step;
        /// <summary>v2/v3 only: speed per tick of the built-in walk; 0 = the built-in games' defaults (4 in coins, 5 else).</summary>
        public double PlayerSpeed;
        /// <summary>The largest legitimate move per tick for interpolation (a larger jump snaps, PROTOCOL.md §13.2); 0 = the walk speed (or 5).</summary>
        public double MaxStep;
        /// <summary>
        /// The largest legitimate move per tick by kind name (Welcome.Kinds), for kinds faster
        /// than <see cref="MaxStep"/>; null or a kind not named = MaxStep. A kind that keeps up a
        /// higher speed raises its own step anyway: a single larger jump is a teleport.
        /// </summary>
        public System.Collections.Generic.Dictionary<string, double> MaxStepByKind;
        /// <summary>Milliseconds between pings (round-trip time).</summary>
        public double PingIntervalMs = 1000;
        /// <summary>The most inputs per second (and at most one per local tick).</summary>
        public double MaxInputRateHz = 30;
        /// <summary>Reconnect (resuming the player when possible) after a drop.</summary>
        public bool Reconnect = true;
        /// <summary>The first reconnect delay; it doubles per attempt, with jitter.</summary>
        public double ReconnectInitialMs = 250;
        /// <summary>The longest reconnect delay.</summary>
        public double ReconnectMaxMs = 10000;
        /// <summary>Consecutive 1008 closes retried before giving up (a static refused token is not retried).</summary>
        public int PolicyRetries = 2;
        /// <summary>Blend prediction corrections over about this long.</summary>
        public double SmoothingMs = 80;
        /// <summary>A correction larger than this (world units) snaps.</summary>
        public double SnapDistance = 20;
        /// <summary>Frames that may wait for Poll before the network task stops reading (64: two seconds at 30 Hz).</summary>
        public int InboxCapacity = 64;
        /// <summary>How long opening the WebSocket may take.</summary>
        public double ConnectTimeoutMs = 10000;
    }
}
