// Rebuilds assets/embedded/moodle-4.5.tar.gz for the installed PGlite: `npm run build:snapshot`.
import { SNAPSHOT_FILE, writeShippedSnapshot } from '../src/moodle/dialects/embedded-snapshot.js';

const started = Date.now();
await writeShippedSnapshot();
process.stderr.write(`wrote ${SNAPSHOT_FILE} in ${Date.now() - started} ms\n`);
