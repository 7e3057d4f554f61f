// The navigation is one row that scrolls sideways on a narrow screen:
// bring the current page's entry into view, centred where it can be (and
// again when the screen turns or the window is resized).
(function () {
  "use strict";
  var cur = document.querySelector('nav a[aria-current="page"]');
  if (!cur) { return; }
  var ul = cur.closest("ul"), li = cur.parentNode;
  function show() {
    if (ul.scrollWidth > ul.clientWidth) {
      ul.scrollLeft = li.offsetLeft - (ul.clientWidth - li.offsetWidth) / 2;
    }
  }
  show();
  window.addEventListener("resize", show);
})();
