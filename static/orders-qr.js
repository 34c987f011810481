// The desktop 扫码支付 block: asks the shop for the order's status every few seconds and, once it is no longer
// waiting for payment, loads the order's page (its result: the keys, or why it closed). No inline script: CSP.
(function () {
  var block = document.getElementById("desktop-qr");
  if (!block) { return; }
  var statusUrl = block.getAttribute("data-status-url");
  var resultUrl = block.getAttribute("data-result-url");
  var every = 2000;
  var tries = 0;
  function ask() {
    tries += 1;
    fetch(statusUrl, { credentials: "same-origin", headers: { "Accept": "application/json" } })
      .then(function (answer) { return answer.ok ? answer.json() : null; })
      .then(function (order) {
        if (order && order.status && order.status !== "pending_payment") {
          window.location.assign(resultUrl);
          return;
        }
        if (tries < 900) { window.setTimeout(ask, every); }  // half an hour: the order has expired by then
      })
      .catch(function () { window.setTimeout(ask, every * 2); });
  }
  window.setTimeout(ask, every);
})();
