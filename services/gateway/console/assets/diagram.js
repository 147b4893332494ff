// The console's diagram view: bpmn-js's navigated viewer (pan and zoom, no editing) with the
// console's own markers and overlays. Bundled by `make assets` (esbuild, from package-lock.json)
// into ../static/diagram.bundle.js and diagram.bundle.css; no script comes from a CDN.
//
// A page asks for a diagram with an element such as
//   <div class="diagram" data-diagram-src="/console/…/diagram.xml" data-diagram-marks="marks-id"></div>
// (or data-diagram-xml="xml-id" naming a <script type="application/json"> holding the XML string)
//   <script type="application/json" id="marks-id">{"markers": {"Task_1": ["token"]},
//     "overlays": [{"element": "Task_1", "text": "2", "class": "count", "position": "top-right"}]}</script>
// (JSON data, never executed: the console's Content-Security-Policy allows scripts from itself only).
// Markers become CSS classes on the element (styled in console.css: token, incident, done, problem,
// added, changed, removed, covered); overlays are small text badges placed on the element.
import NavigatedViewer from "bpmn-js/lib/NavigatedViewer";
import "bpmn-js/dist/assets/diagram-js.css";
import "bpmn-js/dist/assets/bpmn-js.css";
import "bpmn-js/dist/assets/bpmn-font/css/bpmn-embedded.css";

const POSITIONS = {
  "top-right": { top: -10, right: 10 },
  "top-left": { top: -10, left: -10 },
  "bottom-right": { bottom: 10, right: 10 },
  "bottom-left": { bottom: 10, left: -10 },
};

function readMarks(container) {
  const id = container.dataset.diagramMarks;
  const node = id && document.getElementById(id);
  if (!node) return { markers: {}, overlays: [] };
  try {
    const marks = JSON.parse(node.textContent);
    return { markers: marks.markers || {}, overlays: marks.overlays || [] };
  } catch (error) {
    return { markers: {}, overlays: [] };
  }
}

function report(container, message) {
  const note = document.createElement("p");
  note.className = "diagram-error";
  note.setAttribute("role", "alert");
  note.textContent = message;
  container.appendChild(note);
}

export async function show(container, xml, marks) {
  const viewer = new NavigatedViewer({ container });
  const { warnings } = await viewer.importXML(xml);
  const canvas = viewer.get("canvas");
  const registry = viewer.get("elementRegistry");
  const overlays = viewer.get("overlays");
  for (const [element, classes] of Object.entries(marks.markers || {})) {
    if (!registry.get(element)) continue;
    for (const name of [].concat(classes)) canvas.addMarker(element, name);
  }
  for (const overlay of marks.overlays || []) {
    if (!registry.get(overlay.element)) continue;
    const badge = document.createElement("span");
    badge.className = "diagram-badge " + (overlay.class || "");
    badge.textContent = overlay.text;
    if (overlay.title) badge.title = overlay.title;
    overlays.add(overlay.element, { position: POSITIONS[overlay.position] || POSITIONS["top-right"], html: badge });
  }
  canvas.zoom("fit-viewport");
  container.dataset.diagramReady = "true";
  container.dataset.diagramWarnings = String(warnings.length);
  return viewer;
}

// The XML from the page itself (data-diagram-xml: the id of a JSON string, for a diagram that is
// not stored, e.g. an upload the deploy refused) or from the console (data-diagram-src).
async function readXml(container) {
  const inline = container.dataset.diagramXml && document.getElementById(container.dataset.diagramXml);
  if (inline) return JSON.parse(inline.textContent);
  const response = await fetch(container.dataset.diagramSrc, { credentials: "same-origin" });
  if (!response.ok) throw new Error(response.status + " " + response.statusText);
  return response.text();
}

async function load(container) {
  try {
    await show(container, await readXml(container), readMarks(container));
  } catch (error) {
    container.dataset.diagramReady = "error";
    report(container, container.dataset.diagramFailed || String(error));
  }
}

window.ztcDiagram = { show };
document.addEventListener("DOMContentLoaded", () => {
  for (const container of document.querySelectorAll("[data-diagram-src], [data-diagram-xml]")) load(container);
});
