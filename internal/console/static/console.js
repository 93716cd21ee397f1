// Progressive enhancement: file rows open a drawer in place; without JavaScript the links
// lead to the same content as a page.
(function () {
  const drawer = document.getElementById("drawer");
  if (!drawer) return;
  async function open(id) {
    const resp = await fetch("/console/file?partial=1&id=" + encodeURIComponent(id), { credentials: "same-origin" });
    if (!resp.ok) return;
    drawer.innerHTML = await resp.text();
    drawer.hidden = false;
    const close = drawer.querySelector("[data-close]");
    if (close) close.focus(); // keyboard users land in the drawer
  }
  document.addEventListener("click", function (ev) {
    const close = ev.target.closest("[data-close]");
    if (close) { drawer.hidden = true; return; }
    const row = ev.target.closest("tr.file-row");
    if (row) { ev.preventDefault(); open(row.dataset.id); }
  });
  document.addEventListener("keydown", function (ev) { if (ev.key === "Escape") drawer.hidden = true; });
})();
// A rescan in progress: refresh its page every 2 s while any row is live.
(function () {
  if (document.querySelector("tr[data-live]")) setTimeout(function () { location.reload(); }, 2000);
})();
