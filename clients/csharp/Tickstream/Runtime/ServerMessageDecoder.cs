using System;
using System.Collections.Generic;

namespace Tickstream
{
    /// <summary>
    /// Decodes server messages (PROTOCOL.md §6.2, §15.3; v4's Welcome4; v5's Moved; v6's Spectating). One decoder per
    /// connection: it reuses its <see cref="ServerMessage"/>, <see cref="Update"/> and
    /// <see cref="Update3"/> and their lists, so an update decodes without allocating (events and
    /// Welcome strings aside). Malformed input is an error value, never an exception.
    /// </summary>
    public sealed class ServerMessageDecoder
    {
        readonly ByteReader r = new ByteReader();
        readonly BitReader bits = new BitReader();
        readonly ServerMessage msg = new ServerMessage();
        readonly Update update = new Update();
        readonly Update3 update3 = new Update3();

        /// <summary>
        /// Decodes one message from <paramref name="count"/> bytes at <paramref name="offset"/>.
        /// Returns false with <paramref name="error"/> set when it is malformed.
        /// </summary>
        public bool TryDecode(byte[] bytes, int offset, int count, out ServerMessage message, out string error)
        {
            message = null;
            error = null;
            if (count > Protocol.MaxServerMessage)
            {
                error = "message of " + count + " bytes (limit 4 MiB)";
                return false;
            }
            try
            {
                r.Reset(bytes, offset, count);
                Decode();
                r.End();
                message = msg;
                return true;
            }
            catch (ProtocolException e)
            {
                error = e.Message;
                return false;
            }
            catch (ArgumentException e)
            {
                error = e.Message;
                return false;
            }
        }

        void Decode()
        {
            uint variant = r.U32();
            msg.Welcome = null;
            msg.Update = null;
            msg.Update3 = null;
            msg.Spectating = null;
            switch (variant)
            {
                case 0:
                case 5:
                    msg.Type = ServerMessageType.Welcome;
                    msg.Welcome = DecodeWelcome(variant == 5);
                    break;
                case 1:
                    msg.Type = ServerMessageType.Update;
                    msg.Update = DecodeUpdate();
                    break;
                case 2:
                    msg.Type = ServerMessageType.Pong;
                    msg.PongClientTime = r.U64();
                    msg.PongServerTick = r.U32();
                    break;
                case 3:
                    msg.Type = ServerMessageType.Error;
                    msg.ErrorCode = r.U16();
                    msg.ErrorReason = r.Str();
                    break;
                case 4:
                    msg.Type = ServerMessageType.Update3;
                    msg.Update3 = DecodeUpdate3();
                    break;
                case 6:
                    msg.Type = ServerMessageType.Moved;
                    msg.MovedUrl = r.Str();
                    break;
                case 7:
                    {
                        msg.Type = ServerMessageType.Spectating;
                        var s = new Spectating();
                        s.Welcome = DecodeWelcome(true);
                        s.Follow = OptionU32();
                        s.DelayMs = r.U32();
                        s.Recording = r.Bool();
                        msg.Spectating = s;
                        msg.Welcome = s.Welcome;
                        break;
                    }
                default:
                    throw new ProtocolException("unknown server message variant " + variant);
            }
        }

        /// <summary>bincode's Option of a u32: a byte 0 (None), or 1 and the value.</summary>
        uint? OptionU32()
        {
            byte tag = r.U8();
            if (tag == 0) return null;
            if (tag != 1) throw new ProtocolException("invalid Option tag " + tag);
            return r.U32();
        }

        Welcome DecodeWelcome(bool four)
        {
            var w = new Welcome();
            w.ProtocolVersion = r.U16();
            w.Entity = r.U32();
            w.TickRateHz = r.U16();
            w.Tick = r.U32();
            w.WorldWidth = r.F32();
            w.WorldHeight = r.F32();
            w.ViewRadius = r.F32();
            w.Game = r.Str();
            int n = r.Len();
            for (int i = 0; i < n; i++) w.Kinds.Add(r.Str());
            n = r.Len();
            for (int i = 0; i < n; i++)
            {
                var f = new FieldSpec();
                f.Name = r.Str();
                f.Scale = r.F32();
                w.Fields.Add(f);
            }
            n = r.Len();
            for (int i = 0; i < n; i++) w.EventKinds.Add(r.Str());
            w.ResumeToken = r.Str();
            w.Resumed = r.Bool();
            w.IsWelcome4 = four;
            if (four)
            {
                uint motion = r.U32();
                if (motion == 0) w.MoveRule = MoveRuleKind.None;
                else if (motion == 1)
                {
                    w.MoveRule = MoveRuleKind.Walk;
                    w.Speed = r.F32();
                }
                else throw new ProtocolException("unknown motion rule " + motion);
            }
            return w;
        }

        /// <summary>Decodes ids as gaps from the previous id of the same list (§7.3).</summary>
        struct Gaps
        {
            ulong next;
            public uint Id(ulong gap)
            {
                ulong id = next + gap;
                if (gap > 0xFFFFFFFFUL || id > 0xFFFFFFFFUL) throw new ProtocolException("entity id past 2^32 - 1");
                next = id + 1;
                return (uint)id;
            }
        }

        EntityFields Fields(out int mask)
        {
            mask = r.U8();
            var f = new EntityFields();
            for (int i = 0; i < Protocol.MaxFields; i++) if ((mask & (1 << i)) != 0) f[i] = r.I32();
            return f;
        }

        void Spawns(List<SpawnRecord> spawns)
        {
            int n = r.Count();
            var gaps = new Gaps();
            for (int i = 0; i < n; i++)
            {
                var s = new SpawnRecord();
                s.Id = gaps.Id(r.U64());
                s.Kind = r.U8();
                s.X = r.U32();
                s.Y = r.U32();
                int mask;
                s.Fields = Fields(out mask);
                spawns.Add(s);
            }
        }

        void Despawns(List<uint> despawns)
        {
            int n = r.Count();
            var gaps = new Gaps();
            for (int i = 0; i < n; i++) despawns.Add(gaps.Id(r.U64()));
        }

        void FieldChanges(List<FieldChangeRecord> list)
        {
            int n = r.Count();
            var gaps = new Gaps();
            for (int i = 0; i < n; i++)
            {
                var f = new FieldChangeRecord();
                f.Id = gaps.Id(r.U64());
                f.Values = Fields(out f.Mask);
                if (f.Mask == 0) throw new ProtocolException("field change of entity " + f.Id + " changes no field");
                list.Add(f);
            }
        }

        void Events(List<GameEvent> events)
        {
            int n = r.Len();
            for (int i = 0; i < n; i++)
            {
                var e = new GameEvent();
                e.Seq = r.U32();
                e.Kind = r.U16();
                e.Entity = r.U32();
                e.Value = r.I32();
                e.Text = r.Str();
                events.Add(e);
            }
        }

        static int Sign12(int v) { return v >= 2048 ? v - 4096 : v; }

        Update DecodeUpdate()
        {
            var u = update;
            u.Clear();
            u.Tick = r.U32();
            u.AckSeq = r.U32();
            u.Checksum = r.Fixed32();
            Despawns(u.Despawns);
            Spawns(u.Spawns);
            int n = r.Count();
            var gaps = new Gaps();
            for (int i = 0; i < n; i++)
            {
                ulong header = r.U64();
                var c = new ChangeRecord();
                c.Id = gaps.Id(header >> 2);
                c.Form = (int)(header & 3);
                switch (c.Form)
                {
                    case 0:
                        {
                            int b0 = r.U8(), b1 = r.U8(), b2 = r.U8();
                            int p = b0 | b1 << 8 | b2 << 16;
                            c.Dx = Sign12(p & 0xFFF);
                            c.Dy = Sign12(p >> 12);
                            break;
                        }
                    case 1:
                        {
                            int lo = r.U8(), hi = r.U8();
                            c.Dx = (short)(lo | hi << 8);
                            break;
                        }
                    case 2:
                        {
                            int lo = r.U8(), hi = r.U8();
                            c.Dy = (short)(lo | hi << 8);
                            break;
                        }
                    default:
                        c.Dx = r.I32();
                        c.Dy = r.I32();
                        break;
                }
                if (c.Dx == 0 && c.Dy == 0) throw new ProtocolException("change of entity " + c.Id + " moves nothing");
                u.Changes.Add(c);
            }
            FieldChanges(u.FieldChanges);
            Events(u.Events);
            return u;
        }

        Update3 DecodeUpdate3()
        {
            var u = update3;
            u.Clear();
            u.TickGap = r.U32();
            u.AckDelta = r.U32();
            u.Checksum = r.Fixed32();
            Despawns(u.Despawns);
            uint tag = r.U32();
            u.Held = (int)(tag >> 1);
            u.Sparse = (tag & 1) == 1;
            if (u.Held > Protocol.MaxListLen) throw new ProtocolException(u.Held + " held entities (limit 65536)");
            int moves = u.Sparse ? r.Count() : 0;
            uint len = r.U32();
            if (len > (uint)r.Remaining) throw new ProtocolException("bit section past the end of the message");
            byte[] array;
            int at = r.Raw((int)len, out array);
            bits.Reset(array, at, (int)len);
            if (u.Sparse)
            {
                int next = 0;
                for (int i = 0; i < moves; i++)
                {
                    ulong index = (ulong)next + bits.ExpGolomb(0);
                    if (index >= (ulong)u.Held) throw new ProtocolException("sparse move past the held entities");
                    bits.Residual();
                    if (bits.Rx == 0 && bits.Ry == 0) throw new ProtocolException("sparse move that moves nothing");
                    var m = new MoveRecord();
                    m.Index = (int)index;
                    m.Rx = bits.Rx;
                    m.Ry = bits.Ry;
                    u.Moves.Add(m);
                    next = (int)index + 1;
                }
            }
            else
            {
                for (int index = 0; index < u.Held; index++)
                {
                    bits.Residual();
                    if (bits.Rx == 0 && bits.Ry == 0) continue;
                    var m = new MoveRecord();
                    m.Index = index;
                    m.Rx = bits.Rx;
                    m.Ry = bits.Ry;
                    u.Moves.Add(m);
                }
            }
            bits.Done();
            Spawns(u.Spawns);
            FieldChanges(u.FieldChanges);
            Events(u.Events);
            return u;
        }
    }
}
