// The console's only script besides htmx: every page works without it.
// htmx requests carry the session's CSRF token in a header (forms also carry it as a field),
// and "Pause updates" stops the Events list's polling without a reload.
document.addEventListener("htmx:configRequest", function (event) {
  var meta = document.querySelector('meta[name="csrf-token"]');
  if (meta) {
    event.detail.headers["X-CSRF-Token"] = meta.content;
  }
});
