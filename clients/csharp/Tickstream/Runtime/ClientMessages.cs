using System;

namespace Tickstream
{
    /// <summary>A decoded client message (for tests and tools; PROTOCOL.md §6.1).</summary>
    public sealed class ClientMessage
    {
        /// <summary>0 Join, 1 Input, 2 Ping, 3 Resume, 4 Input5 (v5), 5 Spectate and 6 Follow (v6).</summary>
        public int Variant;
        /// <summary>Join, Resume, Spectate: the room.</summary>
        public string Room;
        /// <summary>Resume: the token.</summary>
        public string Token;
        /// <summary>Resume: the last event seq processed.</summary>
        public uint LastEventSeq;
        /// <summary>Input: the sequence number.</summary>
        public uint Seq;
        /// <summary>Input: direction x.</summary>
        public float Dx;
        /// <summary>Input: direction y.</summary>
        public float Dy;
        /// <summary>Input: game-defined buttons.</summary>
        public uint Buttons;
        /// <summary>Ping: any value, echoed in the Pong.</summary>
        public ulong ClientTime;
        /// <summary>Input5: the whole tick the client displayed.</summary>
        public uint ViewTick;
        /// <summary>Input5: 1/256ths of a tick past <see cref="ViewTick"/>.</summary>
        public byte ViewFrac;
        /// <summary>Spectate: the entity to follow; Follow: the new one. Null: the whole room.</summary>
        public uint? Follow;
    }

    /// <summary>
    /// Encodes the client's messages (PROTOCOL.md §6.1) into a writer the caller reuses, so that
    /// sending an input allocates nothing.
    /// </summary>
    public static class ClientMessages
    {
        /// <summary>Whether a room name is 1..=64 characters of [A-Za-z0-9_.-].</summary>
        public static bool IsValidRoomName(string room)
        {
            if (string.IsNullOrEmpty(room) || room.Length > 64) return false;
            foreach (char c in room)
            {
                bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '.' || c == '-';
                if (!ok) return false;
            }
            return true;
        }

        /// <summary>Join { room }.</summary>
        public static void Join(ByteWriter w, string room)
        {
            w.Clear();
            w.Varint(0);
            w.Str(room);
        }

        /// <summary>Input { seq, dx, dy, buttons }.</summary>
        public static void Input(ByteWriter w, uint seq, float dx, float dy, uint buttons)
        {
            w.Clear();
            w.Varint(1);
            w.Varint(seq);
            w.F32(dx);
            w.F32(dy);
            w.Varint(buttons);
        }

        /// <summary>
        /// Input5 { seq, dx, dy, buttons, view_tick, view_frac } (protocol v5, PROTOCOL.md
        /// §17.1): an input and the tick the client displayed other entities at.
        /// </summary>
        public static void Input5(ByteWriter w, uint seq, float dx, float dy, uint buttons, uint viewTick, byte viewFrac)
        {
            w.Clear();
            w.Varint(4);
            w.Varint(seq);
            w.F32(dx);
            w.F32(dy);
            w.Varint(buttons);
            w.Varint(viewTick);
            w.U8(viewFrac);
        }

        /// <summary>
        /// A fractional render tick as v5 sends it: the whole tick and 1/256ths of a tick,
        /// rounded down; below 0 or not finite is tick 0, past 2^32 − 1 that tick.
        /// </summary>
        public static void ViewTime(double renderTick, out uint viewTick, out byte viewFrac)
        {
            viewTick = 0;
            viewFrac = 0;
            if (double.IsNaN(renderTick) || double.IsInfinity(renderTick) || renderTick <= 0) return;
            if (renderTick >= uint.MaxValue) { viewTick = uint.MaxValue; return; }
            double whole = Math.Floor(renderTick);
            viewTick = (uint)whole;
            viewFrac = (byte)Math.Min(255.0, Math.Floor((renderTick - whole) * 256.0));
        }

        /// <summary>Ping { client_time }.</summary>
        public static void Ping(ByteWriter w, ulong clientTime)
        {
            w.Clear();
            w.Varint(2);
            w.Varint(clientTime);
        }

        /// <summary>Resume { room, token, last_event_seq }.</summary>
        public static void Resume(ByteWriter w, string room, string token, uint lastEventSeq)
        {
            w.Clear();
            w.Varint(3);
            w.Str(room);
            w.Str(token);
            w.Varint(lastEventSeq);
        }

        /// <summary>
        /// Spectate { room, follow } (protocol v6, instead of Join): watch the room, following
        /// <paramref name="follow"/>'s view, or the whole room when null.
        /// </summary>
        public static void Spectate(ByteWriter w, string room, uint? follow)
        {
            w.Clear();
            w.Varint(5);
            w.Str(room);
            OptionU32(w, follow);
        }

        /// <summary>Follow { entity } (protocol v6, spectators only): a new view from the next update.</summary>
        public static void Follow(ByteWriter w, uint? entity)
        {
            w.Clear();
            w.Varint(6);
            OptionU32(w, entity);
        }

        /// <summary>bincode's Option of a u32: a byte 0 for None, else 1 and the varint.</summary>
        public static void OptionU32(ByteWriter w, uint? value)
        {
            if (value.HasValue)
            {
                w.U8(1);
                w.Varint(value.Value);
            }
            else w.U8(0);
        }

        /// <summary>Encodes a decoded client message back (tests).</summary>
        public static void Encode(ByteWriter w, ClientMessage m)
        {
            switch (m.Variant)
            {
                case 0: Join(w, m.Room); break;
                case 1: Input(w, m.Seq, m.Dx, m.Dy, m.Buttons); break;
                case 2: Ping(w, m.ClientTime); break;
                case 3: Resume(w, m.Room, m.Token, m.LastEventSeq); break;
                case 4: Input5(w, m.Seq, m.Dx, m.Dy, m.Buttons, m.ViewTick, m.ViewFrac); break;
                case 5: Spectate(w, m.Room, m.Follow); break;
                case 6: Follow(w, m.Follow); break;
                default: throw new ArgumentException("unknown client message variant " + m.Variant);
            }
        }

        static uint? OptionU32(ByteReader r)
        {
            byte tag = r.U8();
            if (tag == 0) return null;
            if (tag != 1) throw new ProtocolException("invalid Option tag " + tag);
            return r.U32();
        }

        /// <summary>Decodes a client message (tests and tools); false with an error when malformed.</summary>
        public static bool TryDecode(byte[] bytes, out ClientMessage message, out string error)
        {
            message = null;
            error = null;
            var r = new ByteReader();
            try
            {
                r.Reset(bytes, 0, bytes.Length);
                var m = new ClientMessage();
                m.Variant = (int)r.U32();
                switch (m.Variant)
                {
                    case 0: m.Room = r.Str(); break;
                    case 1: m.Seq = r.U32(); m.Dx = r.F32(); m.Dy = r.F32(); m.Buttons = r.U32(); break;
                    case 2: m.ClientTime = r.U64(); break;
                    case 3: m.Room = r.Str(); m.Token = r.Str(); m.LastEventSeq = r.U32(); break;
                    case 4:
                        m.Seq = r.U32(); m.Dx = r.F32(); m.Dy = r.F32(); m.Buttons = r.U32();
                        m.ViewTick = r.U32(); m.ViewFrac = r.U8();
                        break;
                    case 5: m.Room = r.Str(); m.Follow = OptionU32(r); break;
                    case 6: m.Follow = OptionU32(r); break;
                    default: throw new ProtocolException("unknown client message variant " + m.Variant);
                }
                r.End();
                message = m;
                return true;
            }
            catch (ProtocolException e)
            {
                error = e.Message;
                return false;
            }
        }
    }
}
