// shiplog web UI: the little that needs JavaScript. Everything works
// without it; with it, filters apply on change, the print button prints, and
// the page's live fragment is re-fetched when the store changes (server-sent
// events from /events).
(function () {
  'use strict';

  document.querySelectorAll('form[data-autosubmit] select').forEach(function (sel) {
    sel.addEventListener('change', function () {
      var f = sel.form;
      if (f.requestSubmit) { f.requestSubmit(); } else { f.submit(); }
    });
  });

  document.querySelectorAll('[data-print]').forEach(function (b) {
    b.hidden = false;
    b.addEventListener('click', function () { window.print(); });
  });

  var live = document.getElementById('live');
  var status = document.getElementById('live-status');
  if (!live || !window.EventSource || !window.fetch || document.body.classList.contains('print-view')) { return; }
  var app = live.getAttribute('data-app') || '';

  function say(text) { if (status) { status.textContent = text; } }
  function clock() {
    var d = new Date();
    function p(n) { return (n < 10 ? '0' : '') + n; }
    return p(d.getHours()) + ':' + p(d.getMinutes()) + ':' + p(d.getSeconds());
  }

  var busy = false, again = false, timer = 0;
  function refresh() {
    if (busy) { again = true; return; }
    busy = true;
    var url = new URL(window.location.href);
    url.searchParams.set('fragment', '1');
    fetch(url.toString(), { credentials: 'same-origin', headers: { 'Accept': 'text/html' } })
      .then(function (r) { if (!r.ok) { throw new Error('HTTP ' + r.status); } return r.text(); })
      .then(function (html) {
        // Keep what the reader opened and where the focus was.
        var open = [];
        live.querySelectorAll('details[id][open]').forEach(function (d) { open.push(d.id); });
        var focused = document.activeElement && live.contains(document.activeElement) ? document.activeElement.id : '';
        live.innerHTML = html;
        open.forEach(function (id) { var d = document.getElementById(id); if (d) { d.open = true; } });
        if (focused) { var f = document.getElementById(focused); if (f) { f.focus(); } }
        live.setAttribute('data-refreshed', String(Date.now()));
        say((status.getAttribute('data-text-updated') || '%s').replace('%s', clock()));
      })
      .catch(function () { /* the next notice will try again */ })
      .then(function () {
        busy = false;
        if (again) { again = false; schedule(); }
      });
  }
  function schedule() {
    if (timer) { return; }
    timer = window.setTimeout(function () { timer = 0; refresh(); }, 250);
  }

  var es = new EventSource('/events');
  var lost = false;
  es.addEventListener('open', function () {
    say(status.getAttribute('data-text-live') || '');
    if (lost) { lost = false; schedule(); }
  });
  es.addEventListener('error', function () {
    lost = true;
    say(status.getAttribute('data-text-off') || '');
  });
  es.addEventListener('append', function (e) {
    var b;
    try { b = JSON.parse(e.data); } catch (err) { return; }
    if (app && !b.any_app && (b.apps || []).indexOf(app) < 0) { return; }
    schedule();
  });
  window.addEventListener('pagehide', function () { es.close(); });
})();
