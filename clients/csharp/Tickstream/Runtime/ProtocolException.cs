using System;

namespace Tickstream
{
    /// <summary>
    /// A message that does not decode (PROTOCOL.md §5.4), or a value that cannot be encoded.
    /// Decoders throw it internally; the public entry points turn it into an error value
    /// (<see cref="ServerMessageDecoder.TryDecode"/>, <see cref="TickstreamClient.Error"/>).
    /// </summary>
    public sealed class ProtocolException : Exception
    {
        /// <summary>A malformed message, with what was wrong.</summary>
        public ProtocolException(string message) : base(message) { }
    }
}
