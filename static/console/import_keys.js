// Sends a long list of card keys in pieces; the progress bar moves as the server finishes each piece.
(function () {
  const form = document.getElementById("import-form");
  if (!form) return;
  const size = parseInt(form.dataset.chunkLines, 10);
  const bar = document.getElementById("import-bar");
  const percent = document.getElementById("import-percent");
  const counts = document.getElementById("import-counts");
  const rejected = document.querySelector("#import-rejected tbody");

  async function text() {
    const file = document.getElementById("import-file").files[0];
    return file ? await file.text() : document.getElementById("import-lines").value;
  }

  form.addEventListener("submit", async function (event) {
    event.preventDefault();
    const lines = (await text()).split(/\r?\n/);
    while (lines.length && lines[lines.length - 1] === "") lines.pop();
    const totals = { imported: 0, duplicates: 0, malformed: 0 };
    document.getElementById("import-progress").hidden = false;
    rejected.replaceChildren();
    for (let start = 0; start < lines.length; start += size) {
      const answer = await fetch(form.dataset.chunkUrl, {
        method: "POST",
        headers: { "Content-Type": "application/json", "X-CSRFToken": form.csrfmiddlewaretoken.value },
        body: JSON.stringify({
          product: document.getElementById("import-product").value,
          first_line: start + 1,
          lines: lines.slice(start, start + size).join("\n"),
        }),
      });
      const body = await answer.json();
      if (!answer.ok) { counts.textContent = body.error.message; return; }
      for (const key of Object.keys(totals)) totals[key] += body[key];
      for (const row of body.rejected) {
        const tr = rejected.insertRow();
        tr.insertCell().textContent = row.line;
        tr.insertCell().textContent = row.message;
      }
      const done = Math.min(lines.length, start + size);
      bar.value = Math.round((100 * done) / lines.length);
      percent.textContent = bar.value + " %";
      const label = form.dataset;
      counts.textContent =
        `${done} / ${lines.length} · ${label.labelImported} ${totals.imported}` +
        ` · ${label.labelDuplicates} ${totals.duplicates} · ${label.labelMalformed} ${totals.malformed}`;
    }
    counts.dataset.done = "1";
  });
})();
