/* Inside a brand's iframe: tell the parent page how tall the content is, so embed.js can size
   the frame and no scrollbar sits inside a scrollbar. Only the parent origin the server checked
   against the brand's embed origins (data-parent-origin) is told; without one, nothing is sent. */
(function () {
  "use strict";
  var root = document.documentElement;
  var parentOrigin = root.getAttribute("data-parent-origin");
  if (!parentOrigin || window.parent === window) { return; }

  var lastHeight = 0;
  function report() {
    var height = Math.ceil(root.getBoundingClientRect().height);
    if (height === lastHeight) { return; }
    lastHeight = height;
    window.parent.postMessage(
      { type: "tracking-portal:height", reference: root.getAttribute("data-reference"), height: height },
      parentOrigin
    );
  }

  window.addEventListener("load", report);
  window.addEventListener("resize", report);
  document.addEventListener("htmx:afterSettle", report);
  if (window.ResizeObserver) { new ResizeObserver(report).observe(document.body); }
  report();
})();
