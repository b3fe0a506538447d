using System;

namespace Tickstream.Tests
{
    /// <summary>A failed check, with its message.</summary>
    sealed class CheckFailed : Exception
    {
        public CheckFailed(string message) : base(message) { }
    }

    /// <summary>Assertions with a message each (what the check means), as the Rust tests do.</summary>
    static class Check
    {
        public static void True(bool condition, string what)
        {
            if (!condition) throw new CheckFailed(what);
        }

        public static void Equal<T>(T expected, T actual, string what)
        {
            if (!Equals(expected, actual)) throw new CheckFailed(what + ": expected " + expected + ", got " + actual);
        }

        public static string Hex(byte[] bytes, int count = -1)
        {
            if (count < 0) count = bytes.Length;
            var sb = new System.Text.StringBuilder(count * 2);
            for (int i = 0; i < count; i++) sb.Append(bytes[i].ToString("x2"));
            return sb.ToString();
        }

        public static byte[] Unhex(string hex)
        {
            var b = new byte[hex.Length / 2];
            for (int i = 0; i < b.Length; i++) b[i] = Convert.ToByte(hex.Substring(2 * i, 2), 16);
            return b;
        }
    }
}
