using System;
using System.Collections.Generic;

namespace Tickstream.Tests
{
    /// <summary>Placeholder until the live tests land.</summary>
    static class LiveTests
    {
        public static void Register(List<KeyValuePair<string, Action>> t) { }
    }
}
