using System;
using System.Collections.Generic;
using System.Globalization;
using System.Security.Cryptography.X509Certificates;
using System.Threading;
using Tickstream;

/// <summary>
/// A console player: joins a room, walks in a slow circle, and prints one stats line per second.
/// <c>mono clients/csharp/bin/TickstreamDemo.exe --url wss://127.0.0.1:7443/ws --insecure
/// [--cert FILE] [--room NAME] [--token TOKEN] [--duration SECONDS] [--spectate [--follow ID]]</c>.
/// With <c>--spectate</c> it watches the room instead (protocol v6): no input, every entity
/// drawn, the followed entity's view with <c>--follow</c>, and it ends with a recording's end.
/// Exits 0 when it played or watched (was welcomed and applied updates without a desync), 1
/// otherwise.
/// </summary>
static class TickstreamDemo
{
    static int Main(string[] args)
    {
        var o = new ClientOptions();
        double duration = 0;
        for (int i = 0; i < args.Length; i++)
        {
            string a = args[i];
            string next = i + 1 < args.Length ? args[i + 1] : null;
            switch (a)
            {
                case "--url": o.Url = next; i++; break;
                case "--room": o.Room = next; i++; break;
                case "--token": o.Token = next; i++; break;
                case "--cert": o.TrustedCertificate = new X509Certificate2(next); i++; break;
                case "--insecure": o.Insecure = true; break;
                case "--duration": duration = double.Parse(next, CultureInfo.InvariantCulture); i++; break;
                case "--spectate": o.Spectate = true; break;
                case "--follow":
                    uint follow;
                    if (next == null || !uint.TryParse(next, NumberStyles.None, CultureInfo.InvariantCulture, out follow))
                    {
                        Console.Error.WriteLine("--follow takes an entity id");
                        return 2;
                    }
                    o.Follow = follow;
                    i++;
                    break;
                case "--help":
                case "-h":
                    Console.WriteLine("usage: TickstreamDemo.exe --url wss://HOST:7443/ws [--insecure | --cert FILE] [--room NAME] [--token TOKEN] [--duration SECONDS] [--spectate [--follow ID]]");
                    return 0;
                default:
                    Console.Error.WriteLine("unknown argument " + a + " (try --help)");
                    return 2;
            }
        }
        if (o.Follow.HasValue && !o.Spectate)
        {
            Console.Error.WriteLine("--follow is for --spectate");
            return 2;
        }
        TickstreamClient client;
        try { client = new TickstreamClient(o); }
        catch (ArgumentException e)
        {
            Console.Error.WriteLine(e.Message);
            return 2;
        }
        client.Welcomed += w => Console.WriteLine("welcome: protocol v" + w.ProtocolVersion + ", game " + w.Game + ", entity " + w.Entity + (w.Resumed ? " (resumed)" : "") + ", " + w.TickRateHz + " Hz");
        client.Error += e => Console.WriteLine("error: " + e);
        client.Closed += c => Console.WriteLine("closed: " + c + (c.RecordingEnded ? " [end of the recording]" : ""));
        client.SpectatingStarted += s => Console.WriteLine("spectating: " + (s.Follow.HasValue ? "following entity " + s.Follow.Value : "the whole room")
            + ", " + s.DelayMs + " ms behind" + (s.Recording ? ", a recording" : ", live"));
        client.Connect();
        var stats = new ClientStats();
        var remotes = new List<EntityView>();
        var watch = System.Diagnostics.Stopwatch.StartNew();
        double nextLine = 1000;
        bool played = false;
        long updatesSeen = 0;
        while (duration <= 0 || watch.Elapsed.TotalSeconds < duration)
        {
            double t = watch.Elapsed.TotalSeconds;
            if (!o.Spectate) client.SetInput((float)Math.Cos(t * 0.5), (float)Math.Sin(t * 0.5));
            client.Poll();
            EntityView own;
            client.Frame(remotes, out own);
            if (o.Spectate && o.Follow.HasValue)
            {
                // What a spectator shows: here, where the followed entity is drawn.
                foreach (var v in remotes) if (v.Id == o.Follow.Value) own = v;
            }
            if (watch.Elapsed.TotalMilliseconds >= nextLine)
            {
                nextLine += 1000;
                client.GetStats(stats);
                updatesSeen = stats.Updates;
                if (stats.Connected && stats.Updates > 0) played = true;
                Console.WriteLine(string.Format(CultureInfo.InvariantCulture,
                    "connected={0} tick={1} entities={2} updates/s={3:0.0} rtt={4} protocol=v{5} {10}=({6:0.0}, {7:0.0}) events={8} desyncs={9}",
                    stats.Connected ? "yes" : "no", stats.Tick, stats.Entities, stats.UpdateRateHz,
                    stats.RttMs < 0 ? "-" : stats.RttMs.ToString("0.0", CultureInfo.InvariantCulture) + "ms",
                    stats.ProtocolVersion, own.X, own.Y, stats.Events, stats.Desyncs,
                    o.Spectate ? (o.Follow.HasValue ? "followed" : "spectator") : "own"));
                if (client.State == ConnectionState.Closed) break;
            }
            Thread.Sleep(5);
        }
        client.GetStats(stats);
        client.Close();
        client.WaitClosed(2000); // lets the close frame go out before the process ends
        return played && stats.Desyncs == 0 && updatesSeen > 0 ? 0 : 1;
    }
}
