/* Vigie console: security keys (WebAuthn). Served from the console's origin (CSP script-src
   'self'); the pages work without it (TOTP). A button with data-options (where to ask for
   the options) and data-submit (where to post the authenticator's answer) drives one
   ceremony: data-ceremony="create" enrols a key, "get" signs in with one. The anti-forgery
   token is the page's, sent in the X-CSRF-Token header; the answer names the next page. */
(function () {
  "use strict";
  function toBytes(text) {
    var b64 = text.replace(/-/g, "+").replace(/_/g, "/");
    while (b64.length % 4) { b64 += "="; }
    var raw = atob(b64), out = new Uint8Array(raw.length);
    for (var i = 0; i < raw.length; i++) { out[i] = raw.charCodeAt(i); }
    return out.buffer;
  }
  function toText(buffer) {
    var bytes = new Uint8Array(buffer), raw = "";
    for (var i = 0; i < bytes.length; i++) { raw += String.fromCharCode(bytes[i]); }
    return btoa(raw).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }
  function post(url, csrf, body) {
    return fetch(url, {
      method: "POST", credentials: "same-origin",
      headers: {"Content-Type": "application/json", "X-CSRF-Token": csrf},
      body: JSON.stringify(body || {})
    });
  }
  function creationOptions(o) {
    o.challenge = toBytes(o.challenge);
    o.user.id = toBytes(o.user.id);
    (o.excludeCredentials || []).forEach(function (c) { c.id = toBytes(c.id); });
    return {publicKey: o};
  }
  function requestOptions(o) {
    o.challenge = toBytes(o.challenge);
    (o.allowCredentials || []).forEach(function (c) { c.id = toBytes(c.id); });
    return {publicKey: o};
  }
  function answer(cred) {
    var r = cred.response, out = {
      id: cred.id, rawId: toText(cred.rawId), type: cred.type,
      clientExtensionResults: cred.getClientExtensionResults(), response: {
        clientDataJSON: toText(r.clientDataJSON)
      }
    };
    if (cred.authenticatorAttachment) { out.authenticatorAttachment = cred.authenticatorAttachment; }
    if (r.attestationObject) {
      out.response.attestationObject = toText(r.attestationObject);
      if (r.getTransports) { out.response.transports = r.getTransports(); }
    } else {
      out.response.authenticatorData = toText(r.authenticatorData);
      out.response.signature = toText(r.signature);
      if (r.userHandle) { out.response.userHandle = toText(r.userHandle); }
    }
    return out;
  }
  function run(button) {
    var csrf = button.getAttribute("data-csrf");
    var status = document.getElementById(button.getAttribute("aria-describedby"));
    var nameField = button.form ? button.form.querySelector("input[name=name]") : null;
    var create = button.getAttribute("data-ceremony") === "create";
    if (nameField && !nameField.reportValidity()) { return; }
    button.disabled = true;
    status.textContent = button.getAttribute("data-waiting");
    post(button.getAttribute("data-options"), csrf).then(function (r) {
      if (!r.ok) { throw new Error("options " + r.status); }
      return r.json();
    }).then(function (o) {
      return create ? navigator.credentials.create(creationOptions(o))
                    : navigator.credentials.get(requestOptions(o));
    }).then(function (cred) {
      return post(button.getAttribute("data-submit"), csrf,
                  {credential: answer(cred), name: nameField ? nameField.value : ""});
    }).then(function (r) {
      return r.json().then(function (j) {
        if (!r.ok || !j.next) { throw new Error("refused " + r.status); }
        window.location.assign(j.next);
      });
    }).catch(function () {
      status.textContent = button.getAttribute("data-failed");
      button.disabled = false;
    });
  }
  document.addEventListener("DOMContentLoaded", function () {
    if (!window.PublicKeyCredential || !navigator.credentials) { return; }
    document.querySelectorAll("[data-ceremony]").forEach(function (button) {
      var block = button.closest(".security-key");
      if (block) { block.hidden = false; }
      button.addEventListener("click", function (event) { event.preventDefault(); run(button); });
    });
  });
})();
