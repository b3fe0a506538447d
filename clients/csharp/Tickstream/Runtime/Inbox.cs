using System.Collections.Generic;
using System.Threading;
using System.Threading.Tasks;

namespace Tickstream
{
    /// <summary>What the network task hands the game thread.</summary>
    enum InboxKind { Opened, Frame, Closed }

    /// <summary>One item of the inbox: a frame (in a pooled array), or a change of the connection.</summary>
    struct InboxItem
    {
        public InboxKind Kind;
        public byte[] Data;
        public int Length;
        public int Code;
        public string Text;
    }

    /// <summary>
    /// The bounded hand-over from a connection's network task to the game thread. At most
    /// <c>capacity</c> frames, and about <see cref="MaxBytes"/> bytes, wait; when the game thread
    /// does not poll, the network task stops reading (the server then merges ticks, and past its
    /// limit closes with 4000) instead of buffering without bound. Frame arrays are pooled: a
    /// steady stream allocates nothing.
    /// </summary>
    sealed class Inbox
    {
        readonly object gate = new object();
        readonly Queue<InboxItem> items = new Queue<InboxItem>();
        readonly Stack<byte[]> pool = new Stack<byte[]>();
        readonly SemaphoreSlim slots;
        readonly int capacity;
        int queuedBytes;

        /// <summary>Bytes of frames that may wait (a frame larger than this waits alone).</summary>
        public const int MaxBytes = 8 * 1024 * 1024;

        public Inbox(int capacity)
        {
            this.capacity = capacity;
            slots = new SemaphoreSlim(capacity, capacity);
        }

        /// <summary>Waits (network task) until a frame of <paramref name="length"/> bytes may be posted.</summary>
        public async Task WaitForRoomAsync(int length, CancellationToken cancel)
        {
            await slots.WaitAsync(cancel).ConfigureAwait(false);
            while (true)
            {
                lock (gate)
                {
                    if (queuedBytes == 0 || queuedBytes + length <= MaxBytes) return;
                }
                await Task.Delay(5, cancel).ConfigureAwait(false);
            }
        }

        /// <summary>Posts a copy of a frame (network task; after <see cref="WaitForRoomAsync"/>).</summary>
        public void PostFrame(byte[] data, int length)
        {
            byte[] copy = null;
            lock (gate)
            {
                if (pool.Count > 0 && pool.Peek().Length >= length) copy = pool.Pop();
            }
            if (copy == null) copy = new byte[System.Math.Max(length, 1024)];
            System.Buffer.BlockCopy(data, 0, copy, 0, length);
            lock (gate)
            {
                queuedBytes += length;
                items.Enqueue(new InboxItem { Kind = InboxKind.Frame, Data = copy, Length = length });
            }
        }

        /// <summary>Posts a change of the connection (opened, closed); these take no frame slot.</summary>
        public void Post(InboxKind kind, int code, string text)
        {
            lock (gate) items.Enqueue(new InboxItem { Kind = kind, Code = code, Text = text });
        }

        /// <summary>Takes the next item (game thread).</summary>
        public bool TryTake(out InboxItem item)
        {
            lock (gate)
            {
                if (items.Count == 0) { item = default(InboxItem); return false; }
                item = items.Dequeue();
            }
            return true;
        }

        /// <summary>Gives a frame's array back once it was handled (game thread), and its slot.</summary>
        public void Release(byte[] data, int length)
        {
            lock (gate)
            {
                queuedBytes -= length;
                // Large arrays are not kept: a burst of big frames does not pin their memory.
                if (pool.Count < capacity && data.Length <= 256 * 1024) pool.Push(data);
            }
            slots.Release();
        }
    }
}
