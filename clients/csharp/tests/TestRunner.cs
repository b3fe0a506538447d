using System;
using System.Collections.Generic;
using System.Diagnostics;

namespace Tickstream.Tests
{
    /// <summary>
    /// The C# client's test runner (no NUnit needed): runs every test, prints one line per test
    /// and then "N passed, N failed", and exits non-zero on any failure. clients/csharp/test.sh
    /// starts the real servers the live tests use and passes their addresses:
    /// <c>--repo DIR --ws URL --wss URL --cert FILE --token-ws URL --token TOKEN --token-room ROOM
    /// --delayed-ws URL --playback-ws URL --playback-room ROOM [--only NAME]</c> (spectators 300 ms
    /// behind with one seat per room; a recording of ROOM played back).
    /// </summary>
    static class TestRunner
    {
        public static readonly Dictionary<string, string> Args = new Dictionary<string, string>();

        public static string Arg(string name)
        {
            string v;
            return Args.TryGetValue(name, out v) ? v : null;
        }

        static int Main(string[] argv)
        {
            for (int i = 0; i + 1 < argv.Length; i += 2) Args[argv[i].TrimStart('-')] = argv[i + 1];
            var tests = new List<KeyValuePair<string, Action>>();
            GoldenTests.Register(tests);
            ModelTests.Register(tests);
            SpectatorTests.Register(tests);
            if (Arg("ws") != null) LiveTests.Register(tests);
            else Console.WriteLine("(no --ws: the live tests against a server are not run)");
            string only = Arg("only");
            int passed = 0, failed = 0;
            foreach (var t in tests)
            {
                if (only != null && !t.Key.Contains(only)) continue;
                var sw = Stopwatch.StartNew();
                try
                {
                    t.Value();
                    passed++;
                    Console.WriteLine("ok    " + t.Key + " (" + sw.ElapsedMilliseconds + " ms)");
                }
                catch (Exception e)
                {
                    failed++;
                    string why = e is CheckFailed ? e.Message : e.ToString();
                    Console.WriteLine("FAIL  " + t.Key + " (" + sw.ElapsedMilliseconds + " ms): " + why);
                }
            }
            Console.WriteLine(passed + " passed, " + failed + " failed");
            return failed == 0 && passed > 0 ? 0 : 1;
        }
    }
}
