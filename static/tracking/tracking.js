/* The tracking page's behaviour beyond htmx: conditional polls, no polling in background tabs,
   and package tabs. All of it is optional: without JavaScript the page is complete (a Refresh
   link instead of polling, jump links instead of tabs). CSP forbids inline script and eval,
   which is why this lives here rather than in data-hx-on attributes or trigger filters. */
(function () {
  "use strict";

  var chosenPanel = null; // the package tab the visitor picked, kept across live updates

  function liveRegion() { return document.getElementById("live"); }
  function liveBody() { return document.getElementById("live-body"); }
  function isPoll(event) { return event.detail && event.detail.elt === liveRegion(); }

  // Send the ETag of what is on screen: an unchanged consignment answers 304, which the
  // htmx-config meta tag tells htmx not to swap.
  document.addEventListener("htmx:configRequest", function (event) {
    var body = liveBody();
    if (isPoll(event) && body && body.dataset.etag) {
      event.detail.headers["If-None-Match"] = body.dataset.etag;
    }
  });

  // No polling while the tab is hidden; catch up as soon as it is visible again.
  document.addEventListener("htmx:confirm", function (event) {
    if (isPoll(event) && document.hidden) { event.preventDefault(); }
  });
  document.addEventListener("visibilitychange", function () {
    var region = liveRegion();
    var body = liveBody();
    if (document.hidden || !region || !window.htmx || !region.hasAttribute("data-hx-trigger")) { return; }
    if (body && body.dataset.final) { return; }
    window.htmx.trigger(region, "tracking-refresh");
  });

  // Package tabs: the server sends a list of jump links and one section per package; with
  // JavaScript they become ARIA tabs (WAI-ARIA Authoring Practices, automatic activation).
  function setUpTabs() {
    var nav = document.querySelector("[data-tabs]");
    if (!nav || nav.hasAttribute("data-enhanced")) { return; }
    var list = nav.querySelector("ul");
    var tabs = Array.prototype.slice.call(nav.querySelectorAll("[data-tab]"));
    var panels = tabs.map(function (tab) {
      return document.getElementById(tab.getAttribute("href").slice(1));
    });
    if (!list || !tabs.length || panels.indexOf(null) !== -1) { return; }
    nav.setAttribute("data-enhanced", "");

    function select(index, moveFocus) {
      tabs.forEach(function (tab, i) {
        var on = i === index;
        tab.setAttribute("aria-selected", on ? "true" : "false");
        tab.tabIndex = on ? 0 : -1;
        panels[i].hidden = !on;
      });
      chosenPanel = panels[index].id;
      if (moveFocus) { tabs[index].focus(); }
    }

    list.setAttribute("role", "tablist");
    Array.prototype.forEach.call(list.children, function (item) { item.setAttribute("role", "presentation"); });
    tabs.forEach(function (tab, i) {
      tab.setAttribute("role", "tab");
      tab.setAttribute("aria-controls", panels[i].id);
      panels[i].setAttribute("role", "tabpanel");
      panels[i].setAttribute("aria-labelledby", tab.id);
      tab.addEventListener("click", function (event) {
        event.preventDefault();
        select(i, false);
        if (window.history && window.history.replaceState) {
          window.history.replaceState(null, "", "#" + panels[i].id);
        }
      });
      tab.addEventListener("keydown", function (event) {
        var next = null;
        if (event.key === "ArrowRight" || event.key === "ArrowDown") { next = (i + 1) % tabs.length; }
        if (event.key === "ArrowLeft" || event.key === "ArrowUp") { next = (i - 1 + tabs.length) % tabs.length; }
        if (event.key === "Home") { next = 0; }
        if (event.key === "End") { next = tabs.length - 1; }
        if (next !== null) { event.preventDefault(); select(next, true); }
      });
    });

    var wanted = chosenPanel || (window.location.hash ? window.location.hash.slice(1) : "");
    var start = 0;
    panels.forEach(function (panel, i) { if (panel.id === wanted) { start = i; } });
    select(start, false);
  }

  // A live update replaces the panels: set the tabs up again, on the same package.
  document.addEventListener("htmx:afterSettle", setUpTabs);

  setUpTabs();
})();
