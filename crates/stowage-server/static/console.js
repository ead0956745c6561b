// Progressive enhancement only: copy buttons and a live filter. Every page works without it.
document.querySelectorAll("button.copy").forEach(function (b) {
  b.addEventListener("click", function () {
    if (navigator.clipboard) { navigator.clipboard.writeText(b.dataset.copy); b.textContent = "Copied"; }
  });
});
document.querySelectorAll("input[data-live-filter]").forEach(function (input) {
  var table = document.getElementById(input.dataset.liveFilter);
  if (!table) { return; }
  input.addEventListener("input", function () {
    var q = input.value.toLowerCase();
    table.querySelectorAll("tbody tr").forEach(function (tr) {
      tr.hidden = q !== "" && (tr.dataset.name || "").toLowerCase().indexOf(q) < 0;
    });
  });
});
