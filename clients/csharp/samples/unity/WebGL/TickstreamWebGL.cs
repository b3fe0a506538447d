// Unity WebGL sample: the C# side of TickstreamBridge.jslib (not compiled by the tests: it
// needs Unity). In WebGL builds use this instead of TickstreamClient, which needs
// ClientWebSocket and threads that WebGL does not have.
#if UNITY_WEBGL && !UNITY_EDITOR
using System.Runtime.InteropServices;
using UnityEngine;

public sealed class TickstreamWebGL : MonoBehaviour
{
    [DllImport("__Internal")] static extern void TickstreamConnect(string url, string room, string gameObjectName);
    [DllImport("__Internal")] static extern void TickstreamSetInput(float dx, float dy);
    [DllImport("__Internal")] static extern string TickstreamFrameJson();
    [DllImport("__Internal")] static extern void TickstreamClose();

    public string url = "wss://127.0.0.1:7443/ws";
    public string room = "lobby";

    void Start() { TickstreamConnect(url, room, gameObject.name); }

    void Update()
    {
        TickstreamSetInput(Input.GetAxisRaw("Horizontal"), Input.GetAxisRaw("Vertical"));
        string frame = TickstreamFrameJson(); // parse with JsonUtility into your own types, then draw
    }

    void OnTickstreamWelcome(string entity) { Debug.Log("welcome, entity " + entity); }
    void OnTickstreamEvent(string json) { Debug.Log("event " + json); }
    void OnTickstreamClose(string codeAndReason) { Debug.Log("closed " + codeAndReason); }
    void OnDestroy() { TickstreamClose(); }
}
#endif
