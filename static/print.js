// A button marked data-print prints the page (kept out of the HTML so the page needs no inline script).
document.querySelectorAll("[data-print]").forEach(function (button) {
  button.addEventListener("click", function () { window.print(); });
});
