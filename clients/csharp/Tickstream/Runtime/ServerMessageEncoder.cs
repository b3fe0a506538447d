using System;
using System.Collections.Generic;

namespace Tickstream
{
    /// <summary>
    /// Encodes server messages, byte for byte as the reference server does: for tests (the
    /// golden vectors re-encode) and tools (a fake server). Clients do not need it.
    /// </summary>
    public sealed class ServerMessageEncoder
    {
        readonly BitWriter bits = new BitWriter();

        /// <summary>Writes <paramref name="m"/> into <paramref name="w"/> (cleared first).</summary>
        public void Encode(ByteWriter w, ServerMessage m)
        {
            w.Clear();
            switch (m.Type)
            {
                case ServerMessageType.Welcome: Welcome(w, m.Welcome); break;
                case ServerMessageType.Update: Update(w, m.Update); break;
                case ServerMessageType.Pong: w.Varint(2); w.Varint(m.PongClientTime); w.Varint(m.PongServerTick); break;
                case ServerMessageType.Error: w.Varint(3); w.Varint(m.ErrorCode); w.Str(m.ErrorReason); break;
                case ServerMessageType.Update3: Update3(w, m.Update3); break;
                case ServerMessageType.Moved: w.Varint(6); w.Str(m.MovedUrl); break;
                case ServerMessageType.Spectating: Spectating(w, m.Spectating); break;
                default: throw new ArgumentException("unknown message type");
            }
        }

        static void Welcome(ByteWriter w, Welcome x)
        {
            w.Varint(x.IsWelcome4 ? 5UL : 0UL);
            WelcomeBody(w, x);
        }

        /// <summary>Spectating (v6): the Welcome4 body, then follow, delay_ms and recording.</summary>
        static void Spectating(ByteWriter w, Spectating s)
        {
            w.Varint(7);
            WelcomeBody(w, s.Welcome);
            ClientMessages.OptionU32(w, s.Follow);
            w.Varint(s.DelayMs);
            w.Bool(s.Recording);
        }

        static void WelcomeBody(ByteWriter w, Welcome x)
        {
            w.Varint(x.ProtocolVersion);
            w.Varint(x.Entity);
            w.Varint(x.TickRateHz);
            w.Varint(x.Tick);
            w.F32(x.WorldWidth);
            w.F32(x.WorldHeight);
            w.F32(x.ViewRadius);
            w.Str(x.Game);
            w.Varint((ulong)x.Kinds.Count);
            foreach (var k in x.Kinds) w.Str(k);
            w.Varint((ulong)x.Fields.Count);
            foreach (var f in x.Fields) { w.Str(f.Name); w.F32(f.Scale); }
            w.Varint((ulong)x.EventKinds.Count);
            foreach (var k in x.EventKinds) w.Str(k);
            w.Str(x.ResumeToken);
            w.Bool(x.Resumed);
            if (x.IsWelcome4)
            {
                w.Varint((ulong)x.MoveRule);
                if (x.MoveRule == MoveRuleKind.Walk) w.F32(x.Speed);
            }
        }

        static void Fields(ByteWriter w, int mask, EntityFields values)
        {
            w.U8(mask);
            for (int i = 0; i < Protocol.MaxFields; i++) if ((mask & (1 << i)) != 0) w.I32(values[i]);
        }

        static void Spawns(ByteWriter w, List<SpawnRecord> spawns)
        {
            w.Varint((ulong)spawns.Count);
            ulong next = 0;
            foreach (var s in spawns)
            {
                w.Varint(s.Id - next);
                next = (ulong)s.Id + 1;
                w.U8(s.Kind);
                w.Varint(s.X);
                w.Varint(s.Y);
                Fields(w, s.Fields.NonZeroMask, s.Fields);
            }
        }

        static void Ids(ByteWriter w, List<uint> ids)
        {
            w.Varint((ulong)ids.Count);
            ulong next = 0;
            foreach (var id in ids) { w.Varint(id - next); next = (ulong)id + 1; }
        }

        static void FieldChanges(ByteWriter w, List<FieldChangeRecord> list)
        {
            w.Varint((ulong)list.Count);
            ulong next = 0;
            foreach (var f in list)
            {
                w.Varint(f.Id - next);
                next = (ulong)f.Id + 1;
                Fields(w, f.Mask, f.Values);
            }
        }

        static void Events(ByteWriter w, List<GameEvent> events)
        {
            w.Varint((ulong)events.Count);
            foreach (var e in events)
            {
                w.Varint(e.Seq);
                w.Varint(e.Kind);
                w.Varint(e.Entity);
                w.I32(e.Value);
                w.Str(e.Text);
            }
        }

        static void Update(ByteWriter w, Update u)
        {
            w.Varint(1);
            w.Varint(u.Tick);
            w.Varint(u.AckSeq);
            w.Fixed32(u.Checksum);
            Ids(w, u.Despawns);
            Spawns(w, u.Spawns);
            w.Varint((ulong)u.Changes.Count);
            ulong next = 0;
            foreach (var c in u.Changes)
            {
                w.Varint((c.Id - next) << 2 | (ulong)c.Form);
                next = (ulong)c.Id + 1;
                switch (c.Form)
                {
                    case 0:
                        int p = (c.Dx & 0xFFF) | (c.Dy & 0xFFF) << 12;
                        w.U8(p); w.U8(p >> 8); w.U8(p >> 16);
                        break;
                    case 1: w.U8(c.Dx); w.U8(c.Dx >> 8); break;
                    case 2: w.U8(c.Dy); w.U8(c.Dy >> 8); break;
                    default: w.I32(c.Dx); w.I32(c.Dy); break;
                }
            }
            FieldChanges(w, u.FieldChanges);
            Events(w, u.Events);
        }

        void Update3(ByteWriter w, Update3 u)
        {
            w.Varint(4);
            w.Varint(u.TickGap);
            w.Varint(u.AckDelta);
            w.Fixed32(u.Checksum);
            Ids(w, u.Despawns);
            w.Varint((ulong)u.Held * 2 + (u.Sparse ? 1UL : 0UL));
            if (u.Sparse) w.Varint((ulong)u.Moves.Count);
            bits.Clear();
            int next = 0;
            foreach (var m in u.Moves)
            {
                if (u.Sparse) bits.ExpGolomb((ulong)(m.Index - next), 0);
                else for (; next < m.Index; next++) bits.Put(0, 1);
                bits.Residual(m.Rx, m.Ry);
                next = m.Index + 1;
            }
            if (!u.Sparse) for (; next < u.Held; next++) bits.Put(0, 1);
            bits.Finish();
            w.Varint((ulong)bits.Bytes.Length);
            w.Raw(bits.Bytes.Buffer, 0, bits.Bytes.Length);
            Spawns(w, u.Spawns);
            FieldChanges(w, u.FieldChanges);
            Events(w, u.Events);
        }
    }
}
