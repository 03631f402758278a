// Informes: typing a day in Desde/Hasta picks the custom period; follow the "Actualizar ahora"
// job until it ends, then reload the figures.
(function () {
  var period = document.getElementById('f-period');
  document.querySelectorAll('.hd-day').forEach(function (field) {
    field.addEventListener('input', function () { if (period) { period.value = 'custom'; } });
  });
  var form = document.getElementById('report-refresh');
  if (!form || !form.dataset.job) { return; }
  var out = document.getElementById('report-progress');
  function poll() {
    fetch(form.dataset.progress, {credentials: 'same-origin'}).then(function (r) { return r.json(); })
      .then(function (p) {
        if (p.status === 'finished') {
          out.textContent = out.dataset.finished;
          var url = new URL(window.location.href);
          url.searchParams.delete('job');
          window.setTimeout(function () { window.location.replace(url.toString()); }, 800);
          return;
        }
        if (p.status === 'failed' || p.status === 'unknown') { out.textContent = out.dataset.failed; return; }
        out.textContent = p.status === 'started'
          ? out.dataset.started.replace('{done}', p.done).replace('{total}', p.total)
          : out.dataset.queued;
        window.setTimeout(poll, 1000);
      });
  }
  poll();
})();
