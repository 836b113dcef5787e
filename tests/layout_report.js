// Injected by tests/test_site.py into every page it opens in headless Chromium: once the page
// has loaded and MathJax has typeset it, write what overflows into a pre element (id
// layout-report) as JSON, which the test reads from the dumped DOM.
window.addEventListener("load", function () {
  setTimeout(function () {
    var wide = function (el) { return el.scrollWidth > el.clientWidth + 2; };
    var text = function (el) { return el.textContent.trim().slice(0, 100); };
    var code = Array.from(document.querySelectorAll("main pre")).filter(wide).map(text);
    var math = Array.from(document.querySelectorAll('main mjx-container[display="true"]')).filter(
      function (el) { return el.getBoundingClientRect().width > el.parentElement.clientWidth + 2 || wide(el); }
    ).map(function (el) { return (el.getAttribute("aria-label") || text(el)).slice(0, 100); });
    var captions = Array.from(document.querySelectorAll("main figure")).filter(
      function (el) { return !el.querySelector("figcaption"); }).length;
    var images = Array.from(document.querySelectorAll("main img")).filter(
      function (el) { return !el.closest("figure"); }).length;
    var report = document.createElement("pre");
    report.id = "layout-report";
    report.textContent = JSON.stringify({
      code: code, math: math, figures_without_caption: captions, images_outside_figures: images,
      body_overflow: document.documentElement.scrollWidth > window.innerWidth + 2,
      width: window.innerWidth, height: document.documentElement.scrollHeight
    });
    document.body.appendChild(report);
  }, 4000);
});
