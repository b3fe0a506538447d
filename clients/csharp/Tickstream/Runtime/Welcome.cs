using System.Collections.Generic;

namespace Tickstream
{
    /// <summary>What a game field means: its name and the scale of its raw integer.</summary>
    public sealed class FieldSpec
    {
        /// <summary>The field's name (`score`, `rotation`, …).</summary>
        public string Name = string.Empty;
        /// <summary>Value in the game's units = raw × Scale.</summary>
        public float Scale;
    }

    /// <summary>Welcome4's movement rule (v4): how the server moves a player per tick.</summary>
    public enum MoveRuleKind
    {
        /// <summary>The game publishes no rule (and before v4: not told).</summary>
        None = 0,
        /// <summary>Normalised direction × speed per tick, clamped to the arena.</summary>
        Walk = 1,
    }

    /// <summary>
    /// The server's answer to Join or Resume (PROTOCOL.md §3.2; v4's Welcome4 adds
    /// <see cref="MoveRule"/> and <see cref="Speed"/>).
    /// </summary>
    public sealed class Welcome
    {
        /// <summary>The protocol version of this connection (2 to 6).</summary>
        public ushort ProtocolVersion;
        /// <summary>The client's own player entity; 0 in a spectator's welcome (it has none).</summary>
        public uint Entity;
        /// <summary>Ticks, and updates, per second.</summary>
        public ushort TickRateHz;
        /// <summary>The room's tick when the Join was handled (informational).</summary>
        public uint Tick;
        /// <summary>Arena width in world units.</summary>
        public float WorldWidth;
        /// <summary>Arena height in world units.</summary>
        public float WorldHeight;
        /// <summary>View radius in world units; 0 = everything.</summary>
        public float ViewRadius;
        /// <summary>The game the room runs.</summary>
        public string Game = string.Empty;
        /// <summary>Kinds[k] names entity kind k.</summary>
        public List<string> Kinds = new List<string>();
        /// <summary>Fields[i] describes game field i.</summary>
        public List<FieldSpec> Fields = new List<FieldSpec>();
        /// <summary>EventKinds[k] names event kind k.</summary>
        public List<string> EventKinds = new List<string>();
        /// <summary>Single-use secret for Resume.</summary>
        public string ResumeToken = string.Empty;
        /// <summary>True when this answers a Resume.</summary>
        public bool Resumed;
        /// <summary>True when it came as Welcome4 (ServerMsg variant 5, protocol v4).</summary>
        public bool IsWelcome4;
        /// <summary>v4: the movement rule; None before v4.</summary>
        public MoveRuleKind MoveRule;
        /// <summary>v4, Walk: world units per tick.</summary>
        public float Speed;

        /// <summary>Whether the Welcome is usable; null if so, else what is wrong.</summary>
        public string Problem()
        {
            if (TickRateHz == 0) return "tick rate 0";
            if (!(WorldWidth > 0) || !(WorldHeight > 0) || float.IsInfinity(WorldWidth) || float.IsInfinity(WorldHeight)) return "arena size";
            if (Fields.Count > Protocol.MaxFields) return "more than 8 fields";
            if (IsWelcome4 && MoveRule == MoveRuleKind.Walk && (!(Speed >= 0) || float.IsInfinity(Speed))) return "walk speed";
            return null;
        }
    }
}
