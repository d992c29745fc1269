// Sekisho vault: send the chosen file as the raw body of PUT …/content, so that the server seals it as it
// arrives (no multipart form, no temporary file of plaintext on the server). Loaded from this deployment.
(function () {
  "use strict";

  function csrfToken() {
    var input = document.querySelector('input[name="csrfmiddlewaretoken"]');
    return input ? input.value : "";
  }

  function showError(text) {
    var box = document.getElementById("vault-error");
    if (!box) return;
    box.textContent = text;
    box.hidden = false;
  }

  function upload(form) {
    var input = form.querySelector('input[type="file"]');
    var file = input && input.files && input.files[0];
    if (!file) return;
    var bar = form.querySelector("progress");
    var button = form.querySelector("button");
    var xhr = new XMLHttpRequest();
    xhr.open("PUT", form.getAttribute("data-url"));
    xhr.setRequestHeader("Content-Type", "application/octet-stream");
    xhr.setRequestHeader("X-CSRFToken", csrfToken());
    xhr.setRequestHeader("X-Sekisho-Filename", encodeURIComponent(file.name));
    if (file.type) xhr.setRequestHeader("X-Sekisho-Content-Type", file.type);
    xhr.upload.addEventListener("progress", function (event) {
      if (bar && event.lengthComputable) bar.value = Math.round((100 * event.loaded) / event.total);
    });
    xhr.addEventListener("load", function () {
      if (xhr.status === 201) {
        window.location.reload();
        return;
      }
      var message = "";
      try {
        var body = JSON.parse(xhr.responseText);
        message = body.message + (body.clause ? "（" + body.clause + "）" : "");
      } catch (e) {
        message = "HTTP " + xhr.status;
      }
      showError(message);
      if (button) button.disabled = false;
    });
    xhr.addEventListener("error", function () {
      showError("通信が切断されました。");
      if (button) button.disabled = false;
    });
    if (bar) bar.hidden = false;
    if (button) button.disabled = true;
    xhr.send(file);
  }

  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (!(form instanceof HTMLFormElement) || !form.classList.contains("vault-upload")) return;
    event.preventDefault();
    upload(form);
  });
})();
