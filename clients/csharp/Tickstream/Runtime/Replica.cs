using System.Collections.Generic;

namespace Tickstream
{
    /// <summary>An entity whose position the last update changed, by (Dx, Dy) grid points.</summary>
    public struct MovedEntity
    {
        /// <summary>Entity id.</summary>
        public uint Id;
        /// <summary>x difference.</summary>
        public long Dx;
        /// <summary>y difference.</summary>
        public long Dy;
    }

    /// <summary>
    /// The client's copy of its view (PROTOCOL.md §8, §15.4): applies v2 Updates and v3 Update3s,
    /// keeps the checksum incrementally and verifies it. An update that does not apply is a
    /// desync, returned as an error text (never thrown); the replica is then unusable until the
    /// next Welcome (<see cref="Clear"/>). Steady-state updates allocate nothing; a spawn
    /// allocates its entity.
    /// </summary>
    public sealed class Replica
    {
        readonly Dictionary<uint, Entity> entities = new Dictionary<uint, Entity>();
        /// <summary>v3: the entities in id order, the order of an Update3's motion.</summary>
        readonly List<Entity> order = new List<Entity>();
        readonly List<Entity> merged = new List<Entity>();
        bool orderValid = true;
        bool hasTick;

        /// <summary>The entities whose position the last update changed.</summary>
        public readonly List<MovedEntity> Moved = new List<MovedEntity>();

        /// <summary>Tick of the last update applied (0 before the first; see <see cref="HasTick"/>).</summary>
        public uint Tick { get; private set; }
        /// <summary>Whether an update was applied since the last Clear.</summary>
        public bool HasTick { get { return hasTick; } }
        /// <summary>ack_seq of the last update applied.</summary>
        public uint AckSeq { get; private set; }
        /// <summary>The checksum of what the replica holds.</summary>
        public uint Checksum { get; private set; }
        /// <summary>v3: ticks between the last two updates (0 after the first).</summary>
        public uint Gap { get; private set; }
        /// <summary>How many entities are in view.</summary>
        public int Count { get { return entities.Count; } }
        /// <summary>The entities by id (do not modify).</summary>
        public Dictionary<uint, Entity>.ValueCollection Entities { get { return entities.Values; } }

        /// <summary>The entity with this id, or null.</summary>
        public Entity Get(uint id)
        {
            Entity e;
            return entities.TryGetValue(id, out e) ? e : null;
        }

        /// <summary>Empties the replica: a Welcome starts a new view.</summary>
        public void Clear()
        {
            entities.Clear();
            order.Clear();
            orderValid = true;
            hasTick = false;
            Tick = 0;
            AckSeq = 0;
            Checksum = 0;
            Gap = 0;
            Moved.Clear();
        }

        /// <summary>The full checksum recomputed from every entity (tests).</summary>
        public uint FullChecksum()
        {
            uint sum = 0;
            foreach (var e in entities.Values) unchecked { sum += e.Hash(); }
            return sum;
        }

        /// <summary>Applies a v2 Update (§8); null on success, else the desync.</summary>
        public string Apply(Update u)
        {
            if (hasTick && u.Tick <= Tick) return "update for tick " + u.Tick + " after tick " + Tick;
            uint sum = Checksum;
            unchecked
            {
                foreach (var id in u.Despawns)
                {
                    Entity e;
                    if (!entities.TryGetValue(id, out e)) return "despawn of unknown entity " + id;
                    sum -= e.Hash();
                    entities.Remove(id);
                }
                foreach (var s in u.Spawns)
                {
                    if (entities.ContainsKey(s.Id)) return "spawn of entity " + s.Id + " that is already present";
                    var e = new Entity { Id = s.Id, Kind = s.Kind, X = s.X, Y = s.Y, Fields = s.Fields };
                    entities.Add(s.Id, e);
                    sum += e.Hash();
                }
                Moved.Clear();
                foreach (var c in u.Changes)
                {
                    Entity e;
                    if (!entities.TryGetValue(c.Id, out e)) return "change of unknown entity " + c.Id;
                    long x = (long)e.X + c.Dx;
                    long y = (long)e.Y + c.Dy;
                    if (x < 0 || x > 0xFFFFFFFFL || y < 0 || y > 0xFFFFFFFFL) return "change moves entity " + c.Id + " out of the grid";
                    sum -= e.Hash();
                    e.X = (uint)x;
                    e.Y = (uint)y;
                    sum += e.Hash();
                    Moved.Add(new MovedEntity { Id = c.Id, Dx = c.Dx, Dy = c.Dy });
                }
                foreach (var f in u.FieldChanges)
                {
                    Entity e;
                    if (!entities.TryGetValue(f.Id, out e)) return "field change of unknown entity " + f.Id;
                    sum -= e.Hash();
                    for (int i = 0; i < Protocol.MaxFields; i++) if ((f.Mask & (1 << i)) != 0) e.Fields[i] = f.Values[i];
                    sum += e.Hash();
                }
            }
            if (sum != u.Checksum) return Mismatch(u.Tick, u.Checksum, sum);
            Checksum = sum;
            orderValid = false; // a v2 replica keeps no id order
            Gap = hasTick ? u.Tick - Tick : 0;
            Tick = u.Tick;
            hasTick = true;
            AckSeq = u.AckSeq;
            return null;
        }

        static string Mismatch(long tick, uint server, uint replica)
        {
            return "checksum mismatch at tick " + tick + ": server 0x" + server.ToString("x8") + ", replica 0x" + replica.ToString("x8");
        }

        static int ById(Entity a, Entity b) { return a.Id.CompareTo(b.Id); }
        static readonly System.Comparison<Entity> IdOrder = ById;

        /// <summary>
        /// Applies a v3 Update3 (§15.4): despawns, every held entity at its prediction plus its
        /// residual, spawns, field differences; then the checksum. Null on success, else the desync.
        /// </summary>
        public string Apply3(Update3 u)
        {
            long k = u.TickGap;
            if (k < 1) return "update with a tick gap of 0";
            long tick = (hasTick ? (long)Tick : 0) + k;
            if (tick > 0xFFFFFFFFL) return "update for tick " + tick + " past 2^32";
            if (!orderValid)
            {
                order.Clear();
                foreach (var e in entities.Values) { e.PrevX = e.X; e.PrevY = e.Y; order.Add(e); }
                order.Sort(IdOrder);
                orderValid = true;
            }
            uint sum = Checksum;
            unchecked
            {
                foreach (var id in u.Despawns)
                {
                    Entity e;
                    if (!entities.TryGetValue(id, out e)) return Broken("despawn of unknown entity " + id);
                    sum -= e.Hash();
                    entities.Remove(id);
                }
                if (u.Despawns.Count > 0)
                {
                    int keep = 0;
                    for (int i = 0; i < order.Count; i++)
                    {
                        if (!entities.ContainsKey(order[i].Id)) continue;
                        order[keep++] = order[i];
                    }
                    order.RemoveRange(keep, order.Count - keep);
                }
                if (u.Held != order.Count) return Broken("update moves " + u.Held + " held entities, the replica holds " + order.Count);
                long g = Gap;
                Moved.Clear();
                int mi = 0;
                int nextIndex = u.Moves.Count > 0 ? u.Moves[0].Index : -1;
                for (int i = 0; i < order.Count; i++)
                {
                    var e = order[i];
                    long x = LinearPrediction.Predict(e.X, e.PrevX, k, g);
                    long y = LinearPrediction.Predict(e.Y, e.PrevY, k, g);
                    if (nextIndex == i)
                    {
                        x += u.Moves[mi].Rx;
                        y += u.Moves[mi].Ry;
                        mi++;
                        nextIndex = mi < u.Moves.Count ? u.Moves[mi].Index : -1;
                        if (x < 0 || x > 0xFFFFFFFFL || y < 0 || y > 0xFFFFFFFFL) return Broken("change moves entity " + e.Id + " out of the grid");
                    }
                    e.PrevX = e.X;
                    e.PrevY = e.Y;
                    if (x != e.X || y != e.Y)
                    {
                        sum -= e.Hash();
                        Moved.Add(new MovedEntity { Id = e.Id, Dx = x - e.X, Dy = y - e.Y });
                        e.X = (uint)x;
                        e.Y = (uint)y;
                        sum += e.Hash();
                    }
                }
                if (mi != u.Moves.Count) return Broken("moves out of order or past the held entities");
                if (u.Spawns.Count > 0)
                {
                    merged.Clear();
                    int i = 0;
                    uint last = 0;
                    for (int si = 0; si < u.Spawns.Count; si++)
                    {
                        var s = u.Spawns[si];
                        if (entities.ContainsKey(s.Id)) return Broken("spawn of entity " + s.Id + " that is already present");
                        if (si > 0 && s.Id <= last) return Broken("spawns out of order");
                        last = s.Id;
                        // A new entity is held in one state: it predicts as standing still.
                        var e = new Entity { Id = s.Id, Kind = s.Kind, X = s.X, Y = s.Y, Fields = s.Fields, PrevX = s.X, PrevY = s.Y };
                        entities.Add(s.Id, e);
                        sum += e.Hash();
                        for (; i < order.Count && order[i].Id < e.Id; i++) merged.Add(order[i]);
                        merged.Add(e);
                    }
                    for (; i < order.Count; i++) merged.Add(order[i]);
                    order.Clear();
                    order.AddRange(merged);
                    merged.Clear();
                }
                foreach (var f in u.FieldChanges)
                {
                    Entity e;
                    if (!entities.TryGetValue(f.Id, out e)) return Broken("field change of unknown entity " + f.Id);
                    sum -= e.Hash();
                    for (int i = 0; i < Protocol.MaxFields; i++) if ((f.Mask & (1 << i)) != 0) e.Fields[i] = e.Fields[i] + f.Values[i];
                    sum += e.Hash();
                }
            }
            if (sum != u.Checksum) return Broken(Mismatch(tick, u.Checksum, sum));
            Checksum = sum;
            Gap = hasTick ? (uint)k : 0;
            Tick = (uint)tick;
            hasTick = true;
            unchecked { AckSeq = AckSeq + u.AckDelta; }
            return null;
        }

        /// <summary>After a desync in the middle of an Update3 the id order is rebuilt if used again.</summary>
        string Broken(string why)
        {
            orderValid = false;
            return why;
        }

        /// <summary>The entities in id order (tests; allocates).</summary>
        public List<Entity> SortedEntities()
        {
            var list = new List<Entity>(entities.Values);
            list.Sort(IdOrder);
            return list;
        }
    }
}
