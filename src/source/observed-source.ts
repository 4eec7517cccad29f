/**
 * A source that tells a run observer about its searches (src/observe/events.ts): each one when it ends, with
 * its entry count, time and `ldapsearch` line, and progress while it streams. Entries themselves never leave.
 */
import type { RunObserver } from '../observe/events.js';
import { NO_OBSERVER } from '../observe/events.js';
import type { LdapEntry } from './entry.js';
import type { SearchRequest, Source } from './source.js';

/** Entries between two progress events. */
const PROGRESS_EVERY = 500;

/** `source`, watched by `observer` (itself when nobody watches). Progress counts entries over all searches. */
export function observeSource(source: Source, observer: RunObserver): Source {
  if (observer === NO_OBSERVER) return source;
  let readSoFar = 0;
  return {
    description: source.description,
    commandLine: (request) => source.commandLine(request),
    // What the source learnt while searching (a smaller page size that worked) reaches the plan through the wrapper.
    warnings: () => source.warnings?.() ?? [],
    close: () => source.close(),
    async *search(request: SearchRequest): AsyncIterable<LdapEntry> {
      const started = performance.now();
      let entries = 0;
      for await (const entry of source.search(request)) {
        entries += 1;
        readSoFar += 1;
        if (readSoFar % PROGRESS_EVERY === 0) observer.emit({ type: 'progress', stage: 'source', done: readSoFar });
        yield entry;
      }
      observer.emit({
        type: 'search',
        source: source.description,
        base: request.base,
        scope: request.scope,
        filter: request.filter,
        attributes: request.attributes,
        ldapsearch: source.commandLine(request),
        entries,
        ms: performance.now() - started,
      });
    },
  };
}
