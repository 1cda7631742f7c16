// Filters the runs table by system and verdict.
(function () {
  'use strict';
  var sys = document.getElementById('f-system'), ver = document.getElementById('f-verdict');
  var rows = document.querySelectorAll('tr.run'), count = document.getElementById('f-count');
  function apply() {
    var shown = 0;
    for (var i = 0; i < rows.length; i++) {
      var r = rows[i];
      var ok = (!sys.value || r.getAttribute('data-system') === sys.value) &&
        (!ver.value || r.getAttribute('data-verdict') === ver.value);
      r.style.display = ok ? '' : 'none';
      if (ok) shown++;
    }
    count.textContent = shown + ' of ' + rows.length + ' shown';
  }
  sys.addEventListener('change', apply);
  ver.addEventListener('change', apply);
  apply();
})();
