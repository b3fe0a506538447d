// Unity sample (not compiled by clients/csharp/test.sh: it needs the UnityEngine assemblies).
// Add the package (README: "C# client"), put this on an empty GameObject, press Play: it joins
// the room, moves the own player with the arrow keys or WASD and shows every entity as a cube.
using System.Collections.Generic;
using Tickstream;
using UnityEngine;

public sealed class TickstreamPlayer : MonoBehaviour
{
    public string url = "wss://127.0.0.1:7443/ws";
    public string room = "lobby";
    [Tooltip("Development only: accept the server's self-signed certificate.")]
    public bool insecure = true;
    [Tooltip("Watch the room instead of playing (protocol v6): no own player, every entity a cube.")]
    public bool spectate;

    TickstreamClient client;
    readonly List<EntityView> remotes = new List<EntityView>();
    readonly Dictionary<uint, Transform> shown = new Dictionary<uint, Transform>();
    readonly HashSet<uint> seen = new HashSet<uint>();
    Transform own;

    void Start()
    {
        client = new TickstreamClient(new ClientOptions { Url = url, Room = room, Insecure = insecure, Spectate = spectate });
        client.GameEventReceived += e => Debug.Log("event #" + e.Seq + " " + e.KindName + ": " + e.Text);
        client.Error += e => Debug.LogWarning("tickstream: " + e);
        client.Connect();
        own = GameObject.CreatePrimitive(PrimitiveType.Sphere).transform;
    }

    // Poll on the main thread, once per frame: every event above is raised from here.
    void Update()
    {
        // A spectator's input is never sent; the call is harmless.
        client.SetInput(Input.GetAxisRaw("Horizontal"), Input.GetAxisRaw("Vertical"));
        client.Poll();
        EntityView me;
        if (client.Frame(remotes, out me)) own.position = new Vector3((float)me.X, 0, (float)me.Y) * 0.05f;
        seen.Clear();
        foreach (var e in remotes)
        {
            Transform t;
            if (!shown.TryGetValue(e.Id, out t))
            {
                t = GameObject.CreatePrimitive(PrimitiveType.Cube).transform;
                shown.Add(e.Id, t);
            }
            t.position = new Vector3((float)e.X, 0, (float)e.Y) * 0.05f;
            seen.Add(e.Id);
        }
        foreach (var id in new List<uint>(shown.Keys))
        {
            if (seen.Contains(id)) continue;
            Destroy(shown[id].gameObject);
            shown.Remove(id);
        }
    }

    void OnDestroy()
    {
        if (client != null) client.Close(); // 1000: the player leaves
    }
}
