using System.Runtime.InteropServices;

namespace Tickstream
{
    /// <summary>
    /// An f32's bits without allocating (BitConverter.GetBytes would allocate an array per
    /// value); an explicit-layout struct works the same under Mono, IL2CPP and .NET.
    /// </summary>
    [StructLayout(LayoutKind.Explicit)]
    struct FloatBits
    {
        [FieldOffset(0)] public float F;
        [FieldOffset(0)] public uint U;

        public static uint ToBits(float f) { var b = new FloatBits(); b.F = f; return b.U; }
        public static float FromBits(uint u) { var b = new FloatBits(); b.U = u; return b.F; }
    }
}
