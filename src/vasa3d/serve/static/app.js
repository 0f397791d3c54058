// vasa3d serve: the page. Plain JS, no build step, no third-party code.
"use strict";
const TOKEN = new URLSearchParams(location.search).get("token") || "";
const $ = (id) => document.getElementById(id);
const state = { avatar: null, session: null, pc: null, ws: null, mic: null, view: { yaw: 0, pitch: 0, distance: 1 },
                jobTimer: null, frames: 0, lastFrames: 0 };

function showError(message) {
  const box = $("error");
  box.textContent = String(message).split("\n")[0];
  box.hidden = false;
  clearTimeout(showError.timer);
  showError.timer = setTimeout(() => { box.hidden = true; }, 10000);
}

async function api(method, path, body, contentType) {
  const headers = {};
  if (TOKEN) headers.Authorization = "Bearer " + TOKEN;
  let payload = body;
  if (body !== undefined && !contentType) { headers["Content-Type"] = "application/json"; payload = JSON.stringify(body); }
  if (contentType) headers["Content-Type"] = contentType;
  const response = await fetch(path, { method, headers, body: payload });
  let data = {};
  try { data = await response.json(); } catch (e) { data = {}; }
  if (!response.ok) throw new Error(data.error || (response.status + " " + response.statusText));
  return data;
}
const withToken = (path) => TOKEN ? path + (path.includes("?") ? "&" : "?") + "token=" + encodeURIComponent(TOKEN) : path;

// ------------------------------------------------------------------ avatars
async function loadAvatars(select) {
  const { avatars } = await api("GET", "/api/avatars");
  const list = $("avatars");
  list.textContent = "";
  if (!avatars.length) { const li = document.createElement("li"); li.textContent = "No avatars yet: create one below."; list.append(li); }
  for (const a of avatars) {
    const li = document.createElement("li");
    li.textContent = a.id;
    li.dataset.id = a.id;
    li.title = (a.bytes / 1e6).toFixed(1) + " MB";
    li.onclick = () => selectAvatar(a.id);
    list.append(li);
  }
  if (select) selectAvatar(select);
  else if (state.avatar && avatars.some((a) => a.id === state.avatar)) selectAvatar(state.avatar);
}
function selectAvatar(id) {
  state.avatar = id;
  for (const li of $("avatars").children) li.classList.toggle("selected", li.dataset.id === id);
  $("talk").disabled = !id;
}

// ------------------------------------------------------------------ creation jobs
function fmtTime(s) { if (s == null || !isFinite(s)) return "…"; s = Math.round(s); return s >= 60 ? Math.floor(s / 60) + " min " + (s % 60) + " s" : s + " s"; }
async function loadJobs() {
  const { jobs } = await api("GET", "/api/jobs");
  const list = $("jobs");
  list.textContent = "";
  let active = false;
  for (const job of jobs.slice(0, 8)) {
    const li = document.createElement("li");
    li.className = "job";
    li.dataset.id = job.id;
    li.dataset.state = job.state;
    const img = document.createElement("img");
    if (job.preview) img.src = withToken(`/api/jobs/${job.id}/preview.jpg?t=${Date.now()}`);
    const info = document.createElement("div");
    const p = job.progress;
    let line = `<b>${job.name}</b> · ${job.preset} · <span class="state">${job.state}</span>`;
    if (job.state === "running" && p) {
      const frac = p.total ? p.done / p.total : 0;
      line += `<div class="meta">${p.stage}${p.total ? ` ${p.done}/${p.total}` : ""} · eta ${fmtTime(p.eta)}</div>` +
              `<progress max="1" value="${p.total ? frac : ""}"></progress>`;
    }
    if (job.state === "failed") line += `<div class="meta">${job.error}</div>`;
    if (job.state === "done") line += `<div class="meta">avatar “${job.avatar}” is ready</div>`;
    info.innerHTML = line;
    if (job.state === "queued" || job.state === "running") {
      active = true;
      const cancel = document.createElement("button");
      cancel.textContent = "Cancel";
      cancel.className = "cancel";
      cancel.onclick = () => api("POST", `/api/jobs/${job.id}/cancel`).then(loadJobs).catch(showError);
      info.append(cancel);
    }
    li.append(img, info);
    list.append(li);
  }
  const wasActive = state.jobsActive;
  state.jobsActive = active;
  if (wasActive && !active) await loadAvatars(jobs[0] && jobs[0].avatar);
  clearTimeout(state.jobTimer);
  state.jobTimer = setTimeout(() => loadJobs().catch(showError), active ? 1000 : 10000);
}
$("create").onsubmit = async (event) => {
  event.preventDefault();
  const file = $("photo").files[0];
  if (!file) return showError("choose a photo first");
  const name = $("name").value.trim() || file.name.replace(/\.[^.]*$/, "");
  $("create-btn").disabled = true;
  try {
    await api("POST", `/api/avatars?preset=${encodeURIComponent($("preset").value)}&name=${encodeURIComponent(name)}`,
              file, file.type || "application/octet-stream");
    state.jobsActive = true;
    await loadJobs();
  } catch (e) { showError(e.message); } finally { $("create-btn").disabled = false; }
};

// ------------------------------------------------------------------ live session
async function waitForIce(pc) {
  if (pc.iceGatheringState === "complete") return;
  await new Promise((resolve) => {
    const done = () => { if (pc.iceGatheringState === "complete") resolve(); };
    pc.addEventListener("icegatheringstatechange", done);
    setTimeout(resolve, 3000);
  });
}
async function startLive() {
  if (!state.avatar) return;
  await endLive();
  $("talk").disabled = true;
  $("status").textContent = "starting…";
  try {
    const session = await api("POST", "/api/sessions", { avatar: state.avatar });
    state.session = session.id;
    document.body.dataset.session = session.id;
    const pc = new RTCPeerConnection();
    state.pc = pc;
    pc.addTransceiver("video", { direction: "recvonly" });
    state.audioTx = pc.addTransceiver("audio", { direction: "sendrecv" });
    const remote = new MediaStream();
    pc.ontrack = (e) => {
      // play as soon as frames arrive: the server paces them already, so the browser's default
      // jitter buffer would only add latency (jitterBufferTarget; playoutDelayHint in older Chromium)
      if ("jitterBufferTarget" in e.receiver) e.receiver.jitterBufferTarget = 0;
      else if ("playoutDelayHint" in e.receiver) e.receiver.playoutDelayHint = 0;
      remote.addTrack(e.track);
      $("video").srcObject = remote;
      if (!state.counting) { state.counting = true; countFrames(); }
    };
    pc.onconnectionstatechange = () => {
      $("status").textContent = "live: " + pc.connectionState;
      if (pc.connectionState === "failed") showError("the live connection failed (WebRTC); see docs/serve.md on networks");
    };
    await pc.setLocalDescription(await pc.createOffer());
    await waitForIce(pc);
    const answer = await api("POST", `/api/sessions/${session.id}/offer`, { type: "offer", sdp: pc.localDescription.sdp });
    await pc.setRemoteDescription(answer);
    if ($("mic").checked) await setMic(true);
    openSocket(session.id);
    $("live").classList.remove("disabled");
    $("hint").hidden = true;
    $("download").href = withToken(`/api/sessions/${session.id}/recording.mp4`);
    document.body.dataset.live = "1";
  } catch (e) {
    showError(e.message);
    $("status").textContent = "";
    await endLive();
  } finally { $("talk").disabled = !state.avatar; }
}
function openSocket(id) {
  const proto = location.protocol === "https:" ? "wss" : "ws";
  const ws = new WebSocket(withToken(`${proto}://${location.host}/api/sessions/${id}/ws`));
  state.ws = ws;
  ws.onmessage = (event) => {
    const msg = JSON.parse(event.data);
    if (msg.type === "error") showError(msg.error);
    if (msg.type === "stats") showStats(msg);
  };
}
function showStats(s) {
  const lat = s.latency_ms || {};
  const shown = state.frames - state.lastFrames;
  state.lastFrames = state.frames;
  const num = (x, d = 0) => (x == null || !isFinite(x) ? "–" : Number(x).toFixed(d));
  $("stats").textContent = `engine ${num(s.fps, 1)} fps · shown ${shown} fps · ${s.size}px · latency ${num(lat.median)} ms` +
    ` (p95 ${num(lat.p95)}) · dropped ${s.dropped ?? 0}` + (s.speaking ? " · speaking" : "");
}
function countFrames() {
  const video = $("video");
  if (!video.requestVideoFrameCallback) return;
  const tick = () => { state.frames += 1; video.requestVideoFrameCallback(tick); };
  video.requestVideoFrameCallback(tick);
}
async function endLive() {
  const id = state.session;
  state.session = null;
  delete document.body.dataset.live;
  if (state.ws) { state.ws.close(); state.ws = null; }
  if (state.mic) { state.mic.getTracks().forEach((t) => t.stop()); state.mic = null; }
  if (state.pc) { state.pc.close(); state.pc = null; }
  $("live").classList.add("disabled");
  $("hint").hidden = false;
  if (id) { try { await api("DELETE", `/api/sessions/${id}`); } catch (e) { /* it may have timed out */ } }
}
async function setMic(on) {
  if (!state.audioTx) return;
  if (on) {
    state.mic = await navigator.mediaDevices.getUserMedia({ audio: { echoCancellation: true, noiseSuppression: false, autoGainControl: false } });
    await state.audioTx.sender.replaceTrack(state.mic.getAudioTracks()[0]);
  } else {
    await state.audioTx.sender.replaceTrack(null);
    if (state.mic) { state.mic.getTracks().forEach((t) => t.stop()); state.mic = null; }
  }
}
$("talk").onclick = () => startLive();
$("end").onclick = () => endLive().then(() => { $("status").textContent = ""; });
$("mic").onchange = (e) => setMic(e.target.checked).catch((err) => { e.target.checked = false; showError("microphone: " + err.message); });
$("audio").onchange = async (e) => {
  const file = e.target.files[0];
  if (!file || !state.session) return;
  try { await api("POST", `/api/sessions/${state.session}/audio`, file, file.type || "application/octet-stream"); }
  catch (err) { showError(err.message); } finally { e.target.value = ""; }
};
$("say").onsubmit = async (e) => {
  e.preventDefault();
  const text = $("text").value.trim();
  if (!text || !state.session) return;
  try { await api("POST", `/api/sessions/${state.session}/say`, { text }); } catch (err) { showError(err.message); }
};
$("interrupt").onclick = () => state.session && api("POST", `/api/sessions/${state.session}/interrupt`).catch((e) => showError(e.message));

// ------------------------------------------------------------------ controls: sliders, drag to orbit, scroll to zoom
let pending = {}, sendTimer = null;
function control(values) {
  Object.assign(pending, values);
  if (sendTimer) return;
  sendTimer = setTimeout(() => {
    const body = pending; pending = {}; sendTimer = null;
    if (state.session) api("POST", `/api/sessions/${state.session}/controls`, body).catch((e) => showError(e.message));
  }, 50);
}
$("emotion").onchange = (e) => control({ emotion: e.target.value });
for (const id of ["emotion_intensity", "motion_intensity"]) $(id).oninput = (e) => control({ [id]: Number(e.target.value) });
for (const id of ["gaze_x", "gaze_y"]) $(id).oninput = () => control({ gaze: [Number($("gaze_x").value), Number($("gaze_y").value)] });
$("reset-view").onclick = () => { state.view = { yaw: 0, pitch: 0, distance: 1 }; control(state.view); };
const viewer = $("viewer");
let drag = null;
viewer.addEventListener("pointerdown", (e) => { drag = { x: e.clientX, y: e.clientY, ...state.view }; viewer.setPointerCapture(e.pointerId); });
viewer.addEventListener("pointermove", (e) => {
  if (!drag) return;
  const clamp = (v, lo, hi) => Math.max(lo, Math.min(hi, v));
  state.view.yaw = clamp(drag.yaw + (e.clientX - drag.x) * 0.25, -60, 60);
  state.view.pitch = clamp(drag.pitch + (e.clientY - drag.y) * 0.15, -30, 30);
  control({ yaw: state.view.yaw, pitch: state.view.pitch });
});
viewer.addEventListener("pointerup", () => { drag = null; });
viewer.addEventListener("wheel", (e) => {
  e.preventDefault();
  state.view.distance = Math.max(0.6, Math.min(2.0, state.view.distance * Math.exp(e.deltaY * 0.001)));
  control({ distance: state.view.distance });
}, { passive: false });
window.addEventListener("pagehide", () => {
  if (!state.session) return;
  const headers = TOKEN ? { Authorization: "Bearer " + TOKEN } : {};
  fetch(`/api/sessions/${state.session}`, { method: "DELETE", headers, keepalive: true });
});

loadAvatars().catch((e) => showError(e.message));
loadJobs().catch((e) => showError(e.message));
