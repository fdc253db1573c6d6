// Parse Mermaid diagrams with the real Mermaid parser, headless.
//
//   node check.mjs < diagram.mmd        one diagram on stdin
//   node check.mjs --batch < list.json  a JSON array of diagram texts
//
// Prints, as JSON, what the parser understood: the diagram type, the direction, the
// states (the name and lines their box shows, note, classes) and the relations (from,
// to, label), so that tests also catch text that parses but means something else.
// One diagram: exits 1 with the parser's message on stderr when it is invalid.
// Batch: prints one result per diagram, {ok, summary} or {ok, error}, and exits 1
// when any is invalid.
//
// Mermaid 11 needs a DOM for DOMPurify, which it sets up on import: jsdom provides
// one. (Mermaid 12 needs Node >= 22; 11.x runs on Node 20.)
import { JSDOM } from "jsdom";

const { window } = new JSDOM("");
globalThis.window = window;
globalThis.document = window.document;
const { default: mermaid } = await import("mermaid");

function endpoint(id) {
  // Mermaid names each [*] root_start / root_end (with a suffix when repeated)
  return /^root_(start|end)/.test(id) ? "[*]" : id;
}

function noteText(note) {
  if (!note) return null;
  return note.text
    .split("\n")
    .map((line) => line.trim())
    .filter((line) => line.length > 0)
    .join("\n");
}

async function summarise(text) {
  const parsed = await mermaid.parse(text);
  if (parsed.diagramType !== "stateDiagram") {
    return { diagramType: parsed.diagramType };
  }
  // the parser's model, as the renderer gets it: not public API, pinned by package-lock.json
  const diagram = await mermaid.mermaidAPI.getDiagramFromText(text);
  const db = diagram.db;
  const known = db.getStates();
  const states = {};
  for (const node of db.getData().nodes) {
    if (!known.has(node.id) || endpoint(node.id) === "[*]") continue;
    const label = Array.isArray(node.label) ? node.label.join("\n") : node.label;
    states[node.id] = {
      label, // what the box shows as its name (or its only text)
      rows: node.description ?? [], // the lines shown under the name
      note: noteText(known.get(node.id).note),
      classes: known.get(node.id).classes ?? [],
    };
  }
  const relations = db
    .getRelations()
    .map((r) => [endpoint(r.id1), endpoint(r.id2), r.relationTitle ?? ""]);
  return { diagramType: parsed.diagramType, direction: db.getDirection(), states, relations };
}

function message(error) {
  return error && error.message ? error.message : String(error);
}

let input = "";
for await (const chunk of process.stdin) input += chunk;

if (process.argv.includes("--batch")) {
  const results = [];
  for (const text of JSON.parse(input)) {
    try {
      results.push({ ok: true, summary: await summarise(text) });
    } catch (error) {
      results.push({ ok: false, error: message(error) });
    }
  }
  process.stdout.write(JSON.stringify(results) + "\n");
  process.exitCode = results.every((r) => r.ok) ? 0 : 1;
} else {
  try {
    process.stdout.write(JSON.stringify(await summarise(input)) + "\n");
  } catch (error) {
    process.stderr.write(message(error) + "\n");
    process.exitCode = 1;
  }
}
