// Follows background jobs: any element with data-job-url polls the job API and shows its progress.
(function () {
  function follow(el) {
    var bar = el.querySelector("progress"), msg = el.querySelector(".job-message"), status = el.querySelector(".job-status");
    function tick() {
      fetch(el.dataset.jobUrl, { credentials: "same-origin", headers: { Accept: "application/json" } })
        .then(function (r) { return r.json(); })
        .then(function (job) {
          if (bar) { bar.value = job.progress; }
          if (msg) { msg.textContent = job.failure_reason || job.message || ""; }
          if (status) { status.textContent = job.status; status.className = "job-status badge " + job.status; }
          el.dataset.status = job.status;
          if (job.status === "queued" || job.status === "running") { setTimeout(tick, 1000); }
          else if (job.status === "succeeded" && el.dataset.doneUrl) { window.location.assign(el.dataset.doneUrl); }
          else if (el.dataset.reload !== "no") { window.location.reload(); }
        })
        .catch(function () { setTimeout(tick, 3000); });
    }
    if (el.dataset.status === "queued" || el.dataset.status === "running") { tick(); }
  }
  document.querySelectorAll("[data-job-url]").forEach(follow);
})();
