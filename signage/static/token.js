/* A patient's live token page: the server sends the whole view on every change. */
(function () {
  "use strict";
  var card = document.getElementById("card");
  var live = document.getElementById("live");
  var STREAM = document.body.dataset.stream;
  var FIELDS = ["headline", "position", "eta", "doctor", "room"];
  var source = null;
  var retryDelay = 2000;

  function connect() {
    if (source) {
      source.close();
    }
    source = new EventSource(STREAM);
    source.addEventListener("token", function (event) {
      var data = JSON.parse(event.data);
      card.dataset.status = data.token.status;
      document.getElementById("code").textContent = data.token.code;
      document.getElementById("name").textContent = data.token.name;
      FIELDS.forEach(function (field) {
        document.getElementById(field).textContent = data[field];
      });
      live.textContent = "Live · updates by itself";
      live.classList.remove("off");
      retryDelay = 2000;
    });
    source.addEventListener("expired", function () {
      source.close();
      live.textContent = "This link has expired";
      live.classList.add("off");
    });
    source.onerror = function () {
      live.textContent = "Reconnecting…";
      live.classList.add("off");
      if (source.readyState === EventSource.CLOSED) {
        setTimeout(connect, retryDelay);
        retryDelay = Math.min(retryDelay * 2, 60000);
      }
    };
  }
  connect();
})();
