// Unity WebGL bridge to the JavaScript client (not compiled or run by the tests: it needs a
// Unity WebGL build). WebGL builds have no ClientWebSocket and no threads, so the browser's own
// WebSocket, through assets/web/tickstream.js, plays instead. Put this file under Assets/Plugins/
// and make the page load the library first, for example in the WebGL template's index.html:
//   <script type="module">
//     import * as Tickstream from "https://YOUR-SERVER:7443/tickstream.js";
//     window.Tickstream = Tickstream;
//   </script>
// TickstreamWebGL.cs declares these functions; messages come back with SendMessage.
mergeInto(LibraryManager.library, {
  TickstreamConnect: function (urlPtr, roomPtr, objectPtr) {
    var url = UTF8ToString(urlPtr), room = UTF8ToString(roomPtr), target = UTF8ToString(objectPtr);
    var client = new window.Tickstream.TickstreamClient({ url: url, room: room });
    client.on("welcome", function (w) { SendMessage(target, "OnTickstreamWelcome", String(w.entity)); });
    client.on("event", function (e) { SendMessage(target, "OnTickstreamEvent", JSON.stringify(e)); });
    client.on("close", function (c) { SendMessage(target, "OnTickstreamClose", c.code + " " + c.reason); });
    client.connect();
    window.tickstreamClient = client;
  },
  TickstreamSetInput: function (dx, dy) {
    if (window.tickstreamClient) window.tickstreamClient.setInput(dx, dy);
  },
  // The frame as JSON: { own: {id, x, y} | null, entities: [{id, kind, x, y}] }, world units.
  TickstreamFrameJson: function () {
    var c = window.tickstreamClient;
    var f = c ? c.frame() : { own: null, entities: [] };
    var out = { own: f.own && { id: f.own.id, x: f.own.x, y: f.own.y }, entities: f.entities.map(function (e) { return { id: e.id, kind: e.kind, x: e.x, y: e.y }; }) };
    var json = JSON.stringify(out);
    var size = lengthBytesUTF8(json) + 1;
    var ptr = _malloc(size);
    stringToUTF8(json, ptr, size);
    return ptr;
  },
  TickstreamClose: function () {
    if (window.tickstreamClient) window.tickstreamClient.close();
  },
});
