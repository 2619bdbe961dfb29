// Loads a Yjs v1 update written by `hearth export --format yjs` with the reference JavaScript
// implementation and prints what it contains as JSON.
import { readFileSync } from 'node:fs';
import * as Y from 'yjs';

const doc = new Y.Doc();
Y.applyUpdate(doc, new Uint8Array(readFileSync(process.argv[2])));
const meta = doc.getMap('meta').toJSON();
const messages = doc.getArray('messages').toJSON();
console.log(JSON.stringify({ meta, messages }));
