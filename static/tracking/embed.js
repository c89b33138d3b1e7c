/* Tracking portal embed: put the live tracking page of one consignment in your page.

     <script src="https://TRACKING-HOST/static/tracking/embed.js"
             data-reference="EC-XXX-XXX-XXX" async></script>

   Optional: data-lang="de" (en, de, fr, es), data-title="Parcel tracking" (the frame's
   accessible name). The frame is sized to its content: the page inside it posts its height,
   and only messages from the tracking host, from this very frame, are believed. The tracking
   host lets your page frame it only if your origin is one of the brand's embed origins.

   Where your shop allows an iframe but not this script, frame the page directly:
     <iframe src="https://TRACKING-HOST/embed/EC-XXX-XXX-XXX/" title="Parcel tracking"
             style="width: 100%; height: 900px; border: 0"></iframe>
   Nothing resizes such a frame, so give it a height that fits (it scrolls inside otherwise).
   The page in it still finds your origin, checks it against the brand's embed origins and
   posts { type: "tracking-portal:height", reference: "EC-XXX-XXX-XXX", height: 1234 } (CSS
   px) to it, so a listener of your own, like the one below, can size the frame. */
(function () {
  "use strict";
  var script = document.currentScript;
  if (!script || !script.src) { return; }
  var reference = (script.getAttribute("data-reference") || "").trim();
  if (!/^[A-Za-z0-9-]{1,40}$/.test(reference)) { return; }
  var portal = new URL(script.src, window.location.href).origin;

  var src = portal + "/embed/" + encodeURIComponent(reference.toUpperCase()) + "/?parent=" +
    encodeURIComponent(window.location.origin);
  var lang = script.getAttribute("data-lang");
  if (lang && /^[a-z]{2}$/.test(lang)) { src += "&lang=" + lang; }

  var frame = document.createElement("iframe");
  frame.src = src;
  frame.title = script.getAttribute("data-title") || "Parcel tracking";
  frame.setAttribute("loading", "lazy");
  frame.style.display = "block";
  frame.style.width = "100%";
  frame.style.border = "0";
  frame.style.height = "640px";
  script.parentNode.insertBefore(frame, script.nextSibling);

  window.addEventListener("message", function (event) {
    if (event.origin !== portal || event.source !== frame.contentWindow) { return; }
    var data = event.data;
    if (!data || data.type !== "tracking-portal:height" || typeof data.height !== "number") { return; }
    var height = Math.max(120, Math.min(20000, Math.ceil(data.height)));
    frame.style.height = height + "px";
  });
})();
