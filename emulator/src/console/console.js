// The console's creator-upload page: asks the console for a one-time upload URL (as a web
// app's backend would), then sends the file straight to that URL with XMLHttpRequest (for its
// upload progress events), without credentials. No build step, no dependency.
"use strict";

document.addEventListener("DOMContentLoaded", () => {
  const form = document.getElementById("upload-form");
  if (!form) return;
  const status = document.getElementById("upload-status");
  const progress = document.getElementById("upload-progress");
  const show = (text, state) => {
    status.textContent = text;
    status.dataset.state = state;
  };

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const file = document.getElementById("upload-file").files[0];
    if (!file) return show("Choose a file first.", "error");
    progress.value = 0;
    try {
      show("Creating a one-time upload URL…", "busy");
      const params = new URLSearchParams();
      params.set("id", document.getElementById("upload-id").value);
      params.set("metadata", document.getElementById("upload-metadata").value);
      if (document.getElementById("upload-signed").checked) params.set("requireSignedURLs", "true");
      const created = await fetch("/console/upload-url", { method: "POST", body: params });
      const envelope = await created.json();
      if (!envelope.success) throw new Error(describe(envelope.errors));
      const { id, uploadURL, page } = envelope.result;

      show("Uploading " + file.name + " to the one-time URL…", "busy");
      const answer = await upload(uploadURL, file, (sent, total) => {
        progress.value = total ? Math.round((sent * 100) / total) : 0;
      });
      if (!answer.success) throw new Error(describe(answer.errors));
      progress.value = 100;
      status.textContent = "Uploaded: ";
      const link = document.createElement("a");
      link.href = page;
      link.id = "uploaded-link";
      link.textContent = id;
      status.appendChild(link);
      status.dataset.state = "done";
      status.dataset.id = id;
    } catch (error) {
      // A bar left full would read as success; the draft the URL made stays out of the
      // gallery (drafts are listed nowhere, as on Cloudflare).
      progress.value = 0;
      show("Failed: " + error.message, "error");
    }
  });
});

/**
 * Cloudflare's errors as one line. Its messages often name their code already
 * ("ERROR 9422: Decode error"), so the code is prefixed only to those that do not.
 */
function describe(errors) {
  return (errors || [])
    .map((e) => (String(e.message).includes(String(e.code)) ? e.message : e.code + ": " + e.message))
    .join("; ");
}

/** POSTs `file` as the multipart field `file` to `url`; resolves with the parsed JSON answer. */
function upload(url, file, onProgress) {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open("POST", url);
    xhr.responseType = "json";
    xhr.upload.addEventListener("progress", (e) => onProgress(e.loaded, e.total));
    xhr.addEventListener("load", () =>
      xhr.response ? resolve(xhr.response) : reject(new Error("HTTP " + xhr.status)));
    xhr.addEventListener("error", () => reject(new Error("network error (CORS?)")));
    const body = new FormData();
    body.append("file", file);
    xhr.send(body);
  });
}
