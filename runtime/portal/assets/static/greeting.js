// Recording a greeting in the browser: the microphone through the Web
// Audio API (a ScriptProcessor collects the samples), downsampled here to
// 8 kHz mono 16-bit and wrapped in a WAV, which the person hears back and
// then saves through the page's own upload form (the same request, CSRF
// token and checks as a WAV file chosen by hand). Without JavaScript, the
// Web Audio API or a microphone the recorder stays hidden and the upload
// form is all there is.
(function () {
  "use strict";
  var box = document.getElementById("recorder");
  var form = document.getElementById("greeting-form");
  var input = document.getElementById("greeting-file");
  var Ctx = window.AudioContext || window.webkitAudioContext;
  var md = navigator.mediaDevices;
  if (!box || !form || !input || !Ctx || !md || !md.getUserMedia || !md.enumerateDevices || !window.DataTransfer) { return; }
  var RATE = 8000;
  var MAX = parseInt(box.dataset.maxSeconds, 10) || 60;
  var startBtn = document.getElementById("rec-start");
  var stopBtn = document.getElementById("rec-stop");
  var saveBtn = document.getElementById("rec-save");
  var state = document.getElementById("rec-state");
  var clock = document.getElementById("rec-time");
  var preview = document.getElementById("rec-preview");
  var rec = null; // the recording in progress
  var wav = null; // the last recording, a Blob
  var url = null;

  // The recorder shows only when there is a microphone to record from.
  // data-mic says what was found (the browser tests wait on it).
  md.enumerateDevices().then(function (ds) {
    var mic = ds.some(function (d) { return d.kind === "audioinput"; });
    box.hidden = !mic;
    box.dataset.mic = mic ? "yes" : "no";
  }, function () { box.dataset.mic = "no"; });

  function mmss(s) {
    s = Math.floor(s);
    return Math.floor(s / 60) + ":" + (s % 60 < 10 ? "0" : "") + (s % 60);
  }
  function say(text) { state.textContent = text; }

  startBtn.addEventListener("click", function () {
    if (rec) { return; }
    startBtn.disabled = true;
    say("Asking for your microphone…");
    md.getUserMedia({ audio: true }).then(function (stream) {
      var ctx = new Ctx();
      var src = ctx.createMediaStreamSource(stream);
      var node = ctx.createScriptProcessor(4096, 1, 1);
      var r = { ctx: ctx, stream: stream, src: src, node: node, chunks: [], n: 0, shown: -1 };
      var limit = MAX * ctx.sampleRate;
      node.onaudioprocess = function (e) {
        if (rec !== r) { return; }
        var data = e.inputBuffer.getChannelData(0);
        var take = Math.min(data.length, limit - r.n);
        r.chunks.push(new Float32Array(data.subarray(0, take)));
        r.n += take;
        var secs = r.n / ctx.sampleRate;
        box.dataset.seconds = secs.toFixed(2);
        if (Math.floor(secs) !== r.shown) {
          r.shown = Math.floor(secs);
          clock.textContent = mmss(secs) + " of " + mmss(MAX);
        }
        if (r.n >= limit) { stop("Stopped at the limit of " + mmss(MAX) + ". "); }
      };
      src.connect(node);
      // A ScriptProcessor runs only while connected to an output; it
      // writes silence there.
      node.connect(ctx.destination);
      rec = r;
      box.classList.add("recording");
      box.dataset.state = "recording";
      box.dataset.seconds = "0";
      clock.textContent = mmss(0) + " of " + mmss(MAX);
      stopBtn.disabled = false;
      saveBtn.hidden = true;
      preview.hidden = true;
      say("Recording. Speak your greeting, then press Stop (it stops by itself after " + mmss(MAX) + ").");
      stopBtn.focus();
      return ctx.resume();
    }).catch(function (err) {
      startBtn.disabled = false;
      say("The microphone could not be used (" + (err && err.name ? err.name : err) + "). You can still upload a WAV file below.");
    });
  });

  stopBtn.addEventListener("click", function () { stop(""); });

  function stop(why) {
    var r = rec;
    if (!r) { return; }
    rec = null;
    r.node.onaudioprocess = null;
    r.src.disconnect();
    r.node.disconnect();
    r.stream.getTracks().forEach(function (t) { t.stop(); });
    r.ctx.close();
    box.classList.remove("recording");
    box.dataset.state = "recorded";
    stopBtn.disabled = true;
    startBtn.disabled = false;
    startBtn.textContent = "Record again";
    var pcm = downsample(r.chunks, r.n, r.ctx.sampleRate);
    wav = encodeWAV(pcm);
    if (url) { URL.revokeObjectURL(url); }
    url = URL.createObjectURL(wav);
    preview.src = url;
    preview.hidden = false;
    saveBtn.hidden = false;
    box.dataset.samples = String(pcm.length);
    say(why + mmss(pcm.length / RATE) + " recorded. Listen to it, then save it as your greeting or record again.");
    saveBtn.focus();
  }

  // downsample averages each 8 kHz sample's span of the input: a box
  // filter, enough to keep what is above 4 kHz from folding into the
  // voice.
  function downsample(chunks, n, rate) {
    var all = new Float32Array(n), at = 0;
    chunks.forEach(function (c) { all.set(c, at); at += c.length; });
    var ratio = rate / RATE;
    var out = new Int16Array(Math.floor(n / ratio));
    for (var i = 0; i < out.length; i++) {
      var a = Math.floor(i * ratio), b = Math.min(n, Math.max(a + 1, Math.floor((i + 1) * ratio)));
      var sum = 0;
      for (var j = a; j < b; j++) { sum += all[j]; }
      var v = Math.max(-1, Math.min(1, sum / (b - a)));
      out[i] = v < 0 ? v * 0x8000 : v * 0x7fff;
    }
    return out;
  }

  // encodeWAV wraps 8 kHz mono 16-bit samples in a RIFF WAVE file.
  function encodeWAV(pcm) {
    var buf = new ArrayBuffer(44 + pcm.length * 2);
    var v = new DataView(buf);
    function text(at, s) { for (var i = 0; i < s.length; i++) { v.setUint8(at + i, s.charCodeAt(i)); } }
    text(0, "RIFF"); v.setUint32(4, 36 + pcm.length * 2, true); text(8, "WAVE");
    text(12, "fmt "); v.setUint32(16, 16, true); v.setUint16(20, 1, true); v.setUint16(22, 1, true);
    v.setUint32(24, RATE, true); v.setUint32(28, RATE * 2, true); v.setUint16(32, 2, true); v.setUint16(34, 16, true);
    text(36, "data"); v.setUint32(40, pcm.length * 2, true);
    for (var i = 0; i < pcm.length; i++) { v.setInt16(44 + i * 2, pcm[i], true); }
    return new Blob([buf], { type: "audio/wav" });
  }

  // Saving is the upload form's own submission with the recording as its
  // file: the server checks it as it checks any upload.
  saveBtn.addEventListener("click", function () {
    if (!wav) { return; }
    var dt = new DataTransfer();
    dt.items.add(new File([wav], "greeting.wav", { type: "audio/wav" }));
    input.files = dt.files;
    saveBtn.disabled = true;
    say("Saving your greeting…");
    if (form.requestSubmit) { form.requestSubmit(); } else { form.submit(); }
  });
})();
