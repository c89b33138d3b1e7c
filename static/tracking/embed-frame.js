/* Inside a brand's iframe: tell the parent page how tall the content is, so it can size the
   frame and no scrollbar sits inside a scrollbar. Only an origin among the brand's embed
   origins is ever told, and only through postMessage's targetOrigin, so the browser drops the
   message unless the page framing us really is that origin:
   - embed.js names its page in ?parent=, which the server checked (data-parent-origin);
   - a plain <iframe src="https://TRACKING-HOST/embed/EC-XXX-XXX-XXX/"> (a shop builder that
     allows an iframe but no script) names nothing, so the browser is asked: the parent's
     origin from location.ancestorOrigins (Chromium, Safari) or, where that is missing,
     document.referrer, checked here against the brand's origins (data-embed-origins, the
     same list as the response's frame-ancestors). An iframe with referrerpolicy="no-referrer"
     hides its page, which is then told nothing.

   The message, for a host page's own listener (embed.js has one):
     { type: "tracking-portal:height", reference: "EC-XXX-XXX-XXX", height: 1234 }
   height is in CSS pixels; it is sent on load, on every change of size, and after each live
   update. Believe it only when event.origin is the tracking host and event.source is your
   iframe's contentWindow. */
(function () {
  "use strict";
  var root = document.documentElement;
  if (window.parent === window) { return; }
  var parentOrigin = root.getAttribute("data-parent-origin") || framingOrigin();
  if (!parentOrigin) { return; }
  if (!root.hasAttribute("data-parent-origin")) { keepParent(parentOrigin); }

  function framingOrigin() {
    var candidate = "";
    var ancestors = window.location.ancestorOrigins;
    if (ancestors && ancestors.length) {
      candidate = ancestors[0];
    } else if (document.referrer) {
      try { candidate = new URL(document.referrer).origin; } catch (error) { return ""; }
    }
    return allowed(candidate.toLowerCase()) ? candidate.toLowerCase() : "";
  }

  // The rule of Brand.embedding_origin: an exact origin, or https://*.example.com for every
  // subdomain of example.com (not example.com itself), as CSP's frame-ancestors reads it.
  function allowed(origin) {
    if (!/^https?:\/\/[^/*\s]+$/.test(origin)) { return false; }
    var entries = (root.getAttribute("data-embed-origins") || "").split(" ");
    return entries.some(function (entry) {
      if (!entry) { return false; }
      if (entry === origin) { return true; }
      var wildcard = entry.split("://*.");
      if (wildcard.length !== 2) { return false; }
      var scheme = wildcard[0] + "://";
      var suffix = "." + wildcard[1];
      return origin.indexOf(scheme) === 0 &&
        origin.length > scheme.length + suffix.length &&
        origin.slice(-suffix.length) === suffix;
    });
  }

  // After a click inside the frame (another language, the postcode form) the referrer is this
  // page, not the shop: links and the form carry the origin on, as embed.js's ?parent= does,
  // and the server checks it again. (The poll keeps its URL, so its ETag still matches.)
  function keepParent(origin) {
    var targets = document.querySelectorAll("a[href^='/embed/'], form[action^='/embed/']");
    Array.prototype.forEach.call(targets, function (element) {
      var name = element.tagName === "FORM" ? "action" : "href";
      var url = new URL(element.getAttribute(name), window.location.href);
      url.searchParams.set("parent", origin);
      element.setAttribute(name, url.pathname + url.search + url.hash);
    });
  }

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
