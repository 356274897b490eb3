/* QLink booking embed: <script src="https://QLINK-HOST/book/static/embed.js" data-clinic="SLUG" async></script>
   inserts the clinic's booking page as an iframe where the script tag stands. */
(function () {
  "use strict";
  var script = document.currentScript;
  if (!script) { return; }
  var clinic = script.getAttribute("data-clinic");
  if (!clinic) { return; }
  var origin = new URL(script.src).origin;
  var frame = document.createElement("iframe");
  frame.src = origin + "/book/" + encodeURIComponent(clinic);
  frame.title = script.getAttribute("data-title") || "Book an appointment";
  frame.loading = "lazy";
  frame.style.width = "100%";
  frame.style.maxWidth = script.getAttribute("data-max-width") || "480px";
  frame.style.height = script.getAttribute("data-height") || "760px";
  frame.style.border = "0";
  frame.setAttribute("allow", "clipboard-write");
  script.parentNode.insertBefore(frame, script.nextSibling);
})();
