// Godot 4 (.NET) sample (not compiled by clients/csharp/test.sh: it needs GodotSharp). Copy
// clients/csharp/Tickstream/Runtime/ into the project (README: "C# client"), attach this to a
// Node2D and run: it joins the room, moves with the ui_* arrow actions and draws every entity.
using System.Collections.Generic;
using Godot;
using Tickstream;

public partial class TickstreamNode : Node2D
{
    [Export] public string Url = "wss://127.0.0.1:7443/ws";
    [Export] public string Room = "lobby";
    [Export] public bool Insecure = true; // development only: the server's self-signed certificate

    TickstreamClient client;
    readonly List<EntityView> remotes = new List<EntityView>();
    EntityView own;
    bool hasOwn;

    public override void _Ready()
    {
        client = new TickstreamClient(new ClientOptions { Url = Url, Room = Room, Insecure = Insecure });
        client.GameEventReceived += e => GD.Print($"event #{e.Seq} {e.KindName}: {e.Text}");
        client.Error += e => GD.PushWarning($"tickstream: {e}");
        client.Connect();
    }

    // Poll on the main thread, once per frame: every event above is raised from here.
    public override void _Process(double delta)
    {
        Vector2 dir = Input.GetVector("ui_left", "ui_right", "ui_up", "ui_down");
        client.SetInput(dir.X, dir.Y);
        client.Poll();
        hasOwn = client.Frame(remotes, out own);
        QueueRedraw();
    }

    public override void _Draw()
    {
        foreach (var e in remotes) DrawCircle(new Vector2((float)e.X, (float)e.Y), 3, Colors.Gray);
        if (hasOwn) DrawCircle(new Vector2((float)own.X, (float)own.Y), 5, Colors.Gold);
    }

    public override void _ExitTree() => client?.Close(); // 1000: the player leaves
}
