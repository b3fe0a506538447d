using System.Collections.Generic;

namespace Tickstream
{
    /// <summary>
    /// A version-2 `Update` (ServerMsg variant 1; PROTOCOL.md §3.3, §7). The decoder reuses one
    /// instance and its lists from message to message: copy what you keep.
    /// </summary>
    public sealed class Update
    {
        /// <summary>The tick this update brings the view to.</summary>
        public uint Tick;
        /// <summary>Latest Input.seq applied at or before Tick.</summary>
        public uint AckSeq;
        /// <summary>The view checksum after applying the delta.</summary>
        public uint Checksum;
        /// <summary>Despawned ids, ascending.</summary>
        public readonly List<uint> Despawns = new List<uint>();
        /// <summary>Spawned entities, ascending ids.</summary>
        public readonly List<SpawnRecord> Spawns = new List<SpawnRecord>();
        /// <summary>Position changes, ascending ids.</summary>
        public readonly List<ChangeRecord> Changes = new List<ChangeRecord>();
        /// <summary>Field changes (new values), ascending ids.</summary>
        public readonly List<FieldChangeRecord> FieldChanges = new List<FieldChangeRecord>();
        /// <summary>Events since the previous update, ascending seq.</summary>
        public readonly List<GameEvent> Events = new List<GameEvent>();

        /// <summary>Empties every list.</summary>
        public void Clear()
        {
            Despawns.Clear(); Spawns.Clear(); Changes.Clear(); FieldChanges.Clear(); Events.Clear();
        }
    }

    /// <summary>
    /// A version-3 `Update3` (ServerMsg variant 4; PROTOCOL.md §15.3): positions as residuals
    /// from the client's own prediction. Reused by the decoder like <see cref="Update"/>.
    /// </summary>
    public sealed class Update3
    {
        /// <summary>This update's tick − the replica's tick (≥ 1).</summary>
        public uint TickGap;
        /// <summary>This update's ack_seq − the replica's, mod 2^32.</summary>
        public uint AckDelta;
        /// <summary>The view checksum after applying it.</summary>
        public uint Checksum;
        /// <summary>Despawned ids, ascending.</summary>
        public readonly List<uint> Despawns = new List<uint>();
        /// <summary>Entities held after the despawns (the motion's length).</summary>
        public int Held;
        /// <summary>Whether the motion came in the sparse form.</summary>
        public bool Sparse;
        /// <summary>Non-zero residuals, ascending index.</summary>
        public readonly List<MoveRecord> Moves = new List<MoveRecord>();
        /// <summary>Spawned entities, ascending ids.</summary>
        public readonly List<SpawnRecord> Spawns = new List<SpawnRecord>();
        /// <summary>Field differences (wrapping), ascending ids.</summary>
        public readonly List<FieldChangeRecord> FieldChanges = new List<FieldChangeRecord>();
        /// <summary>Events since the previous update, ascending seq.</summary>
        public readonly List<GameEvent> Events = new List<GameEvent>();

        /// <summary>Empties every list.</summary>
        public void Clear()
        {
            Despawns.Clear(); Moves.Clear(); Spawns.Clear(); FieldChanges.Clear(); Events.Clear();
        }
    }
}
